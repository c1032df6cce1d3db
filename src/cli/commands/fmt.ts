import type { Command } from 'commander';
import { compileSchema, parseSchema, printSchema } from '../../language/index.js';
import { unifiedDiff } from '../unified-diff.js';
import { readSchemaSource } from './ast.js';

/**
 * Puts back the blank lines that separated groups of declarations inside an entity in `source` (one blank
 * line wherever the source had at least one above a member, comments in between notwithstanding). The
 * canonical printer lists members in source order, one per line, so the n-th member line of an entity in
 * `canonical` is the n-th member of that entity in the source.
 */
function keepBlankLines(canonical: string, source: string): string {
  const sourceLines = source.split('\n');
  const blankAbove = new Map<string, boolean[]>();
  for (const st of parseSchema(source).statements) {
    if (st.kind !== 'entity') continue;
    blankAbove.set(
      st.name.value,
      st.members.map((m, i) => {
        if (i === 0) return false;
        for (let l = m.name.line - 2; l >= 0; l--) {
          const t = (sourceLines[l] ?? '').trim();
          if (t === '') return true;
          if (!t.startsWith('//')) return false;
        }
        return false;
      }),
    );
  }
  const out: string[] = [];
  let flags: boolean[] | undefined;
  let member = 0;
  for (const line of canonical.split('\n')) {
    const entity = /^entity (\S+) \{$/.exec(line);
    if (entity) {
      flags = blankAbove.get(entity[1]!);
      member = 0;
    } else if (flags !== undefined && line.startsWith('    ')) {
      if (flags[member] === true) out.push('');
      member++;
    } else if (line === '}') flags = undefined;
    out.push(line);
  }
  return out.join('\n');
}

/** `permify fmt FILE|URL [--check]`: canonical schema text; --check prints a unified diff and exits 1 when not canonical. */
export function registerFmt(program: Command): void {
  program
    .command('fmt')
    .description('print a schema in canonical form (blank lines between groups of declarations are kept)')
    .argument('<file>', 'schema file or validation file (path or http(s) URL)')
    .option('--check', 'print a unified diff and exit with status 1 if the schema is not already in canonical form')
    .action(async (file: string, options: { check?: boolean }) => {
      const { text, isYaml } = await readSchemaSource(file);
      const canonical = keepBlankLines(printSchema(compileSchema(text)), text);
      if (options.check === true) {
        // A validation file's schema is compared without its surrounding whitespace (YAML block scalars).
        const current = isYaml ? `${text.trim()}\n` : text;
        const diff = unifiedDiff(current, canonical, file, `${file} (formatted)`);
        if (diff !== '') {
          process.stdout.write(diff);
          process.stderr.write(`${file}: not in canonical form\n`);
          process.exitCode = 1;
        }
        return;
      }
      process.stdout.write(canonical);
    });
}
