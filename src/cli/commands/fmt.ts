import type { Command } from 'commander';
import { compileSchema, printSchema } from '../../language/index.js';
import { readSchemaSource } from './ast.js';

/** `permify fmt FILE|URL [--check]`: canonical schema text; --check exits 1 when the file is not canonical. */
export function registerFmt(program: Command): void {
  program
    .command('fmt')
    .description('print a schema in canonical form')
    .argument('<file>', 'schema file or validation file (path or http(s) URL)')
    .option('--check', 'exit with status 1 if the schema is not already in canonical form')
    .action(async (file: string, options: { check?: boolean }) => {
      const { text, isYaml } = await readSchemaSource(file);
      const canonical = printSchema(compileSchema(text));
      if (options.check === true) {
        const same = isYaml ? text.trim() === canonical.trim() : text === canonical;
        if (!same) {
          process.stderr.write(`${file}: not in canonical form\n`);
          process.exitCode = 1;
        }
        return;
      }
      process.stdout.write(canonical);
    });
}
