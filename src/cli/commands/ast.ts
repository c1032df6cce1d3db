import type { Command } from 'commander';

// Placeholder until the 'ast' command is built; replaced by its owner.
export function registerAst(program: Command): void {
  program
    .command('ast')
    .description('print a schema as JSON')
    .allowUnknownOption()
    .action(() => {
      process.stderr.write('permify ast: not available yet\n');
      process.exitCode = 1;
    });
}
