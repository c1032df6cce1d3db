/**
 * Schema compile benchmark: generates a schema of 200 entities, each with 20 members (relations, attributes
 * and permissions, including walks, boolean attributes and rule calls), compiles it repeatedly and prints
 * schemas/s and ms per compile. Also times parse alone, printSchema and a recompile of printDefinitions.
 *
 *   npx tsx bench/compile.ts [--entities 200] [--members 20] [--iterations 50]
 */
import { compileSchema, parseSchema, printDefinitions, printSchema } from '../src/language/index.js';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

function letters(i: number): string {
  let s = '';
  let n = i;
  do {
    s += String.fromCharCode(97 + (n % 26));
    n = Math.floor(n / 26);
  } while (n > 0);
  return s;
}

/** 200 x 20 by default: 8 relations, 4 attributes, 8 permissions per entity. */
export function generateCompileSchema(entityCount: number, memberCount: number): string {
  const out: string[] = ['entity user {}'];
  const relations = Math.max(2, Math.floor(memberCount * 0.4));
  const attributes = Math.max(1, Math.floor(memberCount * 0.2));
  const permissions = Math.max(1, memberCount - relations - attributes);
  for (let e = 0; e < entityCount; e++) {
    const lines: string[] = [];
    const parent = e > 0 ? `ent_${letters(e - 1)}` : 'user';
    lines.push(`relation parent @${parent}`);
    for (let r = 1; r < relations; r++) lines.push(`relation rel_${letters(r)} @user @ent_${letters(e)}#parent`);
    lines.push('attribute public boolean');
    lines.push('attribute level integer');
    for (let a = 2; a < attributes; a++) lines.push(`attribute attr_${letters(a)} string[]`);
    for (let p = 0; p < permissions; p++) {
      const walk = e > 0 ? ' or parent.perm_a' : '';
      const a = `rel_${letters(1 + (p % (relations - 1)))}`;
      const b = `rel_${letters(1 + ((p + 1) % (relations - 1)))}`;
      const prev = p > 0 ? ` or perm_${letters(p - 1)}` : '';
      lines.push(`permission perm_${letters(p)} = (${a} and ${b}) or public not level_ok(level)${walk}${prev}`);
    }
    out.push(`entity ent_${letters(e)} {\n    ${lines.join('\n    ')}\n}`);
  }
  out.push('rule level_ok(level integer) {\n    level > 3 && context.data.limit >= 1.5\n}');
  return out.join('\n\n');
}

function time(iterations: number, f: () => void): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) f();
  return Number(process.hrtime.bigint() - start) / 1e6 / iterations;
}

const entities = option('entities', 200);
const members = option('members', 20);
const iterations = option('iterations', 50);
const text = generateCompileSchema(entities, members);
const schema = compileSchema(text);
for (let i = 0; i < 5; i++) compileSchema(text); // warm-up

const parseMs = time(iterations, () => parseSchema(text));
const compileMs = time(iterations, () => compileSchema(text));
const printMs = time(iterations, () => printSchema(schema));
const joined = printDefinitions(schema)
  .map((r) => r.definition)
  .join('\n');
const recompileMs = time(iterations, () => compileSchema(joined, { validateReferences: false }));

process.stdout.write(
  [
    `schema: ${entities} entities x ${members} members, ${(text.length / 1024).toFixed(0)} KiB, ${iterations} iterations`,
    `parse:            ${parseMs.toFixed(2)} ms`,
    `compile:          ${compileMs.toFixed(2)} ms per compile, ${(1000 / compileMs).toFixed(1)} schemas/s`,
    `printSchema:      ${printMs.toFixed(2)} ms`,
    `recompile stored: ${recompileMs.toFixed(2)} ms (printDefinitions joined, no reference validation)`,
    '',
  ].join('\n'),
);
