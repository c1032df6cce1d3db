import type { Command } from 'commander';
import { validateCommand } from '../../development/commands.js';
import { createDefaultToolkit } from '../../development/toolkit.js';

/** `permify validate FILE|URL...`: runs validation files (spec §7.2); exit code 1 if any fails. */
export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('validate authorization models against validation files (paths or http(s) URLs)')
    .argument('<files...>', 'validation files or URLs')
    .action(async (files: string[]) => {
      process.exitCode = await validateCommand(files, stdio(), createDefaultToolkit());
    });
}

export function stdio(): { out: (line: string) => void; err: (line: string) => void } {
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  };
}
