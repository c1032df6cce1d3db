import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSchema, printDefinitions, printSchema, schemaToJson } from '../../src/language/index.js';

/** A small deterministic PRNG so one fast-check integer describes a whole random schema. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const types = ['boolean', 'string', 'integer', 'double'] as const;

/**
 * Boolean CEL conditions over an integer parameter, covering every literal form a verbatim body must survive:
 * double/single/triple-quoted and raw strings, `""`, braces inside strings, map and list literals.
 */
const conditions: readonly ((p: string) => string)[] = [
  (p) => `${p} > 3`,
  () => 'context.data.limit >= 1.5',
  () => 'context.data.tier != "production"',
  () => 'context.data.label != ""',
  () => "context.data.name != 'a}b{'",
  () => 'context.data.note != """x "}" y"""',
  () => "context.data.note != '''it's'''",
  () => 'context.data.pattern != r"\\d+}"',
  () => 'context.data.quote != "\\"}"',
  (p) => `{"k": ${p}}["k"] == ${p}`,
  (p) => `(${p} in [1, 2, 3] || size({'a': 1, "b": 2}) == 2)`,
];

/** A rule body with braces: one line or several, with or without `//` comments (some containing `}`). */
function ruleBody(rnd: () => number, param: string): string {
  const count = 1 + Math.floor(rnd() * 3);
  const parts = Array.from({ length: count }, () => {
    const c = conditions[Math.floor(rnd() * conditions.length)] as (p: string) => string;
    return c(param);
  });
  if (rnd() < 0.3) return `{ ${parts.join(' && ')} }`;
  const comment = () => (rnd() < 0.3 ? ` // note ${rnd() < 0.5 ? '}' : "it's"}` : '');
  const lines = parts.map((p, i) => `${p}${i < parts.length - 1 ? ' &&' : ''}${comment()}`);
  if (rnd() < 0.2) lines.unshift('// leading comment {');
  return `{\n    ${lines.join('\n    ')}\n}`;
}

/** Generates a valid schema text with random members, expressions, formatting and rules. */
function randomSchema(seed: number): string {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const name = (i: number, prefix: string) =>
    prefix + String.fromCharCode(97 + (i % 26)).repeat(1 + Math.floor(i / 26));
  const entityCount = 1 + Math.floor(rnd() * 5);
  const entities = Array.from({ length: entityCount }, (_, i) => name(i, 'e_'));
  const out: string[] = ['entity user {}'];
  const rules: string[] = [];
  entities.forEach((entity, ei) => {
    const members: string[] = ['relation owner @user'];
    const operands: string[] = ['owner'];
    const relCount = Math.floor(rnd() * 4);
    for (let r = 0; r < relCount; r++) {
      const rel = name(r, 'rel_');
      const targets = Array.from({ length: 1 + Math.floor(rnd() * 2) }, () =>
        ei > 0 && rnd() < 0.5 ? `@${pick(entities.slice(0, ei))}` : rnd() < 0.5 ? '@user' : `@${entity}#owner`,
      );
      members.push(`relation ${rel} ${targets.join(' ')}`);
      operands.push(rel);
      if (targets.every((t) => !t.startsWith('@user') && !t.includes('#'))) operands.push(`${rel}.owner`);
    }
    const attrCount = Math.floor(rnd() * 3);
    for (let a = 0; a < attrCount; a++) {
      const attr = name(a, 'attr_');
      const type = pick(types) + (rnd() < 0.3 ? '[]' : '');
      members.push(`attribute ${attr} ${type}`);
      if (type === 'boolean') operands.push(attr);
      if (type === 'integer') {
        const rule = `rule_${name(ei, '')}_${name(a, '')}`;
        rules.push(`rule ${rule}(${attr} integer) ${ruleBody(rnd, attr)}`);
        operands.push(`${rule}(${attr})`);
      }
    }
    const permCount = Math.floor(rnd() * 4);
    for (let p = 0; p < permCount; p++) {
      const expr = (depth: number): string => {
        if (depth > 3 || rnd() < 0.35) return pick(operands);
        const op = pick(['or', 'and', 'not']);
        const left = expr(depth + 1);
        const right = expr(depth + 1);
        const text = `${left} ${op}${rnd() < 0.2 ? '\n       ' : ''} ${right}`;
        return rnd() < 0.5 ? `(${text})` : text;
      };
      const perm = name(p, 'perm_');
      members.push(`${rnd() < 0.2 ? 'action' : 'permission'} ${perm} = ${expr(0)}`);
      operands.push(perm);
    }
    const order = members.sort(() => rnd() - 0.5);
    const sep = rnd() < 0.2 ? '; ' : '\n    ';
    out.push(`entity ${entity} {${sep}${order.join(sep)}\n}`);
  });
  return [...out, ...rules].join(rnd() < 0.5 ? '\n\n' : '\n');
}

describe('print/compile round trip (property)', () => {
  it('the generator covers walks, rule calls, attributes and every operator', () => {
    const all = Array.from({ length: 60 }, (_, i) => JSON.stringify(schemaToJson(compileSchema(randomSchema(i)))));
    for (const needle of ['tuple-to-user-set', '"call"', 'computed-attribute', 'union', 'intersection', 'exclusion']) {
      expect(all.some((j) => j.includes(needle))).toBe(true);
    }
    const texts = Array.from({ length: 60 }, (_, i) => randomSchema(i));
    for (const needle of ['!= ""', '"""', "'''", 'r"', '// note }', '{"k"', ') { ']) {
      expect(texts.some((t) => t.includes(needle))).toBe(true);
    }
  });
  it('random valid schemas compile, and their printed forms compile to equal models', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const text = randomSchema(seed);
        const schema = compileSchema(text);
        const json = schemaToJson(schema);
        const printed = printSchema(schema);
        expect(schemaToJson(compileSchema(printed))).toEqual(json);
        expect(printSchema(compileSchema(printed))).toBe(printed);
        const joined = printDefinitions(schema)
          .map((r) => r.definition)
          .join('\n');
        expect(schemaToJson(compileSchema(joined, { validateReferences: false }))).toEqual(json);
      }),
      { numRuns: 200, seed: 7 },
    );
  });
});
