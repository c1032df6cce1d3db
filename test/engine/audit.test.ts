/**
 * Adversarial audit of engine corners called out by spec §5, §7 and §9: CEL in rules (numbers, lists, `in`,
 * string literals, error absorption), defaults, depth exhaustion and shared sub-problems, cycles, name
 * resolution, wildcards-that-are-not, `...` subjects, lookups with context and pagination, and validation files.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseEntity, parseSubject } from '../../src/data/notation.js';
import { validateCommand } from '../../src/development/commands.js';
import { createDefaultToolkit } from '../../src/development/toolkit.js';
import { compileSchema } from '../../src/language/index.js';
import { ctx, fixture, TENANT, type ContextSpec } from './support.js';

/** Outcome strings that are neither answer, i.e. an error code. */
const isError = (outcome: string): boolean => outcome !== 'allowed' && outcome !== 'denied';

const rulesSchema = `
entity user {}

entity item {
    relation owner @user
    attribute age integer
    attribute price double
    attribute tags string[]
    attribute nums integer[]
    attribute ratios double[]
    attribute name string
    attribute flag boolean
    attribute flags boolean[]
    permission adult = is_adult(age)
    permission cheap = under_budget(price)
    permission tagged = has_tag(tags)
    permission numbered = has_num(nums)
    permission ratioed = has_ratio(ratios)
    permission named = is_named(name)
    permission spaced = has_space(name)
    permission both = is_adult(age) and owner
    permission either = is_adult(age) or owner
    permission minus = owner not is_adult(age)
    permission lenient = lenient_age(age)
    permission divided = divides(age)
    permission anyflag = any_flag(flags)
    permission mixed = mixed_list(name)
    permission bare = flag
}

rule is_adult(age integer) {
    age >= context.data.min
}

rule under_budget(price double) {
    price < context.data.budget
}

rule has_tag(tags string[]) {
    context.data.tag in tags
}

rule has_num(nums integer[]) {
    context.data.n in nums
}

rule has_ratio(ratios double[]) {
    context.data.r in ratios
}

rule is_named(name string) {
    name == 'it\\'s'
}

rule has_space(name string) {
    name.contains('a b')
}

rule lenient_age(age integer) {
    has(context.data.min) && age >= context.data.min
}

rule divides(age integer) {
    10 / age == 5
}

rule any_flag(flags boolean[]) {
    flags.exists(f, f == true)
}

rule mixed_list(name string) {
    name in ['x', 1] || context.data.v == [1, 'x']
}
`;

describe('rules and CEL at evaluation time (§5.3)', async () => {
  const f = await fixture(
    rulesSchema,
    ['item:1#owner@user:o', 'item:2#owner@user:o'],
    [
      'item:1$age|integer:18',
      'item:1$price|double:9.5',
      'item:1$tags|string[]:a,b',
      'item:1$nums|integer[]:1,2,3',
      'item:1$ratios|double[]:0.5,2',
      'item:1$flags|boolean[]:false,true',
      'item:2$age|integer:2',
      'item:2$flag|boolean:true',
    ],
  );
  const data = (d: ContextSpec['data']) => ({ context: { data: d } });

  it('integer attributes compare numerically with context.data numbers (doubles)', async () => {
    expect(await f.check('item:1', 'adult', 'user:x', data({ min: 18 }))).toBe('allowed');
    expect(await f.check('item:1', 'adult', 'user:x', data({ min: 18.5 }))).toBe('denied');
    expect(await f.check('item:1', 'adult', 'user:x', data({ min: 17.9 }))).toBe('allowed');
  });
  it('double attributes, and the 0.0 default can grant', async () => {
    expect(await f.check('item:1', 'cheap', 'user:x', data({ budget: 10 }))).toBe('allowed');
    expect(await f.check('item:1', 'cheap', 'user:x', data({ budget: 9.5 }))).toBe('denied');
    expect(await f.check('item:3', 'cheap', 'user:x', data({ budget: 1 }))).toBe('allowed');
  });
  it('`in` on string, integer (double needle) and double lists; missing array attribute is empty', async () => {
    expect(await f.check('item:1', 'tagged', 'user:x', data({ tag: 'a' }))).toBe('allowed');
    expect(await f.check('item:1', 'tagged', 'user:x', data({ tag: 'c' }))).toBe('denied');
    expect(await f.check('item:3', 'tagged', 'user:x', data({ tag: 'a' }))).toBe('denied');
    expect(await f.check('item:1', 'numbered', 'user:x', data({ n: 2 }))).toBe('allowed');
    expect(await f.check('item:1', 'numbered', 'user:x', data({ n: 2.5 }))).toBe('denied');
    expect(await f.check('item:1', 'ratioed', 'user:x', data({ r: 2 }))).toBe('allowed');
    expect(await f.check('item:1', 'ratioed', 'user:x', data({ r: 0.5 }))).toBe('allowed');
    expect(await f.check('item:1', 'anyflag', 'user:x')).toBe('allowed');
    expect(await f.check('item:3', 'anyflag', 'user:x')).toBe('denied');
  });
  it('single-quoted literals keep escapes and inner spaces', async () => {
    const named = (v: string) => f.check('item:5', 'named', 'user:x', { context: { attributes: [v] } });
    expect(await named("item:5$name|string:it's")).toBe('allowed');
    expect(await named('item:5$name|string:its')).toBe('denied');
    expect(await f.check('item:5', 'named', 'user:x')).toBe('denied');
    expect(await f.check('item:5', 'spaced', 'user:x', { context: { attributes: ['item:5$name|string:xa by'] } })).toBe(
      'allowed',
    );
  });
  it('a missing context key is an error; has() guards it; errors combine per §5.2.2', async () => {
    expect(isError(await f.outcome('item:1', 'adult', 'user:x'))).toBe(true);
    expect(await f.check('item:1', 'lenient', 'user:x')).toBe('denied');
    // intersection: error + allowed ⇒ error; error + denied ⇒ denied
    expect(isError(await f.outcome('item:1', 'both', 'user:o'))).toBe(true);
    expect(await f.check('item:1', 'both', 'user:z')).toBe('denied');
    // union: error + allowed ⇒ allowed; error + denied ⇒ error
    expect(await f.check('item:1', 'either', 'user:o')).toBe('allowed');
    expect(isError(await f.outcome('item:1', 'either', 'user:z'))).toBe(true);
    // exclusion: left denied ⇒ denied although the right errors; left allowed ⇒ the right's error
    expect(await f.check('item:1', 'minus', 'user:z')).toBe('denied');
    expect(isError(await f.outcome('item:1', 'minus', 'user:o'))).toBe(true);
  });
  it('integer division by the default 0 is an evaluation error, not denied', async () => {
    expect(await f.check('item:2', 'divided', 'user:x')).toBe('allowed');
    expect(isError(await f.outcome('item:3', 'divided', 'user:x'))).toBe(true);
  });
  it('context.data null values error in comparisons; unrelated nested data is harmless', async () => {
    expect(isError(await f.outcome('item:1', 'adult', 'user:x', data({ min: null })))).toBe(true);
    expect(await f.check('item:1', 'adult', 'user:x', data({ min: 18, extra: { a: [1, 'x'] } }))).toBe('allowed');
  });
  it('mixed-type list literals compile (list of dyn, as in cel-go) and compare element-wise', async () => {
    expect(await f.check('item:1', 'mixed', 'user:x', data({ v: [1, 'x'] }))).toBe('allowed');
    expect(await f.check('item:1', 'mixed', 'user:x', data({ v: [1, 'y'] }))).toBe('denied');
    expect(
      await f.check('item:1', 'mixed', 'user:x', { context: { attributes: ['item:1$name|string:x'], data: {} } }),
    ).toBe('allowed'); // `true || <missing key>` is true
    expect(isError(await f.outcome('item:1', 'mixed', 'user:x'))).toBe(true); // `false || <missing key>`
  });
  it('stored wins for rule arguments; a contextual value of the wrong type fails the rule', async () => {
    expect(
      await f.check('item:1', 'adult', 'user:x', {
        context: { data: { min: 18 }, attributes: ['item:1$age|integer:1'] },
      }),
    ).toBe('allowed');
    expect(
      isError(
        await f.outcome('item:9', 'adult', 'user:x', {
          context: { data: { min: 1 }, attributes: ['item:9$age|string:old'] },
        }),
      ),
    ).toBe(true);
  });
  it('a request naming a rule binds only the given arguments; naming a non-boolean attribute errors', async () => {
    expect(await f.check('item:1', 'is_adult', 'user:x', { arguments: ['age'], ...data({ min: 3 }) })).toBe('allowed');
    expect(isError(await f.outcome('item:1', 'is_adult', 'user:x', { arguments: ['nope'], ...data({ min: 3 }) }))).toBe(
      true,
    );
    expect(await f.check('item:2', 'flag', 'user:x')).toBe('allowed');
    expect(await f.check('item:1', 'flag', 'user:x')).toBe('denied');
    expect(isError(await f.outcome('item:1', 'age', 'user:x'))).toBe(true);
  });
  it('lookups with rules: ALL for entity-level grants, errors fail the lookup', async () => {
    expect(await f.lookupEntity('item', 'adult', 'user:x', data({ min: 5 }))).toEqual(['1']);
    expect(await f.lookupSubject('item:1', 'adult', 'user', data({ min: 5 }))).toEqual(['o']);
    expect(await f.lookupSubject('item:1', 'both', 'user', data({ min: 5 }))).toEqual(['o']);
    expect(await f.lookupSubject('item:1', 'minus', 'user', data({ min: 50 }))).toEqual(['o']);
    expect(await f.lookupSubject('item:1', 'minus', 'user', data({ min: 5 }))).toEqual([]);
    await expect(f.lookupEntity('item', 'adult', 'user:x')).rejects.toThrow(/min/);
  });
});

describe('rule type checking matches cel-go as upstream configures it (§2.7)', () => {
  const compile = (params: string, body: string) => () =>
    compileSchema(
      `entity user {}\nentity item {\n    attribute age integer\n    attribute price double\n    attribute nums integer[]\n` +
        `    permission p = r(${params})\n}\nrule r(${params.replace(/(\w+)/g, (n) => `${n} ${n === 'age' ? 'integer' : n === 'price' ? 'double' : 'integer[]'}`)}) {\n    ${body}\n}\n`,
    );
  it('ordering across int and double is a type error, reported at the comparison inside the body', () => {
    expect(compile('age', 'age > 5.0')).toThrow(
      /^9:6: found no matching overload for ' > ' applied to '\(int, double\)'$/,
    );
    expect(compile('age, price', 'age >= 1 && (price > 1 || true)')).toThrow(/^9:19: /);
    expect(compile('price', 'price <= 5')).toThrow(/no matching overload for ' <= ' applied to '\(double, int\)'/);
    expect(compile('nums', 'nums.exists(n, n < 2.5)')).toThrow(/no matching overload/);
    expect(compile('age, price', 'age >= 1 && (price > 1 || true)')).toThrow(/'\(double, int\)'/);
  });
  it('same-type, converted and dynamic comparisons compile', () => {
    expect(compile('age', 'age > 5 && age < context.data.max')).not.toThrow();
    expect(compile('age, price', 'double(age) < price && age < int(price)')).not.toThrow();
    expect(compile('price', 'price > context.data.min && dyn(price) > 1')).not.toThrow();
    expect(compile('nums', 'nums.exists(n, n < 3) && [1, 2.0][0] < 3')).not.toThrow();
  });
  it('string and bytes extension functions are not declared (standard library only)', () => {
    for (const body of [
      "context.data.s.trim() == 'a'",
      "context.data.s.lowerAscii() == 'a'",
      "context.data.s.split(',').size() == 2",
      "context.data.s.indexOf('a') == 0",
      "['a'].join() == 'a'",
    ]) {
      expect(compile('age', `age > 1 && ${body}`)).toThrow(/undeclared reference to '\w+'/);
    }
    expect(
      compile('age', "context.data.s.size() > 0 && size(context.data.s) > 0 && context.data.s.endsWith('x')"),
    ).not.toThrow();
    expect(compile('age', "string(age).startsWith('1') && context.data.s.contains(string(age))")).not.toThrow();
  });
  it('equality across int and double stays a type error; mixed list literals compile', () => {
    expect(compile('age', 'age == 18.0')).toThrow(/no such overload/);
    expect(compile('age', "context.data.l == [1, 'a'] && 18 in [age, 'x']")).not.toThrow();
  });
});

describe('depth, shared sub-problems, self-checks and subjects (§5.2, §5.4)', async () => {
  const f = await fixture(
    'entity user {}\nentity group {\n relation member @user @group#member\n permission view = member\n}',
    [
      // a reaches x directly (1 step) and through b → c → d (4 steps)
      'group:a#member@group:x#member',
      'group:a#member@group:b#member',
      'group:b#member@group:c#member',
      'group:c#member@group:d#member',
      'group:d#member@group:x#member',
      'group:x#member@user:u',
      'group:w#member@user:*',
    ],
  );
  it('a sub-problem reached on a short and a long path is charged the long path’s depth', async () => {
    expect(await f.outcome('group:a', 'member', 'user:z', { depth: 3 })).toBe('ERROR_CODE_DEPTH_NOT_ENOUGH');
    expect(await f.outcome('group:a', 'member', 'user:z', { depth: 4 })).toBe('denied');
    expect(await f.outcome('group:a', 'member', 'user:u', { depth: 3 })).toBe('allowed');
  });
  it('the trivial self-check comes before name resolution; `...` is not the requested relation', async () => {
    expect(await f.check('group:a', 'nope', 'group:a#nope')).toBe('allowed');
    expect(await f.outcome('group:a', 'nope', 'group:b#nope')).toBe('ERROR_CODE_SCHEMA_NOT_FOUND');
    expect(await f.check('group:a', 'member', 'group:a#...')).toBe('denied');
  });
  it('`*` is an ordinary id, never a wildcard', async () => {
    expect(await f.check('group:w', 'member', 'user:bob')).toBe('denied');
    expect(await f.check('group:w', 'member', 'user:*')).toBe('allowed');
    expect(await f.lookupSubject('group:w', 'member', 'user')).toEqual(['*']);
  });
  it('userset subjects: reached through nested usersets, not through a different relation', async () => {
    expect(await f.check('group:a', 'member', 'group:d#member')).toBe('allowed');
    expect(await f.check('group:a', 'member', 'group:x#view')).toBe('denied');
    expect(await f.check('group:a', 'member', 'ghost:1')).toBe('denied');
  });
  it('lookupSubject does not expand usersets matching the reference (§5.8.2 item 4)', async () => {
    expect(await f.lookupSubject('group:a', 'member', 'group#member')).toEqual(['b', 'x']);
    expect(await f.lookupSubject('group:a', 'view', 'group#member')).toEqual(['b', 'x']);
    expect(await f.lookupSubject('group:a', 'member', 'user')).toEqual(['u']);
  });
  it('lookupEntity with entity and userset subjects, including the subject itself', async () => {
    expect(await f.lookupEntity('group', 'member', 'user:u')).toEqual(['a', 'b', 'c', 'd', 'x']);
    expect(await f.lookupEntity('group', 'view', 'group:x#member')).toEqual(['a', 'b', 'c', 'd', 'x']);
    expect(await f.lookupEntity('group', 'member', 'group:x#member')).toEqual(['a', 'b', 'c', 'd', 'x']);
  });
});

describe('lookups with context, attributes and pagination (§5.7, §5.8)', async () => {
  const schema = `
entity user {}
entity profile {
    relation owner @user
    relation fan @user
    attribute open boolean
    permission see = (owner or fan) or open
}
entity photo {
    relation profile @profile
    relation viewer @user
    attribute locked boolean
    permission see = (profile.see or viewer) not locked
    permission seen = viewer and fresh(locked)
}
rule fresh(locked boolean) {
    locked == false && context.data.k == 'v'
}`;
  const f = await fixture(
    schema,
    [
      'photo:a#profile@profile:p1',
      'photo:b#profile@profile:p2',
      'photo:c#profile@profile:p1',
      'photo:d#viewer@user:z',
      'photo:e#viewer@user:z',
    ],
    ['profile:p1$open|boolean:true', 'photo:c$locked|boolean:true', 'photo:e$locked|boolean:false'],
  );
  const c: ContextSpec = {
    tuples: ['photo:f#viewer@user:z', 'photo:0#profile@profile:p1'],
    attributes: ['photo:a$locked|boolean:true'],
    data: { k: 'v' },
  };
  async function entityPages(permission: string, subject: string, context: ContextSpec | undefined) {
    const pages: string[][] = [];
    let token = '';
    for (let i = 0; i < 20; i++) {
      const r = await f.engine.lookupEntity({
        tenantId: TENANT,
        metadata: { depth: 20 },
        entityType: 'photo',
        permission,
        subject: parseSubject(subject),
        context: ctx(context),
        pageSize: 1,
        continuousToken: token,
      });
      pages.push([...r.entityIds]);
      token = r.continuousToken;
      if (token === '') return pages;
    }
    throw new Error('did not terminate');
  }
  async function subjectPages(entity: string, permission: string, context?: ContextSpec) {
    const pages: string[][] = [];
    let token = '';
    for (let i = 0; i < 20; i++) {
      const r = await f.engine.lookupSubject({
        tenantId: TENANT,
        metadata: { depth: 20 },
        entity: parseEntity(entity),
        permission,
        subjectReference: { type: 'user', relation: '' },
        context: ctx(context),
        pageSize: 1,
        continuousToken: token,
      });
      pages.push([...r.subjectIds]);
      token = r.continuousToken;
      if (token === '') return pages;
    }
    throw new Error('did not terminate');
  }
  it('path-chain, relation and contextual candidates page one by one without overlap', async () => {
    expect(await f.lookupEntity('photo', 'see', 'user:z')).toEqual(['a', 'd', 'e']);
    expect(await entityPages('see', 'user:z', undefined)).toEqual([['a'], ['d'], ['e']]);
    // contextual lock hides a; contextual tuples add 0 (through profile p1) and f
    expect(await f.lookupEntity('photo', 'see', 'user:z', { context: c })).toEqual(['0', 'd', 'e', 'f']);
    expect(await entityPages('see', 'user:z', c)).toEqual([['0'], ['d'], ['e'], ['f']]);
    expect(await entityPages('seen', 'user:z', c)).toEqual([['d'], ['e'], ['f']]);
  });
  it('a rule error in a candidate fails the lookup; in lookupSubject it fails too', async () => {
    await expect(entityPages('seen', 'user:z', undefined)).rejects.toThrow(/k/);
    await expect(subjectPages('photo:e', 'seen')).rejects.toThrow(/k/);
  });
  it('lookupSubject: ALL from stored subjects, contextual exclusion, empty answers have an empty token', async () => {
    expect(await subjectPages('photo:a', 'see')).toEqual([['z']]);
    expect(await subjectPages('photo:a', 'see', c)).toEqual([[]]);
    expect(await subjectPages('photo:f', 'see', c)).toEqual([['z']]);
    expect(await subjectPages('photo:zz', 'see')).toEqual([[]]);
    expect(await subjectPages('photo:e', 'seen', c)).toEqual([['z']]);
  });
});

describe('contextual `...` subjects, attribute precedence and name kinds (§5.1, §5.6-§5.9)', async () => {
  const schema = `
entity user {}
entity group {
    relation member @user @group#member
}
entity doc {
    relation viewer @user @group#member @group
    relation parent @group
    attribute pub boolean
    attribute n integer
    permission view = viewer or parent.member or pub
    permission walk = parent.member
    permission ispub = pub
    permission num = t(n)
}
rule t(n integer) {
    n == 1
}`;
  const f = await fixture(
    schema,
    ['group:g1#member@user:u', 'doc:1#viewer@group:g1', 'doc:2#parent@group:g1#member'],
    ['doc:3$n|integer:1', 'doc:4$pub|boolean:true'],
  );
  it('a contextual `T:id#...` subject is the plain entity: matched directly, never expanded', async () => {
    const tuples = (t: string) => ({ context: { tuples: [t] } });
    expect(await f.check('doc:5', 'viewer', 'group:g9', tuples('doc:5#viewer@group:g9#...'))).toBe('allowed');
    expect(await f.check('doc:5', 'viewer', 'user:u', tuples('doc:5#viewer@group:g1#...'))).toBe('denied');
    expect(await f.check('doc:1', 'viewer', 'group:g1#...')).toBe('allowed');
    expect(await f.check('doc:5', 'walk', 'user:u', tuples('doc:5#parent@group:g1#...'))).toBe('allowed');
    // LookupSubject drops them (§5.8.2 item 7)
    expect(await f.lookupSubject('doc:5', 'viewer', 'user', tuples('doc:5#viewer@user:q#...'))).toEqual([]);
  });
  it('the first contextual value of a bare boolean attribute wins', async () => {
    const attrs = (...a: string[]) => ({ context: { attributes: a } });
    expect(await f.check('doc:6', 'ispub', 'user:u', attrs('doc:6$pub|boolean:true', 'doc:6$pub|boolean:false'))).toBe(
      'allowed',
    );
    expect(await f.check('doc:6', 'ispub', 'user:u', attrs('doc:6$pub|boolean:false', 'doc:6$pub|boolean:true'))).toBe(
      'denied',
    );
  });
  it('lookupEntity by rule, attribute and permission names', async () => {
    expect(await f.lookupEntity('doc', 't', 'user:u')).toEqual([]);
    expect(await f.lookupEntity('doc', 'pub', 'user:u')).toEqual(['4']);
    await expect(f.lookupEntity('doc', 'n', 'user:u')).rejects.toThrow(/not boolean/);
    expect(await f.lookupEntity('doc', 'num', 'user:u')).toEqual(['3']);
    expect(await f.lookupEntity('doc', 'view', 'user:u')).toEqual(['2', '4']);
    expect(await f.lookupEntity('doc', 'view', 'group:g1')).toEqual(['1', '4']);
    expect(await f.lookupEntity('doc', 'view', 'group:g1#member')).toEqual(['2', '4']);
  });
  it('lookupSubject: plain vs userset references, ALL per reference, unknown names fail', async () => {
    expect(await f.lookupSubject('doc:1', 'viewer', 'group#member')).toEqual([]);
    expect(await f.lookupSubject('doc:1', 'viewer', 'group')).toEqual(['g1']);
    expect(await f.lookupSubject('doc:1', 'view', 'user')).toEqual([]);
    expect(await f.lookupSubject('doc:2', 'walk', 'user')).toEqual(['u']);
    expect(await f.lookupSubject('doc:4', 'view', 'user')).toEqual(['u']);
    expect(await f.lookupSubject('doc:4', 'view', 'group#member')).toEqual(['g1']);
    await expect(f.lookupSubject('doc:1', 'nope', 'user')).rejects.toThrow();
    await expect(f.lookupSubject('nosuch:1', 'view', 'user')).rejects.toThrow();
  });
  it('subjectPermission lists relations then permissions, never attributes', async () => {
    const run = (onlyPermission: boolean) =>
      f.engine.subjectPermission({
        tenantId: TENANT,
        metadata: { depth: 20, onlyPermission },
        entity: parseEntity('doc:3'),
        subject: parseSubject('user:u'),
      });
    expect([...(await run(false)).results]).toEqual([
      ['viewer', 'denied'],
      ['parent', 'denied'],
      ['view', 'denied'],
      ['walk', 'denied'],
      ['ispub', 'denied'],
      ['num', 'allowed'],
    ]);
    expect([...(await run(true)).results].map(([k]) => k)).toEqual(['view', 'walk', 'ispub', 'num']);
  });
  it('expand: rule leaves show values, a missing non-boolean attribute shows boolean false', async () => {
    const ex = (entity: string, permission: string, args?: string[]) =>
      f.engine.expand({ tenantId: TENANT, metadata: {}, entity: parseEntity(entity), permission, arguments: args });
    const rule = (await ex('doc:3', 't', ['n'])).tree;
    expect(rule.leaf?.kind === 'values' ? Object.fromEntries(rule.leaf.values) : undefined).toEqual({
      n: { type: 'integer', value: 1 },
    });
    expect((await ex('doc:9', 'n')).tree.leaf).toEqual({ kind: 'value', value: { type: 'boolean', value: false } });
    const walk = (await ex('doc:2', 'walk')).tree;
    expect(walk.permission).toBe('parent');
    expect(walk.expand?.children.map((c) => `${c.entity.id}#${c.permission}`)).toEqual(['g1#member']);
  });
});

describe('walks, rule argument binding by name and schema cycles (§2.6, §2.7, §5.4)', async () => {
  const schema = `
entity user {}
entity org {
    relation member @user
    relation admin @user
    attribute lo integer
    attribute hi integer
    attribute tier integer
    permission ok = ordered(hi, lo)
    permission gold = is_gold(tier)
    permission loop = loop_b
    permission loop_b = loop
}
entity doc {
    relation org @org
    relation owner @user
    permission both = org.member and org.admin
    permission via = org.ok
    permission golden = org.gold and owner
    permission guarded = owner not org.loop
    permission risky = owner or org.loop
}
rule ordered(lo integer, hi integer) {
    hi > lo
}
rule is_gold(tier integer) {
    tier >= 3
}`;
  const f = await fixture(
    schema,
    [
      'doc:1#org@org:a',
      'doc:1#org@org:b',
      'org:a#member@user:u',
      'org:b#admin@user:u',
      'doc:1#owner@user:u',
      'doc:2#org@org:c',
      'doc:2#owner@user:v',
      'doc:3#owner@user:v',
      'doc:3#org@org:g',
      'doc:4#org@org:g',
      'doc:4#owner@user:w',
    ],
    [
      'org:a$lo|integer:1',
      'org:a$hi|integer:5',
      'org:c$lo|integer:9',
      'org:c$hi|integer:2',
      'org:g$tier|integer:3',
      'org:h$tier|integer:1',
    ],
  );
  it('and across a walk is satisfied by different related objects', async () => {
    expect(await f.check('doc:1', 'both', 'user:u')).toBe('allowed');
  });
  it('rule arguments bind by name, on the walked entity', async () => {
    expect(await f.check('doc:1', 'via', 'user:x')).toBe('allowed');
    expect(await f.check('doc:2', 'via', 'user:x')).toBe('denied');
    expect(await f.lookupEntity('doc', 'via', 'user:x')).toEqual(['1']);
    expect(await f.lookupEntity('doc', 'golden', 'user:v')).toEqual(['3']);
    expect(await f.lookupEntity('doc', 'golden', 'user:w')).toEqual(['4']);
    expect(await f.lookupSubject('doc:3', 'golden', 'user')).toEqual(['v']);
  });
  it('a schema cycle errors unless a branch decides; BulkCheck denies, SubjectPermission fails', async () => {
    expect(await f.outcome('doc:1', 'guarded', 'user:u')).toBe('ERROR_CODE_DEPTH_NOT_ENOUGH');
    expect(await f.outcome('doc:1', 'guarded', 'user:z')).toBe('denied');
    expect(await f.outcome('doc:1', 'risky', 'user:u')).toBe('allowed');
    expect(await f.outcome('doc:1', 'risky', 'user:z')).toBe('ERROR_CODE_DEPTH_NOT_ENOUGH');
    const bulk = await f.engine.bulkCheck({
      tenantId: TENANT,
      metadata: { depth: 20 },
      items: [
        { entity: parseEntity('doc:1'), permission: 'risky', subject: parseSubject('user:z') },
        { entity: parseEntity('doc:1'), permission: 'risky', subject: parseSubject('user:u') },
      ],
    });
    expect(bulk.results.map((r) => r.can)).toEqual(['denied', 'allowed']);
    expect(bulk.results[0]?.metadata.checkCount).toBe(1);
    await expect(
      f.engine.subjectPermission({
        tenantId: TENANT,
        metadata: { depth: 20 },
        entity: parseEntity('doc:1'),
        subject: parseSubject('user:z'),
      }),
    ).rejects.toMatchObject({ code: 'ERROR_CODE_DEPTH_NOT_ENOUGH' });
  });
  it('lookups and expand terminate on the schema cycle', async () => {
    expect(await f.lookupEntity('doc', 'risky', 'user:u')).toEqual(['1']);
    expect(await f.lookupSubject('doc:1', 'guarded', 'user')).toEqual(['u']);
    expect(await f.lookupSubject('doc:1', 'risky', 'user')).toEqual(['u']);
    await expect(
      f.engine.expand({ tenantId: TENANT, metadata: {}, entity: parseEntity('doc:1'), permission: 'risky' }),
    ).resolves.toBeDefined();
  });
});

describe('validation files (§7)', () => {
  const file = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  async function validate(path: string) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await validateCommand(
      [path],
      { out: (l) => out.push(l), err: (l) => err.push(l) },
      createDefaultToolkit(),
    );
    return { code, out, err };
  }
  it('audit-rules.yaml: numbers, lists, cycles, exclusion and lookups all pass', async () => {
    const r = await validate(file('audit-rules.yaml'));
    expect(r.out.filter((l) => l.trimStart().startsWith('fail'))).toEqual([]);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
  });
  it('audit-errors.yaml: errors are reported per assertion, lower-cased', async () => {
    const r = await validate(file('audit-errors.yaml'));
    expect(r.code).toBe(1);
    const fails = r.out.slice(r.out.indexOf('fails:') + 1);
    expect(fails).toEqual([
      'fail: user:c view doc:1 -> depth not enough',
      'fail: user:c view doc:1 -> depth must be greater than or equal to 3',
      'fail: user:a weighted doc:1 -> no such key: limit',
      // doc:1 is a candidate; its check runs into the group cycle, which fails the whole lookup
      'fail: user:c heavy view doc -> bulk execution failed: failed to get request result: depth not enough',
      'FAILED',
    ]);
  });
});

describe('`matches` in rules uses RE2 syntax, as cel-go does upstream (§5.3)', async () => {
  const f = await fixture(
    `entity user {}
entity account {
    attribute email string
    permission corp = corp_mail(email)
    permission plain = plain_name(email)
}
rule corp_mail(email string) {
    email.matches('(?i)@example\\\\.com\\\\z') && matches(email, '^[[:alnum:]._-]+@')
}
rule plain_name(email string) {
    email.matches('^\\\\pL+@')
}`,
    [],
    [
      'account:1$email|string:Ann@EXAMPLE.com',
      'account:2$email|string:ann@example.org',
      'account:3$email|string:élodie@x',
    ],
  );
  it('inline flags, POSIX classes, \\z and \\pL behave as in RE2', async () => {
    expect(await f.check('account:1', 'corp', 'user:x')).toBe('allowed');
    expect(await f.check('account:2', 'corp', 'user:x')).toBe('denied');
    expect(await f.check('account:3', 'plain', 'user:x')).toBe('allowed');
    expect(await f.check('account:2', 'plain', 'user:x')).toBe('allowed');
    expect(await f.lookupEntity('account', 'corp', 'user:x')).toEqual(['1']);
  });
  it('errors name `matches`, not the internal routing name', () => {
    const schema = compileSchema(
      "entity user {}\nentity a {\n    attribute s string\n    permission p = r(s)\n}\nrule r(s string) {\n    context.data.v.matches('x') && s == ''\n}\n",
    );
    const rule = schema.rules.get('r');
    expect(() => rule?.program.evaluate(new Map([['s', null]]), { v: 5 })).toThrow(
      /no matching overload for 'double\.matches\(string\)'/,
    );
    expect(() =>
      compileSchema(
        'entity user {}\nentity a {\n    attribute s string\n    permission p = r(s)\n}\nrule r(s string) {\n    s.matches(1)\n}\n',
      ),
    ).toThrow(/string\.matches\(int\)/);
  });
});

describe('lookupSubject ALL − X (§5.8.1)', async () => {
  const f = await fixture(
    `entity user {}
entity group {
    relation member @user @group#member
}
entity doc {
    relation viewer @user @group#member
    attribute pub boolean
    permission view = viewer or pub
    permission nv = pub not viewer
}`,
    ['doc:1#viewer@group:only#member', 'group:x#member@user:u1', 'doc:1#viewer@user:u2'],
    ['doc:2$pub|boolean:true'],
  );
  // A plain reference such as `group` lists `only` too (stored only as `group:only#member`; Check allows the plain
  // group:only on an ALL answer): see test/engine/lookup-subject-reference.test.ts.
  it('userset references, contextual exclusions and contextual-only subjects', async () => {
    expect(await f.lookupSubject('doc:2', 'view', 'group#member')).toEqual(['only']);
    expect(await f.lookupSubject('doc:2', 'view', 'user')).toEqual(['u1', 'u2']);
    expect(await f.lookupSubject('doc:2', 'view', 'group')).toEqual(['only']);
    const context = { tuples: ['doc:2#viewer@user:u1', 'doc:2#viewer@user:ctx'] };
    expect(await f.lookupSubject('doc:2', 'nv', 'user', { context })).toEqual(['u2']);
    expect(await f.lookupSubject('doc:2', 'view', 'user', { context: { tuples: ['doc:2#viewer@user:ctx'] } })).toEqual([
      'u1',
      'u2',
    ]);
  });
});
