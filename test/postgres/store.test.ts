/**
 * PostgreSQL store behaviour beyond the shared conformance suite: MVCC reads at tokens, token encodings,
 * write-path edge cases, schemas, tenants, bundles and durability across store instances. Runs against a
 * real database (test/support/postgres.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tuple } from '../../src/data/types.js';
import { PermifyError } from '../../src/errors.js';
import { createPostgresStore, type PostgresStore } from '../../src/storage/postgres/index.js';
import { decodeToken, legacyToken } from '../../src/storage/postgres/snap-token.js';
import { createTestDatabase, stopSharedServer, type TestDatabase } from '../support/postgres.js';

const t = (s: string): Tuple => {
  const m = /^(\w+):([\w-]+)#(\w+)@(\w+):([\w-]+)(?:#([.\w]+))?$/.exec(s);
  if (!m) throw new Error(s);
  return {
    entity: { type: m[1]!, id: m[2]! },
    relation: m[3]!,
    subject: { type: m[4]!, id: m[5]!, relation: m[6] ?? '' },
  };
};
const show = (x: Tuple) =>
  `${x.entity.type}:${x.entity.id}#${x.relation}@${x.subject.type}:${x.subject.id}${x.subject.relation ? '#' + x.subject.relation : ''}`;

let db: TestDatabase;
let store: PostgresStore;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await createPostgresStore({ uri: db.uri, maxOpenConnections: 5 });
  await store.ready();
});

afterAll(async () => {
  await store?.close();
  await db?.drop();
  await stopSharedServer();
});

describe('postgres store: MVCC', () => {
  it('a tenant without writes has the id-0 head token that sees nothing', async () => {
    const head = await store.reader.headSnapToken('empty-tenant');
    expect(head).toBe('AAAAAAAAAAA=');
    expect(await store.reader.queryRelationships('empty-tenant', { entity: { type: 'doc' } }, head)).toEqual([]);
  });

  it('reads at an old token do not see later writes and deletes; head sees everything', async () => {
    const tenant = 'mvcc1';
    const t1 = await store.writer.write(tenant, [{ writeTuples: [t('doc:1#owner@user:a'), t('doc:1#viewer@user:b')] }]);
    const t2 = await store.writer.write(tenant, [
      { writeTuples: [t('doc:2#owner@user:c')], deleteTuples: [t('doc:1#viewer@user:b')] },
    ]);
    const q = async (tok: string) =>
      (await store.reader.queryRelationships(tenant, { entity: { type: 'doc' } }, tok)).map(show);
    expect(await q(t1)).toEqual(['doc:1#owner@user:a', 'doc:1#viewer@user:b']);
    expect(await q(t2)).toEqual(['doc:1#owner@user:a', 'doc:2#owner@user:c']);
    const head = await store.reader.headSnapToken(tenant);
    expect(await q(head)).toEqual(['doc:1#owner@user:a', 'doc:2#owner@user:c']);
    // the head token is stable while the tenant is quiet, even when other tenants write
    await store.writer.write('other', [{ writeTuples: [t('doc:9#owner@user:z')] }]);
    expect(await store.reader.headSnapToken(tenant)).toBe(head);
  });

  it('write tokens follow the documented encoding and legacy tokens resolve through transactions', async () => {
    const tok = await store.writer.write('enc', [{ writeTuples: [t('doc:1#owner@user:a')] }]);
    const d = decodeToken(tok);
    expect(d.snapshot).toBeDefined();
    expect(d.snapshot!.xip).toContain(d.xid);
    expect(d.snapshot!.xmax > d.xid).toBe(true);
    expect(Buffer.from(tok, 'base64').toString('ascii')).toMatch(/^\d+:\d+:\d+:[\d,]+$/);
    const legacy = legacyToken(d.xid);
    expect((await store.reader.queryRelationships('enc', {}, legacy)).map(show)).toEqual(['doc:1#owner@user:a']);
  });

  it('undecodable tokens are client input: ERROR_CODE_INVALID_ARGUMENT', async () => {
    for (const bad of ['!!!', 'bm90LWEtdG9rZW4=', '']) {
      await expect(store.reader.queryRelationships('enc', {}, bad)).rejects.toMatchObject({
        code: 'ERROR_CODE_INVALID_ARGUMENT',
      });
    }
  });

  it('re-writing a live tuple is a no-op; "..." is stored as a plain subject', async () => {
    const tenant = 'idem';
    await store.writer.write(tenant, [{ writeTuples: [t('doc:1#owner@user:a#...'), t('doc:1#owner@user:a')] }]);
    await store.writer.write(tenant, [{ writeTuples: [t('doc:1#owner@user:a')] }]);
    const head = await store.reader.headSnapToken(tenant);
    const rows = await store.reader.queryRelationships(tenant, {}, head);
    expect(rows.map(show)).toEqual(['doc:1#owner@user:a']);
    expect(rows[0]!.subject.relation).toBe('');
  });

  it('write-delete-write-delete inside one transaction ends deleted without conflicts', async () => {
    const tenant = 'wdwd';
    const x = t('doc:1#owner@user:a');
    await store.writer.write(tenant, [{ writeTuples: [x] }]);
    await store.writer.write(tenant, [
      { deleteTuples: [x] },
      { writeTuples: [x] },
      { deleteTuples: [x] },
      { writeTuples: [x] },
      { deleteTuples: [x] },
    ]);
    const head = await store.reader.headSnapToken(tenant);
    expect(await store.reader.queryRelationships(tenant, {}, head)).toEqual([]);
  });

  it('filter deletes, empty filters delete nothing, subject filters with relation', async () => {
    const tenant = 'filters';
    await store.writer.write(tenant, [
      {
        writeTuples: [
          t('doc:1#viewer@user:a'),
          t('doc:1#viewer@group:g#member'),
          t('doc:2#viewer@user:a'),
          t('folder:1#viewer@user:a'),
        ],
      },
    ]);
    await store.writer.write(tenant, [{ deleteTupleFilters: [{}] }]);
    let head = await store.reader.headSnapToken(tenant);
    expect(await store.reader.queryRelationships(tenant, {}, head)).toHaveLength(4);
    const bySubjectSet = await store.reader.queryRelationships(
      tenant,
      { subject: { type: 'group', relation: 'member' } },
      head,
    );
    expect(bySubjectSet.map(show)).toEqual(['doc:1#viewer@group:g#member']);
    await store.writer.write(tenant, [
      { deleteTupleFilters: [{ entity: { type: 'doc' }, subject: { type: 'user', ids: ['a'] } }] },
    ]);
    head = await store.reader.headSnapToken(tenant);
    expect((await store.reader.queryRelationships(tenant, {}, head)).map(show)).toEqual([
      'doc:1#viewer@group:g#member',
      'folder:1#viewer@user:a',
    ]);
  });

  it('entityIdFrom restricts by byte-wise entity id', async () => {
    const tenant = 'from';
    await store.writer.write(tenant, [
      { writeTuples: ['b', 'B', 'a', 'c', 'aa'].map((id) => t(`doc:${id}#owner@user:u`)) },
    ]);
    const head = await store.reader.headSnapToken(tenant);
    const rows = await store.reader.queryRelationships(tenant, { entity: { type: 'doc' }, relation: 'owner' }, head, {
      entityIdFrom: 'aa',
    });
    expect(rows.map((r) => r.entity.id).sort()).toEqual(['aa', 'b', 'c']);
  });

  it('unique subject ids are distinct, ascending and exact on the subject relation', async () => {
    const tenant = 'uniq';
    await store.writer.write(tenant, [
      {
        writeTuples: [
          t('doc:1#viewer@user:z'),
          t('doc:2#viewer@user:a'),
          t('doc:3#viewer@user:a'),
          t('doc:3#viewer@user:m#friend'),
        ],
      },
    ]);
    const head = await store.reader.headSnapToken(tenant);
    expect(await store.reader.queryUniqueSubjectIds(tenant, 'user', '', head)).toEqual(['a', 'z']);
    expect(await store.reader.queryUniqueSubjectIds(tenant, 'user', 'friend', head)).toEqual(['m']);
  });
});

describe('postgres store: attributes', () => {
  it('replace on write, history at old tokens, every value type round-trips', async () => {
    const tenant = 'attrs';
    const e = { type: 'doc', id: '1' };
    const t1 = await store.writer.write(tenant, [
      {
        writeAttributes: [
          { entity: e, attribute: 'public', value: { type: 'boolean', value: false } },
          { entity: e, attribute: 'public', value: { type: 'boolean', value: true } },
          { entity: e, attribute: 'tags', value: { type: 'string[]', value: ['x', 'y'] } },
          { entity: e, attribute: 'n', value: { type: 'integer', value: -7 } },
          { entity: e, attribute: 'ns', value: { type: 'integer[]', value: [1, 2] } },
          { entity: e, attribute: 'd', value: { type: 'double', value: Number.NaN } },
          { entity: e, attribute: 'ds', value: { type: 'double[]', value: [1.5, -Infinity] } },
          { entity: e, attribute: 's', value: { type: 'string', value: 'héllo' } },
          { entity: e, attribute: 'bs', value: { type: 'boolean[]', value: [true, false] } },
        ],
      },
    ]);
    const t2 = await store.writer.write(tenant, [
      { writeAttributes: [{ entity: e, attribute: 'public', value: { type: 'boolean', value: false } }] },
    ]);
    expect((await store.reader.querySingleAttribute(tenant, e, 'public', t1))?.value).toEqual({
      type: 'boolean',
      value: true,
    });
    expect((await store.reader.querySingleAttribute(tenant, e, 'public', t2))?.value).toEqual({
      type: 'boolean',
      value: false,
    });
    const all = await store.reader.queryAttributes(tenant, { entity: { type: 'doc', ids: ['1'] } }, t2);
    expect(all.map((a) => a.attribute)).toEqual(['tags', 'n', 'ns', 'd', 'ds', 's', 'bs', 'public']);
    const byName = Object.fromEntries(all.map((a) => [a.attribute, a.value]));
    expect(byName.d).toEqual({ type: 'double', value: Number.NaN });
    expect(byName.ds).toEqual({ type: 'double[]', value: [1.5, -Infinity] });
    expect(byName.s).toEqual({ type: 'string', value: 'héllo' });
    const t3 = await store.writer.write(tenant, [{ deleteAttributes: [{ entity: e, attribute: 'tags' }] }]);
    expect(await store.reader.querySingleAttribute(tenant, e, 'tags', t3)).toBeUndefined();
    const t4 = await store.writer.write(tenant, [{ deleteAttributeFilters: [{ attributes: ['n', 'ns'] }] }]);
    expect((await store.reader.queryAttributes(tenant, {}, t4)).map((a) => a.attribute)).toEqual([
      'd',
      'ds',
      's',
      'bs',
      'public',
    ]);
  });
});

describe('postgres store: pagination', () => {
  it('pages cover everything once, in order, and tokens are bound to the filter', async () => {
    const tenant = 'pages';
    const tuples = Array.from({ length: 23 }, (_, i) => t(`doc:${i}#viewer@user:u${i % 3}`));
    await store.writer.write(tenant, [{ writeTuples: tuples }]);
    const head = await store.reader.headSnapToken(tenant);
    const seen: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const page = await store.reader.readRelationships(
        tenant,
        { entity: { type: 'doc' } },
        head,
        { size: 5, token },
        undefined,
      );
      seen.push(...page.items.map(show));
      token = page.continuousToken;
      pages += 1;
    } while (token !== '');
    expect(pages).toBe(5);
    expect(seen).toEqual(tuples.map(show));
    const first = await store.reader.readRelationships(tenant, { entity: { type: 'doc' } }, head, { size: 5 });
    await expect(
      store.reader.readRelationships(tenant, { entity: { type: 'folder' } }, head, {
        size: 5,
        token: first.continuousToken,
      }),
    ).rejects.toMatchObject({ code: 'ERROR_CODE_INVALID_CONTINUOUS_TOKEN' });
    await expect(store.reader.readRelationships(tenant, {}, head, { size: 5, token: 'garbage' })).rejects.toMatchObject(
      { code: 'ERROR_CODE_INVALID_CONTINUOUS_TOKEN' },
    );
  });
});

describe('postgres store: schemas, tenants, bundles', () => {
  it('schema versions: stored order, head, newest-first listing with pages', async () => {
    const v1 = await store.schemas.writeSchema('sch', [
      { name: 'user', definition: 'entity user {}' },
      { name: 'doc', definition: 'entity doc { relation owner @user }' },
      { name: 'check_x', definition: 'rule check_x(x integer) { x > 1 }' },
    ]);
    const v2 = await store.schemas.writeSchema('sch', [{ name: 'user', definition: 'entity user {}' }]);
    expect(v1).toMatch(/^[0-9a-v]{20}$/);
    expect(v2 > v1).toBe(true);
    expect((await store.schemas.readSchema('sch', v1))?.map((d) => d.name)).toEqual(['user', 'doc', 'check_x']);
    expect(await store.schemas.readSchema('sch', 'aaaaaaaaaaaaaaaaaaaa')).toBeUndefined();
    expect(await store.schemas.headVersion('sch')).toBe(v2);
    expect(await store.schemas.headVersion('nobody')).toBeUndefined();
    const p1 = await store.schemas.listVersions('sch', { size: 1 });
    expect(p1.items.map((i) => i.version)).toEqual([v2]);
    const p2 = await store.schemas.listVersions('sch', { size: 1, token: p1.continuousToken });
    expect(p2.items.map((i) => i.version)).toEqual([v1]);
    expect(p2.continuousToken).toBe('');
    expect(Math.abs(p2.items[0]!.createdAt.getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('tenants: t1 is seeded, create/duplicate/list/delete removes all data', async () => {
    const list = await store.tenants.listTenants({ size: 100 });
    expect(list.items.map((x) => x.id)).toContain('t1');
    await store.tenants.createTenant('gone', 'Gone Inc');
    await expect(store.tenants.createTenant('gone', 'again')).rejects.toMatchObject({
      code: 'ERROR_CODE_UNIQUE_CONSTRAINT',
    });
    await store.writer.write('gone', [
      {
        writeTuples: [t('doc:1#owner@user:a')],
        writeAttributes: [
          { entity: { type: 'doc', id: '1' }, attribute: 'p', value: { type: 'boolean', value: true } },
        ],
      },
    ]);
    await store.schemas.writeSchema('gone', [{ name: 'user', definition: 'entity user {}' }]);
    await store.bundles.writeBundles('gone', [{ name: 'b', arguments: [], operations: [] }]);
    await store.tenants.deleteTenant('gone');
    await expect(store.tenants.deleteTenant('gone')).rejects.toMatchObject({ code: 'ERROR_CODE_NOT_FOUND' });
    const c = await store.database.writer.query<{ n: string }>(
      `SELECT (SELECT count(*) FROM relation_tuples WHERE tenant_id='gone') + (SELECT count(*) FROM attributes WHERE tenant_id='gone')
        + (SELECT count(*) FROM transactions WHERE tenant_id='gone') + (SELECT count(*) FROM schema_definitions WHERE tenant_id='gone')
        + (SELECT count(*) FROM bundles WHERE tenant_id='gone') AS n`,
    );
    expect(c.rows[0]!.n).toBe('0');
    await store.tenants.createTenant('a-2', 'x');
    await store.tenants.createTenant('a-1', 'x');
    const p1 = await store.tenants.listTenants({ size: 2 });
    expect(p1.items.map((x) => x.id)).toEqual(['a-1', 'a-2']);
    const p2 = await store.tenants.listTenants({ size: 2, token: p1.continuousToken });
    expect(p2.items.map((x) => x.id)).toEqual(['t1']);
  });

  it('bundles upsert, read back and delete', async () => {
    const b = {
      name: 'org',
      arguments: ['id'],
      operations: [
        {
          relationshipsWrite: ['org:{{.id}}#admin@user:x'],
          relationshipsDelete: [],
          attributesWrite: [],
          attributesDelete: [],
        },
      ],
    };
    expect(await store.bundles.writeBundles('bun', [b, { ...b, name: 'other' }])).toEqual(['org', 'other']);
    await store.bundles.writeBundles('bun', [{ ...b, arguments: ['id', 'extra'] }]);
    expect(await store.bundles.readBundle('bun', 'org')).toEqual({ ...b, arguments: ['id', 'extra'] });
    await store.bundles.deleteBundle('bun', 'org');
    await expect(store.bundles.readBundle('bun', 'org')).rejects.toMatchObject({ code: 'ERROR_CODE_BUNDLE_NOT_FOUND' });
    await expect(store.bundles.deleteBundle('bun', 'org')).rejects.toBeInstanceOf(PermifyError);
  });
});

describe('postgres store: durability', () => {
  it('everything written is read back by a new store instance on the same database', async () => {
    const tenant = 'durable';
    const tuples = Array.from({ length: 200 }, (_, i) => t(`doc:${i}#viewer@user:u${i}`));
    const tok = await store.writer.write(tenant, [
      {
        writeTuples: tuples,
        writeAttributes: [{ entity: { type: 'doc', id: '1' }, attribute: 'p', value: { type: 'integer', value: 42 } }],
      },
    ]);
    const v = await store.schemas.writeSchema(tenant, [{ name: 'user', definition: 'entity user {}' }]);
    const second = await createPostgresStore({ uri: db.uri, maxOpenConnections: 2 });
    try {
      await second.ready();
      expect(await second.reader.headSnapToken(tenant)).toBe(await store.reader.headSnapToken(tenant));
      expect((await second.reader.queryRelationships(tenant, {}, tok)).map(show)).toEqual(tuples.map(show));
      expect((await second.reader.querySingleAttribute(tenant, { type: 'doc', id: '1' }, 'p', tok))?.value).toEqual({
        type: 'integer',
        value: 42,
      });
      expect(await second.schemas.headVersion(tenant)).toBe(v);
    } finally {
      await second.close();
    }
  });
});
