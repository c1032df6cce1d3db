/**
 * Batched direct reads (batch-reader.ts) and the head cache (head-cache.ts): answers equal the unbatched
 * reader's for every filter shape, reads of one turn share one statement, a Check step's exact and userset
 * reads are one statement, an uncached Check on the google-docs-like schema stays within the issue's
 * statement budget, and head tokens / schema heads are reused until a write through this or another
 * process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tuple } from '../../src/data/types.js';
import { createEngine } from '../../src/engine/index.js';
import type { TupleFilter } from '../../src/storage/contract.js';
import { createPostgresStore, type PostgresStore } from '../../src/storage/postgres/index.js';
import { createTestDatabase, stopSharedServer, type TestDatabase } from '../support/postgres.js';

const T = 't1';
const tuple = (et: string, eid: string, rel: string, st: string, sid: string, srel = ''): Tuple => ({
  entity: { type: et, id: eid },
  relation: rel,
  subject: { type: st, id: sid, relation: srel },
});

let db: TestDatabase;
let batched: PostgresStore;
let plain: PostgresStore;
let other: PostgresStore;
/** Statements sent through each store's reader pool. */
const statements = new Map<PostgresStore, string[]>();

function record(store: PostgresStore): void {
  const seen = new WeakSet<object>();
  statements.set(store, []);
  store.database.reader.on('acquire', (client) => {
    if (seen.has(client)) return;
    seen.add(client);
    const q = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const first = args[0] as { text?: string } | string;
      statements.get(store)?.push(typeof first === 'string' ? first : (first.text ?? ''));
      return q(...args);
    };
  });
}

const schema = `entity user {}
entity organization {
  relation admin @user
  relation member @user
}
entity group {
  relation member @user @group#member
}
entity folder {
  relation org @organization
  relation owner @user
  relation viewer @user @group#member
  permission view = owner or viewer or org.admin
}
entity document {
  relation parent @folder
  relation owner @user
  relation viewer @user @group#member @organization#member
  permission edit = owner or parent.owner
  permission view = edit or viewer or parent.view
}`;

const data: Tuple[] = [
  tuple('organization', 'o1', 'admin', 'user', 'boss'),
  tuple('organization', 'o1', 'member', 'user', 'm1'),
  tuple('group', 'g1', 'member', 'user', 'alice'),
  tuple('group', 'g2', 'member', 'group', 'g1', 'member'),
  tuple('folder', 'f1', 'org', 'organization', 'o1'),
  tuple('folder', 'f1', 'owner', 'user', 'fo'),
  tuple('folder', 'f1', 'viewer', 'group', 'g2', 'member'),
  tuple('folder', 'f1', 'viewer', 'user', 'fv'),
];
for (let i = 0; i < 40; i += 1) {
  data.push(tuple('document', `d${i}`, 'parent', 'folder', 'f1'));
  data.push(tuple('document', `d${i}`, 'owner', 'user', `u${i}`));
  data.push(tuple('document', `d${i}`, 'viewer', 'user', `v${i % 7}`));
  if (i % 3 === 0) data.push(tuple('document', `d${i}`, 'viewer', 'group', 'g1', 'member'));
  if (i % 5 === 0) data.push(tuple('document', `d${i}`, 'viewer', 'organization', 'o1', 'member'));
}

beforeAll(async () => {
  db = await createTestDatabase();
  batched = await createPostgresStore({ uri: db.uri, maxOpenConnections: 4, readCacheEntries: 0 });
  plain = await createPostgresStore({
    uri: db.uri,
    maxOpenConnections: 4,
    readCacheEntries: 0,
    batchReads: false,
    headCacheMaxAgeMs: 0,
  });
  other = await createPostgresStore({ uri: db.uri, maxOpenConnections: 2 });
  await Promise.all([batched.ready(), plain.ready(), other.ready()]);
  await batched.schemas.writeSchema(T, [{ name: 'schema', definition: schema }]);
  await batched.writer.write(T, [{ writeTuples: data }]);
  record(batched);
  record(plain);
}, 60_000);

afterAll(async () => {
  await batched?.close();
  await plain?.close();
  await other?.close();
  await db?.drop();
  await stopSharedServer();
});

describe('batched reads', () => {
  it('answer every filter shape exactly as the unbatched reader, in the same order', async () => {
    const token = await plain.reader.headSnapToken(T);
    const shapes: TupleFilter[] = [];
    for (const id of ['d0', 'd3', 'd5', 'd7', 'nope']) {
      const entity = { type: 'document', ids: [id] };
      shapes.push(
        { entity, relation: 'viewer' },
        { entity, relation: 'viewer', subject: { type: 'user', ids: ['v0'], relation: '' } },
        { entity, relation: 'viewer', subject: { type: 'user', ids: ['v3'], relation: '...' } },
        { entity, relation: 'viewer', subject: { relation: 'member' } },
        { entity, relation: 'viewer', subject: { type: 'group', ids: ['g1'], relation: 'member' } },
        { entity, relation: 'viewer', subject: { type: 'group' } },
        { entity, relation: 'viewer', subject: { type: 'user', ids: ['v0', 'v3'] } },
        { entity, relation: 'viewer', subject: { relation: '...' } },
        { entity, relation: 'parent' },
      );
    }
    // Issued together (coalesced) and one by one (after the short prefetch expired or not): same answers.
    const together = await Promise.all(shapes.map((f) => batched.reader.queryRelationships(T, f, token)));
    for (const [i, f] of shapes.entries()) {
      const expected = await plain.reader.queryRelationships(T, f, token);
      expect(together[i], JSON.stringify(f)).toEqual(expected);
      expect(await batched.reader.queryRelationships(T, f, token), JSON.stringify(f)).toEqual(expected);
    }
  });

  it('reads of one turn go out as one statement; exact then userset reads of a step are one fetch', async () => {
    const token = await batched.reader.headSnapToken(T);
    const log = statements.get(batched) as string[];
    log.length = 0;
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        batched.reader.queryRelationships(
          T,
          { entity: { type: 'document', ids: [`d${i}`] }, relation: 'owner' },
          token,
        ),
      ),
    );
    expect(log.filter((s) => s.includes('relation_tuples'))).toHaveLength(1);

    log.length = 0;
    const entity = { type: 'document', ids: ['d9'] };
    const exact = await batched.reader.queryRelationships(
      T,
      { entity, relation: 'viewer', subject: { type: 'user', ids: ['nobody'], relation: '' } },
      token,
    );
    const sets = await batched.reader.queryRelationships(
      T,
      { entity, relation: 'viewer', subject: { relation: 'member' } },
      token,
    );
    expect(exact).toEqual([]);
    expect(sets).toEqual([tuple('document', 'd9', 'viewer', 'group', 'g1', 'member')]);
    expect(log.filter((s) => s.includes('relation_tuples'))).toHaveLength(1);
  });

  it('an uncached Check issues at most 6 statements on average and answers as the unbatched reader', async () => {
    const checks: [string, string, string][] = [];
    for (let i = 0; i < 40; i += 8) {
      for (const user of ['alice', 'boss', 'fo', 'fv', `u${i}`, 'v1', 'm1', 'nobody'])
        checks.push([`d${i}`, 'view', user]);
    }
    const engineOf = (s: PostgresStore) => createEngine({ reader: s.reader, schemas: s.schemas, checkCacheSize: 0 });
    const run = async (s: PostgresStore): Promise<{ answers: string[]; perCheck: number }> => {
      const e = engineOf(s);
      await e.check({
        tenantId: T,
        metadata: { depth: 20 },
        entity: { type: 'document', id: 'd0' },
        permission: 'view',
        subject: { type: 'user', id: 'x', relation: '' },
      });
      const log = statements.get(s) as string[];
      log.length = 0;
      const answers: string[] = [];
      for (const [doc, permission, user] of checks) {
        // One at a time: no coalescing across requests helps here.
        const r = await e.check({
          tenantId: T,
          metadata: { depth: 20 },
          entity: { type: 'document', id: doc },
          permission,
          subject: { type: 'user', id: user, relation: '' },
        });
        answers.push(r.can);
        if (s === batched) await new Promise((resolve) => setTimeout(resolve, 105)); // past the prefetch's lifetime
      }
      return { answers, perCheck: log.length / checks.length };
    };
    const p = await run(plain);
    const b = await run(batched);
    expect(b.answers).toEqual(p.answers);
    expect(p.answers).toContain('allowed');
    expect(p.answers).toContain('denied');
    expect(b.perCheck, `statements per check: batched ${b.perCheck}, unbatched ${p.perCheck}`).toBeLessThanOrEqual(6);
    expect(b.perCheck).toBeLessThan(p.perCheck / 2);
  }, 60_000);
});

describe('head cache', () => {
  it('reuses the head token and schema head until a write through this or another process', async () => {
    const log = statements.get(batched) as string[];
    const t1 = await batched.reader.headSnapToken(T);
    const v1 = await batched.schemas.headVersion(T);
    log.length = 0;
    expect(await batched.reader.headSnapToken(T)).toBe(t1);
    expect(await batched.schemas.headVersion(T)).toBe(v1);
    expect(log).toEqual([]);

    const sees = async (token: string, doc: string): Promise<boolean> =>
      (await plain.reader.queryRelationships(T, { entity: { type: 'document', ids: [doc] }, relation: 'owner' }, token))
        .length > 0;

    // Our own write: visible at once.
    await batched.writer.write(T, [{ writeTuples: [tuple('document', 'h1', 'owner', 'user', 'x')] }]);
    expect(await sees(await batched.reader.headSnapToken(T), 'h1')).toBe(true);

    // Another process's write: invalidated by its NOTIFY (bounded wait; the entry expires after 1 s anyway,
    // so the deadline stays below that).
    const cached = await batched.reader.headSnapToken(T);
    await other.writer.write(T, [{ writeTuples: [tuple('document', 'h2', 'owner', 'user', 'x')] }]);
    const v2 = await other.schemas.writeSchema(T, [{ name: 'schema', definition: schema }]);
    expect(v2).not.toBe(v1);
    const deadline = Date.now() + 800;
    let seen = false;
    let version: string | undefined;
    while (Date.now() < deadline) {
      seen = await sees(await batched.reader.headSnapToken(T), 'h2');
      version = await batched.schemas.headVersion(T);
      if (seen && version === v2) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(seen).toBe(true);
    expect(version).toBe(v2);
    // Without a write the entry is reused (the cached token above was a hit until the NOTIFY).
    expect(await sees(cached, 'h2')).toBe(false);
  });
});
