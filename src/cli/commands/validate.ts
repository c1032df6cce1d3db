import type { Command } from 'commander';

// Placeholder until the 'validate' command is built; replaced by its owner.
export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('run validation files')
    .allowUnknownOption()
    .action(() => {
      process.stderr.write('permify validate: not available yet\n');
      process.exitCode = 1;
    });
}
