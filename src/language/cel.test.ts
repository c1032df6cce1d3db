import { describe, expect, it } from 'vitest';
import type { AttributeValue, JsonValue } from '../data/types.js';
import { PermifyError } from '../errors.js';
import { compileSchema, parseSchema } from './index.js';

const schema = compileSchema(`
entity user {}
entity wallet {
    relation holder @user
    attribute funds double
    attribute tries integer
    attribute subnets string[]
    attribute levels integer[]
    attribute public boolean
    permission spend = enough_funds(funds) and holder
}
rule enough_funds(funds double) {
    funds >= context.data.cost && context.data.cost <= 5000.0
}
rule from_subnet(subnets string[]) {
    context.data.ip in subnets
}
rule few(tries integer) {
    tries < context.data.max
}
rule level_ok(levels integer[]) {
    2 in levels
}
rule day_ok(public boolean) {
    public == true && context.data.day != 'sunday'
}
rule either(public boolean) {
    public || context.data.missing == 1.0
}
`);

function run(rule: string, args: Record<string, AttributeValue | null>, data: Record<string, JsonValue> = {}): boolean {
  const r = schema.rules.get(rule);
  if (r === undefined) throw new Error(rule);
  return r.program.evaluate(new Map(Object.entries(args)), data);
}

function errorOf(f: () => unknown): PermifyError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PermifyError);
    return e as PermifyError;
  }
  throw new Error('expected an error');
}

const d = (value: number): AttributeValue => ({ type: 'double', value });

describe('rule evaluation (spec 5.3, 8.4, 8.5)', () => {
  it('compares attribute values with context data', () => {
    expect(run('enough_funds', { funds: d(4000) }, { cost: 3000 })).toBe(true);
    expect(run('enough_funds', { funds: d(4000) }, { cost: 4500 })).toBe(false);
    expect(run('enough_funds', { funds: d(10000) }, { cost: 6000 })).toBe(false);
  });
  it('null binds the type default, which can grant', () => {
    expect(run('enough_funds', { funds: null }, { cost: 100 })).toBe(false);
    expect(run('enough_funds', { funds: null }, { cost: 0 })).toBe(true);
    expect(run('from_subnet', { subnets: null }, { ip: '10.1.0.5' })).toBe(false);
    expect(run('few', { tries: null }, { max: 1 })).toBe(true);
    expect(run('level_ok', { levels: null })).toBe(false);
  });
  it('a missing context key is an evaluation error: INVALID_ARGUMENT (Permify: INTERNAL)', () => {
    const e = errorOf(() => run('enough_funds', { funds: d(4000) }));
    expect(e.code).toBe('ERROR_CODE_INVALID_ARGUMENT');
    expect(e.message.toLowerCase()).toContain('no such key');
  });
  it('an unbound parameter is an evaluation error', () => {
    expect(errorOf(() => run('enough_funds', {}, { cost: 1 })).code).toBe('ERROR_CODE_INVALID_ARGUMENT');
  });
  it('values that do not fit the parameter are evaluation errors, never crashes', () => {
    expect(errorOf(() => run('few', { tries: { type: 'integer', value: Number.NaN } }, { max: 1 })).code).toBe(
      'ERROR_CODE_INVALID_ARGUMENT',
    );
    expect(errorOf(() => run('few', { tries: { type: 'string', value: 'x' } }, { max: 1 })).code).toBe(
      'ERROR_CODE_INVALID_ARGUMENT',
    );
  });
  it('array membership', () => {
    const subnets: AttributeValue = { type: 'string[]', value: ['10.1.0.5', '10.1.0.6'] };
    expect(run('from_subnet', { subnets }, { ip: '10.1.0.6' })).toBe(true);
    expect(run('from_subnet', { subnets }, { ip: '1.2.3.4' })).toBe(false);
    expect(run('level_ok', { levels: { type: 'integer[]', value: [1, 2, 3] } })).toBe(true);
  });
  it('integers are CEL int and compare with double context data at run time', () => {
    expect(run('few', { tries: { type: 'integer', value: 2 } }, { max: 3 })).toBe(true);
    expect(run('few', { tries: { type: 'integer', value: 3 } }, { max: 3 })).toBe(false);
    expect(run('few', { tries: { type: 'integer', value: 3 } }, { max: 3.5 })).toBe(true);
  });
  it('&& and || absorb errors', () => {
    expect(run('day_ok', { public: { type: 'boolean', value: false } })).toBe(false);
    expect(errorOf(() => run('day_ok', { public: { type: 'boolean', value: true } })).code).toBe('ERROR_CODE_INVALID_ARGUMENT');
    expect(run('day_ok', { public: { type: 'boolean', value: true } }, { day: 'monday' })).toBe(true);
    expect(run('either', { public: { type: 'boolean', value: true } })).toBe(true);
    expect(errorOf(() => run('either', { public: { type: 'boolean', value: false } })).code).toBe(
      'ERROR_CODE_INVALID_ARGUMENT',
    );
  });
  it('nested context data', () => {
    const s = compileSchema(`entity user {}
rule r(x string) {
    context.data.user.roles.exists(r, r == x) && size(context.data.list) == 2
}`);
    const r = s.rules.get('r');
    expect(
      r?.program.evaluate(new Map([['x', { type: 'string', value: 'admin' }]]), {
        user: { roles: ['admin'] },
        list: [1, null],
      }),
    ).toBe(true);
  });
});

describe('rule compilation', () => {
  function compileError(body: string, params = 'x integer'): PermifyError {
    return errorOf(() => compileSchema(`entity user {}\nrule r(${params}) {\n    ${body}\n}\n`));
  }
  it('takes the body verbatim (spec 2.7, a deliberate difference from upstream)', () => {
    const ast = parseSchema(`entity user {}\nrule r(x string) {\n    x == 'mon' &&\n    x != "tue" // note\n}\n`);
    const rule = ast.statements[1];
    expect(rule?.kind === 'rule' ? rule.body : undefined).toBe(`x == 'mon' &&\n    x != "tue" // note`);
    const s = compileSchema(`entity user {}\nrule r(x string) {\n    x == 'mon' &&\n    x != 'tue'\n}\n`);
    expect(s.rules.get('r')?.expression).toBe("x == 'mon' &&\n    x != 'tue'");
  });
  it('double-quoted strings are CEL strings (upstream drops their quotes)', () => {
    const s = compileSchema(`entity user {}\nrule r(x string) {\n    x == "mon"\n}\n`);
    expect(s.rules.get('r')?.program.evaluate(new Map([['x', { type: 'string', value: 'mon' }]]), {})).toBe(true);
  });
  it('a one-line body keeps the space after its first token (upstream loses it)', () => {
    const s = compileSchema(`entity user {}\nrule r(x string, tags string[]) { x in tags }\n`);
    expect(s.rules.get('r')?.expression).toBe('x in tags');
  });
  it('the result must be bool', () => {
    const e = compileError('x + 1');
    expect(e.message).toBe('2:7: rule expression must result in a boolean type not int');
    expect(compileError('context.data.flag').message).toBe(
      '2:7: rule expression must result in a boolean type not dyn',
    );
  });
  it('CEL syntax and type errors are reported where the library locates them in the body, lower-cased', () => {
    const e = compileError('x >');
    expect(e.code).toBe('ERROR_CODE_SCHEMA_COMPILE');
    // The body starts at 3:6; the parse error is at its end (offset 3).
    expect(e.message).toMatch(/^3:9: [^A-Z_]+$/);
    expect(compileError("x == 'a'").message).toMatch(/^3:6: /);
    expect(compileError('y > 1').message).toBe('3:6: unknown variable: y');
  });
  it('unknown parameter types', () => {
    const e = compileError('x > 1', 'x float');
    expect(e.message).toBe('2:11: invalid argument');
  });
  it('EOF inside a body is a parse error', () => {
    const e = errorOf(() => compileSchema('entity user {}\nrule r(x integer) {\n    x > 1\n'));
    expect(e.code).toBe('ERROR_CODE_SCHEMA_PARSE');
    expect(e.message).toMatch(/expected next token to be RCB, got EOF instead$/);
  });
});
