/**
 * Watch (ordering, one message per transaction, resume from a delivered token, overwrite shape, held-back
 * commits) and garbage collection (history older than the window goes, live data and young history stay).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tuple } from '../../src/data/types.js';
import type { DataChanges } from '../../src/storage/contract.js';
import { createPostgresStore, type PostgresStore } from '../../src/storage/postgres/index.js';
import { decodeToken, legacyToken } from '../../src/storage/postgres/snap-token.js';
import { createTestDatabase, stopSharedServer, type TestDatabase } from '../support/postgres.js';

const tuple = (doc: string, user: string): Tuple => ({
  entity: { type: 'doc', id: doc },
  relation: 'viewer',
  subject: { type: 'user', id: user, relation: '' },
});

let db: TestDatabase;
let store: PostgresStore;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await createPostgresStore({ uri: db.uri, maxOpenConnections: 6, watchBufferSize: 3 });
  await store.ready();
});

afterAll(async () => {
  await store?.close();
  await db?.drop();
  await stopSharedServer();
});

/** Collects `n` messages of a watch stream (fails the test after `timeoutMs`). */
async function take(tenant: string, from: string, n: number, timeoutMs = 15_000): Promise<DataChanges[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const out: DataChanges[] = [];
  try {
    for await (const m of store.watcher.watch(tenant, from, ac.signal)) {
      out.push(m);
      if (out.length >= n) break;
    }
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return out;
}

describe('postgres watch', () => {
  it('delivers every write transaction once, in order, with its changes; resumes from any token', async () => {
    const tenant = 'w1';
    const start = await store.writer.write(tenant, [{ writeTuples: [tuple('0', 'a')] }]);
    const tokens: string[] = [];
    tokens.push(await store.writer.write(tenant, [{ writeTuples: [tuple('1', 'a'), tuple('0', 'a')] }]));
    tokens.push(
      await store.writer.write(tenant, [
        {
          writeAttributes: [
            { entity: { type: 'doc', id: '1' }, attribute: 'p', value: { type: 'boolean', value: true } },
          ],
        },
      ]),
    );
    tokens.push(
      await store.writer.write(tenant, [
        {
          deleteTuples: [tuple('0', 'a')],
          writeAttributes: [
            { entity: { type: 'doc', id: '1' }, attribute: 'p', value: { type: 'boolean', value: false } },
          ],
        },
      ]),
    );
    tokens.push(await store.writer.write(tenant, [{ writeTuples: [tuple('0', 'a')] }])); // re-write of a live tuple... deleted above, so a create
    tokens.push(await store.writer.write(tenant, [{ writeTuples: [tuple('0', 'a')] }])); // no-op: empty message
    await store.writer.write('someone-else', [{ writeTuples: [tuple('9', 'z')] }]);

    const msgs = await take(tenant, start, tokens.length);
    expect(msgs.map((m) => m.snapToken)).toEqual(tokens.map((t) => legacyToken(decodeToken(t).xid)));
    expect(msgs[0]!.changes).toEqual([{ operation: 'create', tuple: tuple('1', 'a') }]);
    expect(msgs[1]!.changes).toEqual([
      {
        operation: 'create',
        attribute: { entity: { type: 'doc', id: '1' }, attribute: 'p', value: { type: 'boolean', value: true } },
      },
    ]);
    expect(msgs[2]!.changes).toEqual([
      { operation: 'delete', tuple: tuple('0', 'a') },
      {
        operation: 'delete',
        attribute: { entity: { type: 'doc', id: '1' }, attribute: 'p', value: { type: 'boolean', value: true } },
      },
      {
        operation: 'create',
        attribute: { entity: { type: 'doc', id: '1' }, attribute: 'p', value: { type: 'boolean', value: false } },
      },
    ]);
    expect(msgs[3]!.changes).toEqual([{ operation: 'create', tuple: tuple('0', 'a') }]);
    expect(msgs[4]!.changes).toEqual([]);

    // resume from a delivered (legacy) token: exactly the rest
    const resumed = await take(tenant, msgs[1]!.snapToken, 3);
    expect(resumed.map((m) => m.snapToken)).toEqual(msgs.slice(2).map((m) => m.snapToken));
  });

  it('a commit overtaking an open older transaction is held back, not skipped', async () => {
    const tenant = 'w2';
    const from = await store.writer.write(tenant, [{ writeTuples: [tuple('old', 'a')] }]);
    const ac = new AbortController();
    const got: DataChanges[] = [];
    const iterator = store.watcher.watch(tenant, from, ac.signal)[Symbol.asyncIterator]();
    const next = () => iterator.next().then((r) => (r.done ? undefined : r.value));
    const first = next();

    // An older transaction of the tenant stays open while a younger one commits.
    const client = new pg.Client({ connectionString: db.uri });
    await client.connect();
    try {
      await client.query('BEGIN');
      const older = await client.query<{ id: string }>(
        'INSERT INTO transactions (tenant_id) VALUES ($1) RETURNING id::text AS id',
        [tenant],
      );
      await client.query(
        "INSERT INTO relation_tuples (tenant_id, entity_type, entity_id, relation, subject_type, subject_id, subject_relation) VALUES ($1, 'doc', 'slow', 'viewer', 'user', 's', '')",
        [tenant],
      );
      const younger = await store.writer.write(tenant, [{ writeTuples: [tuple('fast', 'f')] }]);
      const pending = await Promise.race([first, new Promise((r) => setTimeout(() => r('nothing'), 700))]);
      expect(pending).toBe('nothing'); // the younger commit waits for the older transaction
      await client.query('COMMIT');
      const a = await first;
      const b = await next();
      got.push(a!, b!);
      expect(got.map((m) => m.snapToken)).toEqual([
        legacyToken(BigInt(older.rows[0]!.id)),
        legacyToken(decodeToken(younger).xid),
      ]);
      expect(got[0]!.changes[0]!.tuple?.entity.id).toBe('slow');
      expect(got[1]!.changes[0]!.tuple?.entity.id).toBe('fast');
    } finally {
      ac.abort();
      await iterator.return?.();
      await client.end();
    }
  });

  it('ends quietly when aborted while idle', async () => {
    const ac = new AbortController();
    const started = Date.now();
    setTimeout(() => ac.abort(), 300);
    const msgs: DataChanges[] = [];
    for await (const m of store.watcher.watch('idle-tenant', '', ac.signal)) msgs.push(m);
    expect(msgs).toEqual([]);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('reports whether commit timestamps are tracked', async () => {
    const r = await store.database.writer.query<{ v: string }>("SELECT current_setting('track_commit_timestamp') AS v");
    expect(await store.watcher.commitTimestampsTracked()).toBe(r.rows[0]!.v === 'on');
  });
});

describe('postgres garbage collection', () => {
  it('removes expired history and old transactions older than the window, never live data', async () => {
    const tenant = 'gc1';
    await store.tenants.createTenant(tenant, 'gc');
    const e = { type: 'doc', id: '1' };
    await store.writer.write(tenant, [
      {
        writeTuples: [tuple('1', 'a'), tuple('2', 'b')],
        writeAttributes: [{ entity: e, attribute: 'n', value: { type: 'integer', value: 1 } }],
      },
    ]);
    await store.writer.write(tenant, [
      {
        deleteTuples: [tuple('2', 'b')],
        writeAttributes: [{ entity: e, attribute: 'n', value: { type: 'integer', value: 2 } }],
      },
    ]);
    const w = store.database.writer;
    // Age the history: these transactions now look one hour old.
    await w.query("UPDATE transactions SET timestamp = timestamp - interval '1 hour' WHERE tenant_id = $1", [tenant]);
    const young = await store.writer.write(tenant, [
      { writeTuples: [tuple('3', 'c')], deleteTuples: [tuple('1', 'a')] },
    ]);

    const count = async (table: string) =>
      Number(
        (await w.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table} WHERE tenant_id = $1`, [tenant]))
          .rows[0]!.n,
      );
    expect(await count('relation_tuples')).toBe(3);
    expect(await count('transactions')).toBe(3);

    const r = await store.gc.collect(10 * 60_000);
    // L = the newest transaction older than the window (the second one). Rows expired by it stay (they are
    // not below L); only the first transaction's record goes.
    expect(r.removedRows).toBe(1);
    await w.query("UPDATE transactions SET timestamp = timestamp - interval '1 hour' WHERE tenant_id = $1", [tenant]);
    const r2 = await store.gc.collect(10 * 60_000);
    // Now L = the third transaction: rows expired by the second one (doc:2, n=1) and its record go.
    expect(r2.removedRows).toBe(3);
    expect(await count('transactions')).toBe(1);
    const head = await store.reader.headSnapToken(tenant);
    expect((await store.reader.queryRelationships(tenant, {}, head)).map((t) => t.entity.id)).toEqual(['3']);
    expect((await store.reader.querySingleAttribute(tenant, e, 'n', head))?.value).toEqual({
      type: 'integer',
      value: 2,
    });
    // the young token still reads its state (doc:1 was deleted by it; doc:3 created)
    expect((await store.reader.queryRelationships(tenant, {}, young)).map((t) => t.entity.id)).toEqual(['3']);
  });

  it('keeps everything younger than the window', async () => {
    const tenant = 'gc2';
    await store.tenants.createTenant(tenant, 'gc');
    const t1 = await store.writer.write(tenant, [{ writeTuples: [tuple('1', 'a')] }]);
    await store.writer.write(tenant, [{ deleteTuples: [tuple('1', 'a')] }]);
    const before = await store.gc.collect(60 * 60_000);
    expect(before.removedRows).toBe(0);
    expect((await store.reader.queryRelationships(tenant, {}, t1)).map((t) => t.entity.id)).toEqual(['1']);
  });

  it('runs on an interval and close() stops it', async () => {
    const d = await createTestDatabase();
    const s = await createPostgresStore({
      uri: d.uri,
      maxOpenConnections: 2,
      gc: { enabled: true, intervalMs: 100, windowMs: 0, timeoutMs: 5_000 },
    });
    try {
      await s.ready();
      await s.writer.write('t1', [{ writeTuples: [tuple('1', 'a')] }]);
      await s.writer.write('t1', [{ deleteTuples: [tuple('1', 'a')] }]);
      await s.writer.write('t1', [{ writeTuples: [tuple('2', 'b')] }]);
      const deadline = Date.now() + 10_000;
      let n = 2;
      while (Date.now() < deadline) {
        const r = await s.database.writer.query<{ n: string }>(
          "SELECT count(*)::text AS n FROM relation_tuples WHERE tenant_id = 't1'",
        );
        n = Number(r.rows[0]!.n);
        if (n === 1) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      expect(n).toBe(1);
    } finally {
      await s.close();
      await d.drop();
    }
  });
});
