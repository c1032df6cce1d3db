/**
 * Rule bodies are taken verbatim from the source (a deliberate difference from Permify, which re-assembles them
 * from schema tokens): CEL string literals of every kind, comments, map literals and `}` inside strings work on
 * one line or many, while every body Permify accepts keeps its meaning.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { parse as parseCel } from '@marcbachmann/cel-js';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { AttributeValue, JsonValue } from '../../src/data/types.js';
import { PermifyError } from '../../src/errors.js';
import { compileSchema, parseSchema, printDefinitions, printSchema } from '../../src/language/index.js';
import { Lexer, decodeBytes, type Token } from '../../src/language/lexer.js';

function errorOf(f: () => unknown): PermifyError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PermifyError);
    return e as PermifyError;
  }
  throw new Error('expected an error');
}

function bodies(text: string): string[] {
  return parseSchema(text).statements.flatMap((s) => (s.kind === 'rule' ? [s.body] : []));
}

/** Evaluates rule `name` of `text` with string/boolean/integer arguments. */
function evaluate(
  text: string,
  name: string,
  args: Record<string, AttributeValue>,
  data: Record<string, JsonValue> = {},
): boolean {
  const rule = compileSchema(text).rules.get(name);
  if (rule === undefined) throw new Error(`no rule ${name}`);
  return rule.program.evaluate(new Map(Object.entries(args)), data);
}

const str = (value: string): AttributeValue => ({ type: 'string', value });

describe('rule bodies are taken verbatim', () => {
  it('double-quoted strings keep their quotes; "" is the empty string', () => {
    const text = `entity user {}\nrule r(tier string) {\n    tier != "production" && tier != ""\n}\n`;
    expect(bodies(text)).toEqual(['tier != "production" && tier != ""']);
    expect(evaluate(text, 'r', { tier: str('staging') })).toBe(true);
    expect(evaluate(text, 'r', { tier: str('production') })).toBe(false);
    expect(evaluate(text, 'r', { tier: str('') })).toBe(false);
  });

  it('one-line bodies keep their spaces', () => {
    const text = 'entity user {}\nrule r(x string, tags string[]) { x in tags }\nrule s(x string) {x == "a"}\n';
    expect(bodies(text)).toEqual(['x in tags', 'x == "a"']);
    expect(evaluate(text, 'r', { x: str('a'), tags: { type: 'string[]', value: ['a'] } })).toBe(true);
    expect(evaluate(text, 's', { x: str('a') })).toBe(true);
  });

  it('comments, map literals and braces inside strings of every kind', () => {
    const text = [
      'entity user {}',
      'rule r(x string) {',
      '    // a leading comment with a } brace',
      '    x != "}" && x != \'{\' && // trailing comment }',
      '    x != """a "}" b""" && x != \'\'\'}\'\'\' &&',
      '    x != r"\\d}" && x != "\\"}" &&',
      '    {"k": x}["k"] == x && {\'a\': {"b": [1, 2]}}.a.b[1] == 2',
      '}',
      'rule s(x string) { x.startsWith("}") } // a comment after the rule',
    ].join('\n');
    const [r, s] = bodies(text);
    expect(r).toBe(text.slice(text.indexOf('// a leading'), text.lastIndexOf('== 2') + 4));
    expect(s).toBe('x.startsWith("}")');
    expect(evaluate(text, 'r', { x: str('hello') })).toBe(true);
    expect(evaluate(text, 'r', { x: str('}') })).toBe(false);
    expect(evaluate(text, 'r', { x: str('\\d}') })).toBe(false);
    expect(evaluate(text, 'r', { x: str('a "}" b') })).toBe(false);
    expect(evaluate(text, 's', { x: str('}x') })).toBe(true);
  });

  it('a body that ends in a comment is printed so that the comment does not swallow the brace', () => {
    const text = 'entity user {}\nrule r(x integer) { x > 1 // positive\n}\n';
    const schema = compileSchema(text);
    expect(schema.rules.get('r')?.expression).toBe('x > 1 // positive');
    const printed = printSchema(schema);
    expect(printed).toBe('entity user {}\n\nrule r(x integer) {\n    x > 1 // positive\n}\n');
    expect(printSchema(compileSchema(printed))).toBe(printed);
    const joined = printDefinitions(schema)
      .map((d) => d.definition)
      .join('\n');
    expect(compileSchema(joined, { validateReferences: false }).rules.get('r')?.expression).toBe('x > 1 // positive');
  });

  it('statements after a body parse normally, with positions counted through the body', () => {
    const text = 'rule r(x string) {\n    x == "a"\n}\nentity user {}\nentity user {}\n';
    expect(errorOf(() => compileSchema(text)).message).toMatch(/^5:9:duplication found for user/);
  });

  it('EOF inside a body is a parse error; so is an unterminated string', () => {
    for (const text of [
      'entity user {}\nrule r(x integer) {\n    x > 1\n',
      'entity user {}\nrule r(x string) { x == "}',
    ]) {
      const e = errorOf(() => compileSchema(text));
      expect(e.code).toBe('ERROR_CODE_SCHEMA_PARSE');
      expect(e.message).toMatch(/expected next token to be RCB, got EOF instead$/);
    }
  });
});

describe('CEL errors point into the body', () => {
  it('an error on line 2 of a multi-line body is reported at its line and column', () => {
    const text = 'entity user {}\nrule r(x integer) {\n    x > 1 &&\n      y < 2\n}\n';
    const e = errorOf(() => compileSchema(text));
    expect(e.code).toBe('ERROR_CODE_SCHEMA_COMPILE');
    // `y` is on schema line 4 at byte offset 6 (columns are byte offset + 2, as for every other position).
    expect(e.message).toMatch(/^4:8: unknown variable: y$/);
    expect(e.details).toEqual({ line: 4, column: 8 });
  });

  it('one-line bodies, multi-byte text before the error, and an unbalanced parenthesis', () => {
    const oneLine = errorOf(() => compileSchema('entity user {}\nrule r(x integer) { x > 1 && z }\n'));
    expect(oneLine.message).toMatch(/^2:31: /);
    const utf8 = errorOf(() => compileSchema('entity user {}\nrule r(x string) {\n    x == "ü" && z\n}\n'));
    expect(utf8.message).toMatch(/^3:19: /);
    // The `}` closes the rule although `(` is open; CEL then reports the missing `)`, and the next statement parses.
    const open = errorOf(() => compileSchema('entity user {}\nrule r(x integer) {\n    (x > 1\n}\nentity doc {}\n'));
    expect(open.code).toBe('ERROR_CODE_SCHEMA_COMPILE');
    expect(open.details).toMatchObject({ line: expect.any(Number) as number });
  });
});

/**
 * Permify's body extraction (spec §2.7), kept here as an oracle: the tokens between `{` and `}` re-assembled as
 * the upstream parser does (blanks after `{` and after the first token dropped, the token before `}` dropped).
 */
function permifyBodies(text: string): string[] {
  const lexer = new Lexer(text);
  const blank = new Set(['SPACE', 'TAB', 'SINGLE_LINE_COMMENT', 'MULTI_LINE_COMMENT']);
  const significant = (): Token => {
    let t = lexer.nextNonBlankToken();
    while (blank.has(t.type)) t = lexer.nextNonBlankToken();
    return t;
  };
  const out: string[] = [];
  let prev: Token | undefined;
  for (let t = significant(); t.type !== 'EOF'; t = significant()) {
    const isRule = prev?.type === 'RULE';
    prev = t;
    if (!isRule) continue;
    while (t.type !== 'LCB') t = significant();
    let cur = significant();
    let peek = significant();
    let body = '';
    while (peek.type !== 'RCB' && peek.type !== 'EOF') {
      body += cur.literal;
      cur = peek;
      peek = lexer.nextToken();
    }
    out.push(decodeBytes(body).trim());
  }
  return out;
}

/** The CEL syntax tree without source positions. */
function shape(body: string): unknown {
  return JSON.parse(
    JSON.stringify(parseCel(body).ast, (k, v: unknown) =>
      ['pos', 'start', 'end', 'input'].includes(k) ? undefined : typeof v === 'bigint' ? `${v}n` : v,
    ),
  ) as unknown;
}

describe('every body Permify accepts keeps its meaning', () => {
  const dir = '/work/shared/conformance/public/';
  const publicSchemas = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => [f, (parseYaml(readFileSync(dir + f, 'utf8')) as { schema: string }).schema] as const);
  const singleQuoted = [
    "entity user {}\nrule r(day string) {\n    day == 'mon' || day == 'tue'\n}\n",
    "entity user {}\nrule r(ip string[]) {\n    context.data.ip in ip &&\n    context.data.zone != 'eu west'\n}\n",
    "entity user {}\nrule r(x integer) {\n    x >= 18 && 'a' + 'b' == 'ab' && size('') == 0\n}\n",
    'entity user {}\nrule r(x double) {\n\tx <= context.data.max * 2.0\n\n}\n',
  ];

  it('the public examples have rules (the oracle is exercised)', () => {
    expect(publicSchemas.flatMap(([, s]) => permifyBodies(s)).length).toBeGreaterThan(4);
  });
  const cases: [string, string][] = [
    ...publicSchemas.map(([f, s]): [string, string] => [f, s]),
    ...singleQuoted.map((s, i): [string, string] => [`single-quoted ${i}`, s]),
  ];
  it.each(cases)('%s: same CEL tree as Permify', (_name, schema) => {
    const ours = bodies(schema);
    const theirs = permifyBodies(schema);
    expect(ours.length).toBe(theirs.length);
    ours.forEach((body, i) => expect(shape(body)).toEqual(shape(theirs[i] ?? '')));
    compileSchema(schema);
  });
});
