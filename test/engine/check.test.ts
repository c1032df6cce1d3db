/** Check semantics of spec §5.1-§5.5, one case each, against the real memory store. */
import { describe, expect, it } from 'vitest';
import { parseEntity, parseSubject } from '../../src/data/notation.js';
import { isPermifyError } from '../../src/errors.js';
import { createEngine } from '../../src/engine/index.js';
import { createMemoryStore } from '../../src/storage/memory/index.js';
import { fixture, TENANT } from './support.js';

const schema = `
entity user {}
entity team {
    relation member @user
}
entity group {
    relation member @user @group#member
}
entity folder {
    relation owner @user
    relation viewer @user @group#member
    attribute public boolean
    permission view = owner or viewer or public
}
entity doc {
    relation parent @folder
    relation owner @user @team
    relation editor @user @group#member
    relation viewer @user @group#member
    relation banned @user
    attribute open boolean
    attribute level integer
    permission edit = owner or editor
    permission view = (edit or viewer or parent.view or open) not banned
    permission strict = owner and editor
    permission loop_a = loop_b
    permission loop_b = loop_a
    permission high = is_high(level)
}
rule is_high(level integer) {
    level > 5
}`;

describe('check semantics', async () => {
  const f = await fixture(
    schema,
    [
      'doc:1#owner@user:o',
      'doc:1#owner@team:t',
      'team:t#member@user:tm',
      'doc:1#parent@folder:f#viewer',
      'folder:f#viewer@user:fv',
      'folder:f#owner@user:fo',
      'doc:2#editor@group:g1#member',
      'group:g1#member@group:g2#member',
      'group:g2#member@group:g1#member',
      'group:g2#member@user:deep',
      'doc:3#banned@user:fo',
      'doc:3#parent@folder:f',
    ],
    ['folder:pub$public|boolean:true', 'doc:9$level|integer:7', 'doc:8$level|integer:1'],
  );

  it('trivial self-check: E#P for subject E#P is allowed; ... equals empty relation', async () => {
    expect(await f.check('doc:77', 'view', 'doc:77#view')).toBe('allowed');
    expect(await f.check('doc:77', 'owner', 'doc:77#owner')).toBe('allowed');
    expect(await f.check('doc:77', 'owner', 'doc:78#owner')).toBe('denied');
  });
  it('computed usersets and direct relations', async () => {
    expect(await f.check('doc:1', 'edit', 'user:o')).toBe('allowed');
    expect(await f.check('doc:1', 'owner', 'user:o')).toBe('allowed');
    expect(await f.check('doc:1', 'edit', 'user:x')).toBe('denied');
  });
  it('non-user direct subjects are opaque', async () => {
    expect(await f.check('doc:1', 'owner', 'team:t')).toBe('allowed');
    expect(await f.check('doc:1', 'owner', 'user:tm')).toBe('denied');
  });
  it('walks ignore the stored subject relation', async () => {
    // doc:1#parent@folder:f#viewer: the walk evaluates folder:f#view, so the folder owner can view.
    expect(await f.check('doc:1', 'view', 'user:fo')).toBe('allowed');
    expect(await f.check('doc:1', 'view', 'user:fv')).toBe('allowed');
  });
  it('usersets recurse through data (with a data cycle) and a userset can be the subject', async () => {
    expect(await f.check('doc:2', 'edit', 'user:deep')).toBe('allowed');
    expect(await f.check('doc:2', 'editor', 'group:g2#member')).toBe('allowed');
    // No allowed branch through the cycle: the budget runs out.
    expect(await f.outcome('doc:2', 'edit', 'user:nobody')).toBe('ERROR_CODE_DEPTH_NOT_ENOUGH');
  });
  it('schema cycles end in DEPTH_NOT_ENOUGH', async () => {
    expect(await f.outcome('doc:1', 'loop_a', 'user:o', { depth: 50 })).toBe('ERROR_CODE_DEPTH_NOT_ENOUGH');
  });
  it('exclusion is per entity; attributes are entity-level', async () => {
    expect(await f.check('doc:3', 'view', 'user:fo')).toBe('denied');
    expect(await f.check('doc:3', 'view', 'user:fv')).toBe('allowed');
    expect(await f.check('folder:pub', 'view', 'user:anyone')).toBe('allowed');
    expect(await f.check('folder:other', 'view', 'user:anyone')).toBe('denied');
    expect(await f.check('folder:pub', 'public', 'user:anyone')).toBe('allowed');
  });
  it('intersection', async () => {
    expect(await f.check('doc:1', 'strict', 'user:o')).toBe('denied');
    expect(
      await f.check('doc:5', 'strict', 'user:z', {
        context: { tuples: ['doc:5#owner@user:z', 'doc:5#editor@user:z'] },
      }),
    ).toBe('allowed');
  });
  it('contextual tuples take part in relations, walks and usersets', async () => {
    expect(await f.check('doc:4', 'view', 'user:c', { context: { tuples: ['doc:4#viewer@user:c'] } })).toBe('allowed');
    expect(await f.check('doc:4', 'view', 'user:fv', { context: { tuples: ['doc:4#parent@folder:f'] } })).toBe(
      'allowed',
    );
    expect(
      await f.check('doc:4', 'view', 'user:u', {
        context: { tuples: ['doc:4#viewer@group:gx#member', 'group:gx#member@user:u'] },
      }),
    ).toBe('allowed');
    // A contextual duplicate of a stored tuple changes nothing; contextual tuples can trigger exclusion.
    expect(await f.check('doc:1', 'owner', 'user:o', { context: { tuples: ['doc:1#owner@user:o'] } })).toBe('allowed');
    expect(await f.check('doc:1', 'view', 'user:o', { context: { tuples: ['doc:1#banned@user:o'] } })).toBe('denied');
  });
  it('bare attributes: contextual first, missing ⇒ denied, non-boolean ⇒ error', async () => {
    expect(
      await f.check('folder:pub', 'view', 'user:a', { context: { attributes: ['folder:pub$public|boolean:false'] } }),
    ).toBe('denied');
    expect(await f.check('doc:6', 'view', 'user:a', { context: { attributes: ['doc:6$open|boolean:true'] } })).toBe(
      'allowed',
    );
    expect(await f.outcome('doc:9', 'level', 'user:a')).toBe('ERROR_CODE_TYPE_CONVERSATION');
  });
  it('rules: stored values, defaults, and a request naming a rule directly', async () => {
    expect(await f.check('doc:9', 'high', 'user:a')).toBe('allowed');
    expect(await f.check('doc:8', 'high', 'user:a')).toBe('denied');
    expect(await f.check('doc:7', 'high', 'user:a')).toBe('denied');
    expect(await f.check('doc:7', 'high', 'user:a', { context: { attributes: ['doc:7$level|integer:9'] } })).toBe(
      'allowed',
    );
    expect(await f.check('doc:8', 'high', 'user:a', { context: { attributes: ['doc:8$level|integer:9'] } })).toBe(
      'denied',
    );
    expect(await f.check('doc:9', 'is_high', 'user:a', { arguments: ['level'] })).toBe('allowed');
    // Without arguments the parameter is unbound: an evaluation error.
    expect(await f.outcome('doc:9', 'is_high', 'user:a')).toBe('ERROR_CODE_INVALID_ARGUMENT');
  });
  it('name resolution errors', async () => {
    expect(await f.outcome('doc:1', 'no_such_name', 'user:o')).toBe('ERROR_CODE_SCHEMA_NOT_FOUND');
    expect(await f.outcome('nosuchtype:1', 'view', 'user:o')).toBe('ERROR_CODE_SCHEMA_NOT_FOUND');
  });
  it('schema resolution: no schema, unknown version, explicit version', async () => {
    const store = createMemoryStore();
    const engine = createEngine({ reader: store.reader, schemas: store.schemas });
    const req = {
      tenantId: TENANT,
      metadata: { depth: 5 },
      entity: parseEntity('doc:1'),
      permission: 'owner',
      subject: parseSubject('user:o'),
    };
    await expect(engine.check(req)).rejects.toMatchObject({ code: 'ERROR_CODE_SCHEMA_NOT_FOUND' });
    const g = await fixture(schema, ['doc:1#owner@user:o']);
    await expect(
      g.engine.check({ ...req, metadata: { depth: 5, schemaVersion: 'nosuchversion' } }),
    ).rejects.toMatchObject({
      code: 'ERROR_CODE_SCHEMA_NOT_FOUND',
    });
    const v2 = await g.store.schemas.writeSchema(TENANT, [
      { name: 'x', definition: 'entity user {}\nentity doc {\n relation writer @user\n}' },
    ]);
    // The head moved: "owner" is no longer defined (treated as a rule name, not found).
    await expect(g.engine.check(req)).rejects.toMatchObject({ code: 'ERROR_CODE_SCHEMA_NOT_FOUND' });
    expect((await g.engine.check({ ...req, metadata: { depth: 5, schemaVersion: g.version } })).can).toBe('allowed');
    expect(
      (await g.engine.check({ ...req, permission: 'writer', metadata: { depth: 5, schemaVersion: v2 } })).can,
    ).toBe('denied');
  });
  it('a missing schema while the head token is still being read is one rejection, never an unhandled one', async () => {
    const store = createMemoryStore();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      // The head token arrives well after the schema lookup has already failed (as on a remote database).
      const slowReader = Object.create(store.reader) as typeof store.reader;
      slowReader.headSnapToken = async (tenantId, signal) => {
        await new Promise((r) => setTimeout(r, 30));
        return store.reader.headSnapToken(tenantId, signal);
      };
      const engine = createEngine({ reader: slowReader, schemas: store.schemas });
      await expect(
        engine.check({
          tenantId: TENANT,
          metadata: { depth: 5 },
          entity: parseEntity('doc:1'),
          permission: 'owner',
          subject: parseSubject('user:o'),
        }),
      ).rejects.toMatchObject({ code: 'ERROR_CODE_SCHEMA_NOT_FOUND' });
      await new Promise((r) => setTimeout(r, 10));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });
  it('snap tokens pin the data', async () => {
    const before = f.token;
    const after = await f.write(['doc:50#owner@user:late']);
    expect(await f.check('doc:50', 'owner', 'user:late', { snapToken: before })).toBe('denied');
    expect(await f.check('doc:50', 'owner', 'user:late', { snapToken: after })).toBe('allowed');
    expect(await f.check('doc:50', 'owner', 'user:late')).toBe('allowed');
  });
  it('an aborted signal cancels', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(
      f.engine.check(
        {
          tenantId: TENANT,
          metadata: { depth: 20 },
          entity: parseEntity('doc:1'),
          permission: 'view',
          subject: parseSubject('user:x'),
        },
        ac.signal,
      ),
    ).rejects.toSatisfy(
      (e: unknown) => isPermifyError(e) && (e.code === 'ERROR_CODE_CANCELLED' || e.code === 'DEADLINE_EXCEEDED'),
    );
  });
  it('check_count is positive for computed answers', async () => {
    const r = await f.engine.check({
      tenantId: TENANT,
      metadata: { depth: 20 },
      entity: parseEntity('doc:1'),
      permission: 'view',
      subject: parseSubject('user:o'),
    });
    expect(r.metadata.checkCount).toBeGreaterThan(0);
  });
});

describe('depth boundaries (§5.4)', async () => {
  const chain = `
entity user {}
entity node {
    relation next @node
    relation member @user
    permission reach = member or next.reach
}`;
  // node:0 -> node:1 -> node:2 ; member at node:2
  const f = await fixture(chain, ['node:0#next@node:1', 'node:1#next@node:2', 'node:2#member@user:u']);
  // Nested invokes for u: node:1#reach [1], node:2#reach [2], node:2#member [3]. Check needs depth 3.
  it('check needs exactly as many units as nested steps', async () => {
    expect(await f.outcome('node:0', 'reach', 'user:u', { depth: 2 })).toBe('ERROR_CODE_DEPTH_NOT_ENOUGH');
    expect(await f.outcome('node:0', 'reach', 'user:u', { depth: 3 })).toBe('allowed');
  });
  it('lookups and SubjectPermission allow one more nested step than Check', async () => {
    const sp = (depth: number) =>
      f.engine.subjectPermission({
        tenantId: TENANT,
        metadata: { depth },
        entity: parseEntity('node:0'),
        subject: parseSubject('user:u'),
      });
    expect(Object.fromEntries((await sp(2)).results)).toMatchObject({ reach: 'allowed' });
    await expect(sp(1)).rejects.toMatchObject({ code: 'ERROR_CODE_DEPTH_NOT_ENOUGH' });
    const le = (depth: number) =>
      f.engine.lookupEntity({
        tenantId: TENANT,
        metadata: { depth },
        entityType: 'node',
        permission: 'reach',
        subject: parseSubject('user:u'),
      });
    expect((await le(2)).entityIds).toEqual(['0', '1', '2']);
    await expect(le(1)).rejects.toMatchObject({ code: 'ERROR_CODE_INTERNAL', message: /DEPTH_NOT_ENOUGH/ });
  });
});

describe('bulk check (§5.5)', async () => {
  const f = await fixture(schema, ['doc:1#owner@user:o']);
  it('answers items in order; failing items are denied with check_count 1', async () => {
    const r = await f.engine.bulkCheck({
      tenantId: TENANT,
      metadata: { depth: 20 },
      items: [
        { entity: parseEntity('doc:1'), permission: 'edit', subject: parseSubject('user:o') },
        { entity: parseEntity('doc:1'), permission: 'typo', subject: parseSubject('user:o') },
        { entity: parseEntity('doc:1'), permission: 'edit', subject: parseSubject('user:x') },
        { entity: parseEntity('nosuch:1'), permission: 'edit', subject: parseSubject('user:x') },
      ],
    });
    expect(r.results.map((x) => x.can)).toEqual(['allowed', 'denied', 'denied', 'denied']);
    expect(r.results[1]?.metadata.checkCount).toBe(1);
    expect(r.results[3]?.metadata.checkCount).toBe(1);
  });
});

describe('engine options', () => {
  it('bad limits fail fast naming the option', () => {
    const store = createMemoryStore();
    expect(() => createEngine({ reader: store.reader, schemas: store.schemas, concurrency: 0 })).toThrow(/concurrency/);
    expect(() => createEngine({ reader: store.reader, schemas: store.schemas, checkCacheSize: -1 })).toThrow(
      /checkCacheSize/,
    );
  });
});

describe('cyclic data with a large budget', async () => {
  const f = await fixture('entity user {}\nentity group {\n relation member @user @group#member\n}', [
    'group:a#member@group:b#member',
    'group:a#member@group:c#member',
    'group:b#member@group:a#member',
    'group:b#member@group:c#member',
    'group:c#member@group:a#member',
    'group:c#member@group:b#member',
    'group:c#member@user:in',
  ]);
  it('terminates quickly (identical sub-problems are shared) and keeps the upstream outcome', async () => {
    const t0 = Date.now();
    expect(await f.outcome('group:a', 'member', 'user:out', { depth: 500 })).toBe('ERROR_CODE_DEPTH_NOT_ENOUGH');
    expect(await f.outcome('group:a', 'member', 'user:in', { depth: 500 })).toBe('allowed');
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
  it('depth above maxDepth is rejected naming the limit', async () => {
    await expect(f.check('group:a', 'member', 'user:in', { depth: 5000 })).rejects.toMatchObject({
      code: 'ERROR_CODE_VALIDATION',
      details: { limit: 'maxDepth' },
    });
  });
});
