import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { PermifyError } from '../../errors.js';
import { compileSchema, parseSchema, schemaToJson } from '../../language/index.js';

/**
 * Reads schema text from a `.perm` file or from the `schema:` key of a validation YAML file (`.yaml`/`.yml`).
 * @throws PermifyError ERROR_CODE_VALIDATION when a YAML file has no string `schema` key.
 */
export function readSchemaSource(file: string): { text: string; isYaml: boolean } {
  const raw = readFileSync(file, 'utf8');
  if (!/\.ya?ml$/i.test(file)) return { text: raw, isYaml: false };
  const doc: unknown = parseYaml(raw);
  const schema = doc !== null && typeof doc === 'object' ? (doc as { schema?: unknown }).schema : undefined;
  if (typeof schema !== 'string') {
    throw new PermifyError('ERROR_CODE_VALIDATION', `${file}: no schema key found`);
  }
  return { text: schema, isYaml: true };
}

/** `permify ast FILE [--syntax]`: the compiled schema (or, with --syntax, the syntax tree) as JSON. */
export function registerAst(program: Command): void {
  program
    .command('ast')
    .description('print a schema (a .perm file or a validation YAML file) as JSON')
    .argument('<file>', 'schema file or validation file')
    .option('--syntax', 'print the syntax tree with source positions instead of the compiled model')
    .action((file: string, options: { syntax?: boolean }) => {
      const { text } = readSchemaSource(file);
      const json = options.syntax === true ? parseSchema(text) : schemaToJson(compileSchema(text));
      process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    });
}
