import type { Command } from 'commander';

// Placeholder until the 'migrate' command is built; replaced by its owner.
export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('run database migrations')
    .allowUnknownOption()
    .action(() => {
      process.stderr.write('permify migrate: not available yet\n');
      process.exitCode = 1;
    });
}
