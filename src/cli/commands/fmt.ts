import type { Command } from 'commander';

// Placeholder until the 'fmt' command is built; replaced by its owner.
export function registerFmt(program: Command): void {
  program
    .command('fmt')
    .description('print a schema in canonical form')
    .allowUnknownOption()
    .action(() => {
      process.stderr.write('permify fmt: not available yet\n');
      process.exitCode = 1;
    });
}
