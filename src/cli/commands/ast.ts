import type { Command } from 'commander';
import { loadSchemaSource } from '../../development/validation-file.js';
import { compileSchema, parseSchema, schemaToJson } from '../../language/index.js';

/**
 * Reads schema text from a schema file or from the `schema:` field of a validation YAML file (`.yaml`/`.yml`),
 * local or http(s); the field may itself be inline text, a relative path or a URL, as for `permify validate`.
 * @throws PermifyError ERROR_CODE_INVALID_ARGUMENT when the file cannot be read or has no string `schema` key.
 */
export function readSchemaSource(location: string): Promise<{ text: string; isYaml: boolean }> {
  return loadSchemaSource(location);
}

/** `permify ast FILE|URL [--pretty] [--syntax]`: the compiled schema (or, with --syntax, the syntax tree) as JSON. */
export function registerAst(program: Command): void {
  program
    .command('ast')
    .description('print a schema (a .perm file or a validation YAML file, path or URL) as JSON')
    .argument('<file>', 'schema file or validation file (path or http(s) URL)')
    .option('--pretty', 'indent the JSON')
    .option('--syntax', 'print the syntax tree with source positions instead of the compiled model')
    .action(async (file: string, options: { pretty?: boolean; syntax?: boolean }) => {
      const { text } = await readSchemaSource(file);
      const json = options.syntax === true ? parseSchema(text) : schemaToJson(compileSchema(text));
      process.stdout.write(`${JSON.stringify(json, null, options.pretty === true ? 2 : undefined)}\n`);
    });
}
