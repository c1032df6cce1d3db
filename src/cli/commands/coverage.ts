import type { Command } from 'commander';

// Placeholder until the 'coverage' command is built; replaced by its owner.
export function registerCoverage(program: Command): void {
  program
    .command('coverage')
    .description('report validation-file coverage')
    .allowUnknownOption()
    .action(() => {
      process.stderr.write('permify coverage: not available yet\n');
      process.exitCode = 1;
    });
}
