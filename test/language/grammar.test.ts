import { describe, expect, it } from 'vitest';
import { PermifyError } from '../../src/errors.js';
import { compileSchema, parseSchema, printSchema, schemaToJson } from '../../src/language/index.js';
import type { Child } from '../../src/schema/model.js';

function errorOf(text: string, validateReferences = true): PermifyError {
  try {
    compileSchema(text, { validateReferences });
  } catch (e) {
    expect(e).toBeInstanceOf(PermifyError);
    return e as PermifyError;
  }
  throw new Error('expected an error');
}

function permission(text: string, entity = 'doc', name = 'p'): Child | undefined {
  return compileSchema(text).entities.get(entity)?.permissions.get(name)?.child;
}

const base = 'entity user {}\nentity doc {\n    relation a @user\n    relation b @user\n    relation c @user\n';
const cus = (relation: string): Child => ({ kind: 'computed-user-set', relation });

describe('grammar constructs', () => {
  it('one precedence level, left-associative', () => {
    expect(permission(`${base}    permission p = a or b and c\n}`)).toEqual({
      kind: 'rewrite',
      operation: 'intersection',
      children: [{ kind: 'rewrite', operation: 'union', children: [cus('a'), cus('b')] }, cus('c')],
    });
    expect(permission(`${base}    permission p = a not b not c\n}`)).toEqual({
      kind: 'rewrite',
      operation: 'exclusion',
      children: [{ kind: 'rewrite', operation: 'exclusion', children: [cus('a'), cus('b')] }, cus('c')],
    });
    expect(permission(`${base}    permission p = a and (b or c)\n}`)).toEqual({
      kind: 'rewrite',
      operation: 'intersection',
      children: [cus('a'), { kind: 'rewrite', operation: 'union', children: [cus('b'), cus('c')] }],
    });
  });
  it('continuation after an operator, ( and =; semicolons separate statements', () => {
    const s = compileSchema(
      'entity user {}\nentity doc { relation a @user; relation b @user relation c @user\n    permission p =\n (\n a or\n b) and\n c ; action q = a }',
    );
    const doc = s.entities.get('doc');
    expect(doc?.memberOrder).toEqual(['a', 'b', 'c', 'p', 'q']);
    expect(doc?.permissions.get('q')?.isAction).toBe(true);
  });
  it('blank line after an operator and a line break before ) are errors', () => {
    expect(errorOf(`${base}    permission p = a or\n\n b\n}`).message).toBe(
      '8:4:no prefix parse function for NEWLINE found',
    );
    expect(errorOf(`${base}    permission p = (a or b\n)\n}`).message).toBe(
      '7:2:expected next token to be RP, got NEWLINE instead',
    );
  });
  it('CRLF counts as two lines', () => {
    const e = errorOf('entity user {}\r\nentity doc {\r\n    relation owner @person\r\n}\r\n');
    expect(e.message).toBe('5:22: relation reference not found in entity references');
  });
  it('comments are ignored; multi-line comments do not advance lines', () => {
    const e = errorOf('// c\nentity user {} /* x\ny */ entity doc {\n    relation o @nope\n}\n');
    expect(e.message).toBe('3:18: relation reference not found in entity references');
  });
  it('top-level junk is skipped', () => {
    const s = compileSchema('foo bar }\nentity user {}\npermission x = y\n');
    expect([...s.entities.keys()]).toEqual(['user']);
  });
  it('relation subject types, walks, attributes, calls', () => {
    const s = compileSchema(`entity user {}
entity group {
    relation member @user @group#member
}
entity doc {
    relation parent @group
    relation viewer @user @group#member
    attribute public boolean
    attribute tags string[]
    permission view = viewer or parent.member or public or has_tag(tags)
}
rule has_tag(tags string[]) {
    'x' in tags
}`);
    const doc = s.entities.get('doc');
    expect(doc?.relations.get('viewer')?.references).toEqual([
      { type: 'user', relation: '' },
      { type: 'group', relation: 'member' },
    ]);
    expect(doc?.attributes.get('tags')?.type).toBe('string[]');
    expect(doc?.references.get('public')).toBe('attribute');
    expect(JSON.stringify(doc?.permissions.get('view')?.child)).toContain(
      '{"kind":"call","ruleName":"has_tag","arguments":["tags"]}',
    );
    expect(s.references.get('has_tag')).toBe('rule');
  });
  it('walk targets through userset types follow the userset (spec 3.3)', () => {
    const text = (extra: string) => `entity user {
${extra}}
entity group {
    relation member @user
}
entity doc {
    relation parent @group#member
    permission view = parent.view
}`;
    expect(errorOf(text('')).message).toBe('8:31: undefined relation reference');
    expect(compileSchema(text('    relation view @user\n')).entities.size).toBe(3);
  });
  it('no cycle detection', () => {
    expect(compileSchema('entity user {}\nentity d {\n permission a = b\n permission b = a\n}').entities.size).toBe(2);
  });
  it('entity parse errors', () => {
    expect(errorOf('entity user {\n relation a @user\n').message).toBe('3:4:expected token to be RCB, got EOF instead');
    expect(errorOf('entity user {\n 5\n}').message).toBe(
      '3:2:expected token to be RELATION, PERMISSION, ATTRIBUTE, got INTEGER instead',
    );
    expect(errorOf('entity user\n').message).toBe('2:2:expected next token to be LCB, got NEWLINE instead');
    expect(errorOf('entity user {\n relation a\n}').message).toBe(
      '3:2:expected next token to be SIGN, got NEWLINE instead',
    );
    expect(errorOf('entity user {\n attribute a string[\n}').message).toBe(
      '3:2:expected next token to be RSB, got NEWLINE instead',
    );
    expect(errorOf('entity user {}\nrule r(x integer y) {\n x > 1\n}').message).toBe(
      '2:20:expected next token to be RP, got IDENT instead',
    );
  });
  it('rule bodies are taken verbatim (upstream re-assembles them from tokens)', () => {
    const body = (text: string) => {
      const r = parseSchema(text).statements[0];
      return r?.kind === 'rule' ? r.body : undefined;
    };
    expect(body('rule r(x integer) {\n    x > 1\n}')).toBe('x > 1');
    expect(body('rule r(x integer) { x > 1}')).toBe('x > 1');
    expect(body('rule r(x string, tags string[]) { x in tags }')).toBe('x in tags');
    expect(compileSchema('entity user {}\nrule r(x integer) { x > 1}').rules.get('r')?.expression).toBe('x > 1');
  });
  it('call arguments: no line break after (, identifiers required', () => {
    const doc = (call: string) =>
      `entity user {}\nentity doc {\n    attribute level integer\n    permission view = ${call}\n}\nrule high(level integer) {\n    level > 3\n}`;
    expect(errorOf(doc('high(\n level)')).message).toBe('5:8:expected token to be IDENT, got NEWLINE instead');
    expect(errorOf(doc('high(level, 5)')).message).toBe('4:37:expected next token to be IDENT, got INTEGER instead');
    expect(errorOf(doc('high(level')).message).toBe('5:2:expected next token to be RP, got NEWLINE instead');
  });
  it('ast nodes carry positions', () => {
    const ast = parseSchema('entity user {}\nentity doc {\n    relation owner @user\n}\n');
    const doc = ast.statements[1];
    expect(doc?.kind).toBe('entity');
    if (doc?.kind === 'entity') {
      expect(doc.name).toEqual({ kind: 'name', value: 'doc', line: 2, column: 9 });
      expect(doc.members[0]?.name.column).toBe(15);
    }
  });
  it('compiled models are deeply frozen', () => {
    const s = compileSchema(`${base}    permission p = a\n}`);
    const doc = s.entities.get('doc');
    expect(() => (s.entities as Map<string, unknown>).set('x', {})).toThrow(TypeError);
    expect(Object.isFrozen(doc?.relations.get('a')?.references)).toBe(true);
    expect(Object.isFrozen(doc?.permissions.get('p')?.child)).toBe(true);
  });
  it('canonical printing is a fixed point', () => {
    const text = `${base}    attribute z integer[]\n    action p = a or (b and c) not a\n}`;
    const once = printSchema(compileSchema(text));
    expect(printSchema(compileSchema(once))).toBe(once);
    expect(schemaToJson(compileSchema(once))).toEqual(schemaToJson(compileSchema(text)));
  });
});
