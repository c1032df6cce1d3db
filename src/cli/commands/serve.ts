import type { Command } from 'commander';

// Placeholder until the 'serve' command is built; replaced by its owner.
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('start the server (gRPC and REST)')
    .allowUnknownOption()
    .action(() => {
      process.stderr.write('permify serve: not available yet\n');
      process.exitCode = 1;
    });
}
