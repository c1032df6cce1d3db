/** The worked examples of spec §8.1-§8.8, with exactly the outcomes stated there. */
import { describe, expect, it } from 'vitest';
import { parseEntity, parseSubject } from '../../src/data/notation.js';
import type { ExpandNode } from '../../src/engine/types.js';
import { fixture, TENANT } from './support.js';

/** Expand tree in a compact, comparable shape (subjects as sets, sorted). */
function compact(n: ExpandNode): unknown {
  const head = `${n.entity.type}:${n.entity.id}#${n.permission}`;
  if (n.expand !== undefined) return { [head]: n.expand.operation, children: n.expand.children.map(compact) };
  const leaf = n.leaf;
  if (leaf?.kind === 'subjects') {
    return {
      [head]: leaf.subjects
        .map((s) => (s.relation === '' ? `${s.type}:${s.id}` : `${s.type}:${s.id}#${s.relation}`))
        .sort(),
    };
  }
  if (leaf?.kind === 'value') return { [head]: leaf.value };
  if (leaf?.kind === 'values') return { [head]: Object.fromEntries(leaf.values), args: n.arguments };
  return head;
}

describe('8.1 nested groups and exclusion', async () => {
  const schema = `
entity user {}

entity group {
    relation member @user @group#member
}

entity document {
    relation owner  @user
    relation viewer @user @group#member
    relation banned @user @group#member

    permission edit = owner
    permission view = (viewer or edit) not banned
}`;
  const data = [
    'group:eng#member@user:alice',
    'group:eng#member@group:frontend#member',
    'group:frontend#member@user:bob',
    'group:contractors#member@user:bob',
    'document:d1#viewer@group:eng#member',
    'document:d1#viewer@user:carol',
    'document:d1#banned@group:contractors#member',
    'document:d1#owner@user:dave',
    'document:d2#owner@user:bob',
  ];
  const f = await fixture(schema, data);

  it.each([
    ['document:d1', 'view', 'user:alice', 'allowed'],
    ['document:d1', 'view', 'user:bob', 'denied'],
    ['document:d1', 'view', 'user:carol', 'allowed'],
    ['document:d1', 'view', 'user:dave', 'allowed'],
    ['document:d1', 'edit', 'user:bob', 'denied'],
    ['document:d2', 'view', 'user:bob', 'allowed'],
    ['document:d1', 'view', 'user:erin', 'denied'],
    ['document:d1', 'viewer', 'user:bob', 'allowed'],
    ['document:d1', 'banned', 'user:bob', 'allowed'],
    ['document:d1', 'viewer', 'group:frontend#member', 'allowed'],
    ['document:d1', 'view', 'group:frontend#member', 'allowed'],
    ['document:d1', 'view', 'group:contractors#member', 'denied'],
    ['group:eng', 'member', 'group:eng#member', 'allowed'],
  ])('check %s %s %s = %s', async (e, p, s, want) => {
    expect(await f.check(e, p, s)).toBe(want);
  });

  it.each([
    ['user:alice', ['d1']],
    ['user:bob', ['d2']],
    ['user:carol', ['d1']],
    ['user:dave', ['d1']],
    ['user:erin', []],
  ])('lookupEntity document view %s', async (s, want) => {
    expect(await f.lookupEntity('document', 'view', s)).toEqual(want);
  });

  it.each([
    ['view', 'user', ['alice', 'carol', 'dave']],
    ['viewer', 'user', ['alice', 'bob', 'carol']],
    ['edit', 'user', ['dave']],
    ['viewer', 'group#member', ['eng']],
  ])('lookupSubject document:d1 %s %s', async (p, ref, want) => {
    expect(await f.lookupSubject('document:d1', p, ref)).toEqual(want);
  });

  it('subjectPermission', async () => {
    const run = async (onlyPermission: boolean) =>
      Object.fromEntries(
        (
          await f.engine.subjectPermission({
            tenantId: TENANT,
            metadata: { depth: 20, onlyPermission },
            entity: parseEntity('document:d1'),
            subject: parseSubject('user:bob'),
          })
        ).results,
      );
    expect(await run(false)).toEqual({
      edit: 'denied',
      view: 'denied',
      owner: 'denied',
      viewer: 'allowed',
      banned: 'allowed',
    });
    expect(await run(true)).toEqual({ edit: 'denied', view: 'denied' });
  });

  it('expand', async () => {
    const { tree } = await f.engine.expand({
      tenantId: TENANT,
      metadata: {},
      entity: parseEntity('document:d1'),
      permission: 'view',
    });
    expect(compact(tree)).toEqual({
      'document:d1#view': 'exclusion',
      children: [
        {
          'document:d1#view': 'union',
          children: [
            {
              'document:d1#viewer': 'union',
              children: [
                {
                  'group:eng#member': 'union',
                  children: [
                    { 'group:frontend#member': ['user:bob'] },
                    { 'group:eng#member': ['group:frontend#member', 'user:alice'] },
                  ],
                },
                { 'document:d1#viewer': ['group:eng#member', 'user:carol'] },
              ],
            },
            { 'document:d1#owner': ['user:dave'] },
          ],
        },
        {
          'document:d1#banned': 'union',
          children: [
            { 'group:contractors#member': ['user:bob'] },
            { 'document:d1#banned': ['group:contractors#member'] },
          ],
        },
      ],
    });
    // Leaves list direct subjects first, then usersets.
    const viewerLeaf = tree.expand?.children[0]?.expand?.children[0]?.expand?.children[1];
    expect(viewerLeaf?.leaf).toEqual({
      kind: 'subjects',
      subjects: [
        { type: 'user', id: 'carol', relation: '' },
        { type: 'group', id: 'eng', relation: 'member' },
      ],
    });
  });
});

describe('8.2 intersection across a walk', async () => {
  const f = await fixture(
    `
entity user {}
entity team {
    relation member @user
    relation admin  @user
    permission govern = member and admin
}
entity board {
    relation team @team
    permission purge_any  = team.member and team.admin
    permission purge_same = team.govern
}`,
    [
      'team:t1#member@user:u1',
      'team:t2#admin@user:u1',
      'board:b1#team@team:t1',
      'board:b1#team@team:t2',
      'team:t3#member@user:u2',
      'team:t3#admin@user:u2',
      'board:b2#team@team:t3',
    ],
  );
  it('checks', async () => {
    expect(await f.check('board:b1', 'purge_any', 'user:u1')).toBe('allowed');
    expect(await f.check('board:b1', 'purge_same', 'user:u1')).toBe('denied');
    expect(await f.check('board:b2', 'purge_any', 'user:u2')).toBe('allowed');
    expect(await f.check('board:b2', 'purge_same', 'user:u2')).toBe('allowed');
    expect(await f.check('board:b2', 'purge_any', 'user:u1')).toBe('denied');
  });
  it('lookups', async () => {
    expect(await f.lookupEntity('board', 'purge_any', 'user:u1')).toEqual(['b1']);
    expect(await f.lookupEntity('board', 'purge_same', 'user:u1')).toEqual([]);
    expect(await f.lookupSubject('board:b1', 'purge_any', 'user')).toEqual(['u1']);
    expect(await f.lookupSubject('board:b1', 'purge_same', 'user')).toEqual([]);
    expect(await f.lookupSubject('board:b2', 'purge_same', 'user')).toEqual(['u2']);
  });
});

const folders = `
entity user {}

entity folder {
    relation parent @folder
    relation owner  @user
    relation viewer @user
    permission view = owner or viewer or parent.view
}

entity doc {
    relation parent @folder
    relation owner  @user
    permission view = owner or parent.view
}`;
const folderData = [
  'folder:root#viewer@user:ann',
  'folder:a#parent@folder:root',
  'folder:b#parent@folder:a',
  'doc:1#parent@folder:b',
  'doc:2#owner@user:ben',
];

describe('8.3 recursive folders and the depth budget', async () => {
  const f = await fixture(folders, folderData);
  it.each([
    [3, 'user:ann', 'ERROR_CODE_DEPTH_NOT_ENOUGH'],
    [4, 'user:ann', 'allowed'],
    [20, 'user:ann', 'allowed'],
    [3, 'user:ben', 'ERROR_CODE_DEPTH_NOT_ENOUGH'],
    [4, 'user:ben', 'denied'],
    [20, 'user:ben', 'denied'],
  ])('depth %i: doc:1 view %s = %s', async (depth, s, want) => {
    expect(await f.outcome('doc:1', 'view', s, { depth })).toBe(want);
  });
  it('other results', async () => {
    expect(await f.lookupEntity('folder', 'view', 'user:ann')).toEqual(['a', 'b', 'root']);
    expect(await f.lookupEntity('doc', 'view', 'user:ann')).toEqual(['1']);
    expect(await f.lookupEntity('doc', 'view', 'user:ben')).toEqual(['2']);
    expect(await f.lookupSubject('doc:1', 'view', 'user')).toEqual(['ann']);
    expect(await f.check('doc:1', 'parent', 'user:ann')).toBe('denied');
    expect(await f.check('doc:1', 'parent', 'folder:b')).toBe('allowed');
    expect(await f.check('folder:a', 'view', 'folder:root#viewer')).toBe('allowed');
    const sp = await f.engine.subjectPermission({
      tenantId: TENANT,
      metadata: { depth: 20 },
      entity: parseEntity('doc:1'),
      subject: parseSubject('user:ann'),
    });
    expect(Object.fromEntries(sp.results)).toEqual({ view: 'allowed', parent: 'denied', owner: 'denied' });
  });
  it('with a parent cycle: denied users get the depth error, ann is allowed, lookups terminate', async () => {
    const g = await fixture(folders, [...folderData, 'folder:root#parent@folder:b']);
    expect(await g.outcome('doc:1', 'view', 'user:ben', { depth: 50 })).toBe('ERROR_CODE_DEPTH_NOT_ENOUGH');
    expect(await g.outcome('doc:1', 'view', 'user:ann', { depth: 50 })).toBe('allowed');
    expect(await g.lookupEntity('folder', 'view', 'user:ann')).toEqual(['a', 'b', 'root']);
  });
});

describe('8.4 rules with context.data, defaults and contextual attributes', async () => {
  const f = await fixture(
    `
entity user {}

entity wallet {
    relation holder @user
    attribute funds double
    permission spend = enough_funds(funds) and holder
    permission nearly_empty = is_nearly_empty(funds)
}

rule enough_funds(funds double) {
    funds >= context.data.cost && context.data.cost <= 5000.0
}

rule is_nearly_empty(funds double) {
    funds < 100.0
}`,
    ['wallet:w1#holder@user:ana', 'wallet:w2#holder@user:sam', 'wallet:w3#holder@user:ana'],
    ['wallet:w1$funds|double:4000', 'wallet:w3$funds|double:10000'],
  );
  it.each([
    ['wallet:w1', 'spend', 'user:ana', { data: { cost: 3000 } }, 'allowed'],
    ['wallet:w1', 'spend', 'user:sam', { data: { cost: 3000 } }, 'denied'],
    ['wallet:w1', 'spend', 'user:ana', { data: { cost: 4500 } }, 'denied'],
    ['wallet:w3', 'spend', 'user:ana', { data: { cost: 6000 } }, 'denied'],
    ['wallet:w2', 'spend', 'user:sam', { data: { cost: 100 } }, 'denied'],
    ['wallet:w2', 'spend', 'user:sam', { data: { cost: 0 } }, 'allowed'],
    ['wallet:w1', 'spend', 'user:ana', undefined, 'ERROR_CODE_INVALID_ARGUMENT'],
    ['wallet:w1', 'spend', 'user:sam', undefined, 'denied'],
    ['wallet:w2', 'spend', 'user:sam', { data: { cost: 100 }, attributes: ['wallet:w2$funds|double:500'] }, 'allowed'],
    ['wallet:w1', 'spend', 'user:ana', { data: { cost: 3000 }, attributes: ['wallet:w1$funds|double:100'] }, 'allowed'],
    ['wallet:w2', 'nearly_empty', 'user:zoe', undefined, 'allowed'],
    ['wallet:w1', 'nearly_empty', 'user:zoe', undefined, 'denied'],
  ])('check %s %s %s %j = %s', async (e, p, s, context, want) => {
    expect(await f.outcome(e, p, s, { context })).toBe(want);
  });
  it('a non-boolean attribute named by the request is an error', async () => {
    const code = await f.outcome('wallet:w1', 'funds', 'user:ana');
    expect(code).toMatch(/^ERROR_CODE_/);
  });
  it('the missing context key error names the key', async () => {
    await expect(f.check('wallet:w1', 'spend', 'user:ana')).rejects.toThrow(/cost/);
  });
  it('lookups', async () => {
    expect(await f.lookupEntity('wallet', 'spend', 'user:ana', { context: { data: { cost: 3000 } } })).toEqual([
      'w1',
      'w3',
    ]);
    expect(await f.lookupEntity('wallet', 'spend', 'user:sam', { context: { data: { cost: 0 } } })).toEqual(['w2']);
    expect(await f.lookupEntity('wallet', 'nearly_empty', 'user:zoe')).toEqual([]);
    expect(await f.lookupSubject('wallet:w1', 'spend', 'user', { context: { data: { cost: 3000 } } })).toEqual(['ana']);
    expect(await f.lookupSubject('wallet:w1', 'spend', 'user', { context: { data: { cost: 4500 } } })).toEqual([]);
    expect(await f.lookupSubject('wallet:w2', 'nearly_empty', 'user')).toEqual(['ana', 'sam']);
  });
  it('expand shows argument values and never evaluates the rule', async () => {
    const { tree } = await f.engine.expand({
      tenantId: TENANT,
      metadata: {},
      entity: parseEntity('wallet:w1'),
      permission: 'spend',
    });
    expect(compact(tree)).toEqual({
      'wallet:w1#spend': 'intersection',
      children: [
        { 'wallet:w1#enough_funds': { funds: { type: 'double', value: 4000 } }, args: ['funds'] },
        { 'wallet:w1#holder': ['user:ana'] },
      ],
    });
    const w2 = await f.engine.expand({
      tenantId: TENANT,
      metadata: {},
      entity: parseEntity('wallet:w2'),
      permission: 'spend',
    });
    expect(compact(w2.tree)).toMatchObject({
      children: [
        { 'wallet:w2#enough_funds': { funds: { type: 'double', value: 0 } } },
        { 'wallet:w2#holder': ['user:sam'] },
      ],
    });
  });
});

describe('8.5 array attributes', async () => {
  const f = await fixture(
    `
entity user {}

entity office {
    relation manager @user
    attribute subnets string[]
    permission enter = from_subnet(subnets) or manager
}

rule from_subnet(subnets string[]) {
    context.data.ip in subnets
}`,
    ['office:o1#manager@user:u1'],
    ['office:o1$subnets|string[]:10.1.0.5,10.1.0.6', 'office:o2$subnets|string[]:172.16.0.9'],
  );
  it.each([
    ['office:o1', 'user:u2', { ip: '10.1.0.6' }, 'allowed'],
    ['office:o1', 'user:u2', { ip: '1.2.3.4' }, 'denied'],
    ['office:o1', 'user:u1', { ip: '1.2.3.4' }, 'allowed'],
    ['office:o3', 'user:u2', { ip: '10.1.0.5' }, 'denied'],
    ['office:o1', 'user:u2', undefined, 'ERROR_CODE_INVALID_ARGUMENT'],
    ['office:o1', 'user:u1', undefined, 'allowed'],
  ])('check %s enter %s %j = %s', async (e, s, data, want) => {
    expect(await f.outcome(e, 'enter', s, { context: data === undefined ? undefined : { data } })).toBe(want);
  });
  it('lookups', async () => {
    expect(await f.lookupEntity('office', 'enter', 'user:u2', { context: { data: { ip: '172.16.0.9' } } })).toEqual([
      'o2',
    ]);
    expect(await f.lookupEntity('office', 'enter', 'user:u1', { context: { data: { ip: '172.16.0.9' } } })).toEqual([
      'o1',
      'o2',
    ]);
    expect(await f.lookupSubject('office:o2', 'enter', 'user', { context: { data: { ip: '172.16.0.9' } } })).toEqual([
      'u1',
    ]);
    expect(await f.lookupSubject('office:o1', 'enter', 'user', { context: { data: { ip: '1.2.3.4' } } })).toEqual([
      'u1',
    ]);
  });
});

describe('8.6 boolean attributes through walks', async () => {
  const f = await fixture(
    `
entity user {}

entity profile {
    relation owner @user
    relation fan @user
    relation friend @user
    attribute open boolean
    permission see = (owner or fan) or open
}

entity photo {
    relation profile @profile
    attribute locked boolean
    permission see = profile.see
    permission reply = profile.friend not locked
}`,
    [
      'profile:p1#owner@user:kim',
      'profile:p2#owner@user:lee',
      'profile:p1#friend@user:lee',
      'profile:p2#fan@user:kim',
      'photo:x1#profile@profile:p1',
      'photo:x2#profile@profile:p2',
    ],
    [
      'profile:p1$open|boolean:true',
      'profile:p2$open|boolean:false',
      'photo:x1$locked|boolean:false',
      'photo:x2$locked|boolean:true',
    ],
  );
  it.each([
    ['photo:x1', 'see', 'user:zed', undefined, 'allowed'],
    ['photo:x2', 'see', 'user:kim', undefined, 'allowed'],
    ['photo:x2', 'see', 'user:lee', undefined, 'allowed'],
    ['photo:x2', 'see', 'user:zed', undefined, 'denied'],
    ['photo:x1', 'reply', 'user:lee', undefined, 'allowed'],
    ['photo:x1', 'reply', 'user:kim', undefined, 'denied'],
    ['photo:x2', 'reply', 'user:lee', undefined, 'denied'],
    ['photo:x2', 'reply', 'user:kim', undefined, 'denied'],
    ['photo:x1', 'reply', 'user:lee', { attributes: ['photo:x1$locked|boolean:true'] }, 'denied'],
  ])('check %s %s %s %j = %s', async (e, p, s, context, want) => {
    expect(await f.check(e, p, s, { context })).toBe(want);
  });
  it('lookups', async () => {
    expect(await f.lookupEntity('photo', 'see', 'user:zed')).toEqual(['x1']);
    expect(await f.lookupEntity('photo', 'see', 'user:kim')).toEqual(['x1', 'x2']);
    expect(await f.lookupEntity('photo', 'reply', 'user:lee')).toEqual(['x1']);
    expect(await f.lookupSubject('photo:x2', 'see', 'user')).toEqual(['kim', 'lee']);
    expect(await f.lookupSubject('photo:x1', 'reply', 'user')).toEqual(['lee']);
    expect(await f.lookupSubject('photo:x1', 'see', 'user')).toEqual(['kim', 'lee']);
  });
  it('expand: a single-operand permission is the walk node', async () => {
    const { tree } = await f.engine.expand({
      tenantId: TENANT,
      metadata: {},
      entity: parseEntity('photo:x1'),
      permission: 'see',
    });
    expect(compact(tree)).toEqual({
      'photo:x1#profile': 'union',
      children: [
        {
          'profile:p1#see': 'union',
          children: [
            { 'profile:p1#see': 'union', children: [{ 'profile:p1#owner': ['user:kim'] }, { 'profile:p1#fan': [] }] },
            { 'profile:p1#open': { type: 'boolean', value: true } },
          ],
        },
      ],
    });
  });
});

describe('8.7 contextual tuples', async () => {
  const f = await fixture(
    `
entity user {}

entity company {
    relation boss @user
    relation staff @user
    permission open_project = boss or staff
    permission close = boss
}

entity project {
    relation lead @user @company#staff
    relation company @company
    permission commit = lead
    permission audit = lead and (company.boss and company.staff)
    permission archive = company.staff and (company.boss or lead)
    permission review = company.staff not lead
}`,
    [
      'company:c1#boss@user:ann',
      'company:c1#staff@user:ann',
      'project:1#lead@user:ann',
      'project:2#lead@user:bo',
      'project:2#lead@user:cy',
      'project:1#company@company:c1#...',
      'company:c1#staff@user:dee',
      'project:1#lead@user:dee',
    ],
  );
  it('checks', async () => {
    expect(await f.check('project:1', 'commit', 'user:ann')).toBe('allowed');
    expect(await f.check('project:1', 'lead', 'user:ann')).toBe('allowed');
    expect(await f.check('project:2', 'commit', 'user:ann')).toBe('denied');
    expect(await f.check('project:3', 'commit', 'user:ann', { context: { tuples: ['project:3#lead@user:ann'] } })).toBe(
      'allowed',
    );
    expect(await f.check('project:1', 'review', 'user:dee')).toBe('denied');
    expect(await f.check('project:1', 'audit', 'user:ann')).toBe('allowed');
    expect(await f.check('project:1', 'archive', 'user:dee')).toBe('allowed');
  });
  it('entity filters', async () => {
    const context = { tuples: ['project:3#lead@user:ann', 'project:4#lead@user:ann', 'project:5#lead@user:ann'] };
    expect(await f.lookupEntity('project', 'commit', 'user:ann', { context })).toEqual(['1', '3', '4', '5']);
    expect(await f.lookupEntity('project', 'review', 'user:ann', { context })).toEqual([]);
  });
  it('subject filters', async () => {
    const context = { tuples: ['company:c1#staff@user:eve'] };
    expect(await f.lookupSubject('project:1', 'commit', 'user', { context })).toEqual(['ann', 'dee']);
    expect(await f.lookupSubject('project:1', 'review', 'user', { context })).toEqual(['eve']);
  });
});

describe('8.8 precedence and pagination', async () => {
  const f = await fixture(
    `
entity user {}
entity doc {
    relation a @user
    relation b @user
    relation c @user
    permission p = a or b and c
    permission q = a or (b and c)
    permission r = a not b or c
}`,
    ['doc:1#a@user:1', 'doc:1#b@user:2', 'doc:1#c@user:2', 'doc:1#c@user:3'],
  );
  it.each([
    ['user:1', 'denied', 'allowed', 'allowed'],
    ['user:2', 'allowed', 'allowed', 'allowed'],
    ['user:3', 'denied', 'denied', 'allowed'],
  ])('%s: p %s, q %s, r %s', async (s, p, q, r) => {
    expect([await f.check('doc:1', 'p', s), await f.check('doc:1', 'q', s), await f.check('doc:1', 'r', s)]).toEqual([
      p,
      q,
      r,
    ]);
  });
  it('lookupSubject', async () => {
    expect(await f.lookupSubject('doc:1', 'p', 'user')).toEqual(['2']);
    expect(await f.lookupSubject('doc:1', 'q', 'user')).toEqual(['1', '2']);
    expect(await f.lookupSubject('doc:1', 'r', 'user')).toEqual(['1', '2', '3']);
  });

  const paged = async () =>
    fixture('entity user {}\nentity doc {\n relation viewer @user\n permission view = viewer\n}', [
      'doc:1#viewer@user:u',
      'doc:2#viewer@user:u',
      'doc:3#viewer@user:u',
      'doc:10#viewer@user:u',
      'doc:9#viewer@user:1',
      'doc:9#viewer@user:10',
      'doc:9#viewer@user:2',
      'doc:9#viewer@user:3',
    ]);
  const le = {
    tenantId: TENANT,
    metadata: { depth: 20 },
    entityType: 'doc',
    permission: 'view',
    subject: parseSubject('user:u'),
  };

  it('lookupEntity pages in byte order; the token resumes at the next candidate', async () => {
    const g = await paged();
    const p1 = await g.engine.lookupEntity({ ...le, pageSize: 2 });
    expect(p1.entityIds).toEqual(['1', '10']);
    expect(p1.continuousToken).not.toBe('');
    const p2 = await g.engine.lookupEntity({ ...le, pageSize: 2, continuousToken: p1.continuousToken });
    expect(p2).toEqual({ entityIds: ['2', '3'], continuousToken: '' });
  });
  it('the stream sends the same ids with per-item tokens', async () => {
    const g = await paged();
    const items = [];
    for await (const item of g.engine.lookupEntityStream({ ...le, pageSize: 2 })) items.push(item);
    expect(items.map((i) => i.entityId)).toEqual(['1', '10']);
    const page = await g.engine.lookupEntity({ ...le, pageSize: 2 });
    expect(items[1]?.continuousToken).toBe(page.continuousToken);
    const next = await g.engine.lookupEntity({ ...le, pageSize: 1, continuousToken: items[0]?.continuousToken ?? '' });
    expect(next.entityIds).toEqual(['10']);
  });
  it('lookupSubject pages the same way', async () => {
    const g = await paged();
    const base = {
      tenantId: TENANT,
      metadata: { depth: 20 },
      entity: parseEntity('doc:9'),
      permission: 'view',
      subjectReference: { type: 'user', relation: '' },
      pageSize: 2,
    };
    const p1 = await g.engine.lookupSubject(base);
    expect(p1.subjectIds).toEqual(['1', '10']);
    const p2 = await g.engine.lookupSubject({ ...base, continuousToken: p1.continuousToken });
    expect(p2).toEqual({ subjectIds: ['2', '3'], continuousToken: '' });
  });
  it('scope restricts candidates', async () => {
    const g = await paged();
    const r = await g.engine.lookupEntity({ ...le, scope: new Map([['doc', ['2', '3', '7']]]) });
    expect(r).toEqual({ entityIds: ['2', '3'], continuousToken: '' });
    const items = [];
    for await (const item of g.engine.lookupEntityStream({ ...le, scope: new Map([['doc', ['2', '3', '7']]]) }))
      items.push(item.entityId);
    expect(items).toEqual(['2', '3']);
  });
});
