/**
 * Watch streams of one tenant share one poller: each stream still starts from its own token and receives
 * every later change set exactly once, in order (a slow stream included: it falls back to catching up on
 * its own), and the poller stops when the last stream ends.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tuple } from '../../src/data/types.js';
import type { DataChanges } from '../../src/storage/contract.js';
import { createPostgresStore, type PostgresStore } from '../../src/storage/postgres/index.js';
import { decodeToken, legacyToken } from '../../src/storage/postgres/snap-token.js';
import { createTestDatabase, stopSharedServer, type TestDatabase } from '../support/postgres.js';

const tuple = (doc: string): Tuple => ({
  entity: { type: 'doc', id: doc },
  relation: 'viewer',
  subject: { type: 'user', id: 'u', relation: '' },
});

let db: TestDatabase;
let store: PostgresStore;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await createPostgresStore({ uri: db.uri, maxOpenConnections: 4, watchBufferSize: 3 });
  await store.ready();
});

afterAll(async () => {
  await store?.close();
  await db?.drop();
  await stopSharedServer();
});

async function until(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('postgres shared watch', () => {
  it('streams of a tenant share one poller; each gets every change set after its own token once, in order', async () => {
    const tenant = 'shared';
    const written: string[] = [];
    for (let i = 0; i < 3; i += 1) written.push(await store.writer.write(tenant, [{ writeTuples: [tuple(`a${i}`)] }]));

    const ac = new AbortController();
    const streams = [
      { from: written[0]!, skip: 1, delayMs: 0 },
      { from: written[1]!, skip: 2, delayMs: 0 },
      { from: written[2]!, skip: 3, delayMs: 0 },
      { from: '', skip: 3, delayMs: 0 },
      // A slow consumer: falls more than the queue bound behind and must catch up on its own.
      { from: written[0]!, skip: 1, delayMs: 40 },
    ].map((s) => {
      const got: DataChanges[] = [];
      const done = (async () => {
        for await (const m of store.watcher.watch(tenant, s.from, ac.signal)) {
          got.push(m);
          if (s.delayMs > 0) await new Promise((r) => setTimeout(r, s.delayMs));
        }
      })();
      return { ...s, got, done };
    });
    // Also a stream of another tenant: a poller of its own.
    const other = (async () => {
      for await (const m of store.watcher.watch('other', '', ac.signal)) void m;
    })();
    try {
      await until('the pollers to start', () => store.watcher.pollingTenants().length === 2);
      expect([...store.watcher.pollingTenants()].sort()).toEqual(['other', 'shared']);

      for (let i = 0; i < 40; i += 1)
        written.push(await store.writer.write(tenant, [{ writeTuples: [tuple(`b${i}`)] }]));
      const expectedFrom = (skip: number) => written.slice(skip).map((t) => legacyToken(decodeToken(t).xid));
      for (const s of streams) {
        await until(`stream from ${s.skip}`, () => s.got.length >= written.length - s.skip, 20_000);
      }
      // Nothing extra arrives later.
      await new Promise((r) => setTimeout(r, 300));
      for (const s of streams) {
        expect(s.got.map((m) => m.snapToken)).toEqual(expectedFrom(s.skip));
        expect(s.got.map((m) => m.changes[0]?.tuple?.entity.id)).toEqual(
          written.slice(s.skip).map((_, i) => (i + s.skip < 3 ? `a${i + s.skip}` : `b${i + s.skip - 3}`)),
        );
      }
      expect([...store.watcher.pollingTenants()].sort()).toEqual(['other', 'shared']);
    } finally {
      ac.abort();
      await Promise.all([...streams.map((s) => s.done), other]);
    }
    await until('the pollers to stop', () => store.watcher.pollingTenants().length === 0, 5_000);
  });

  it('a stream that ends releases the poller; a later stream starts a new one', async () => {
    const tenant = 'release';
    const from = await store.writer.write(tenant, [{ writeTuples: [tuple('x')] }]);
    for (let round = 0; round < 2; round += 1) {
      const ac = new AbortController();
      const it = store.watcher.watch(tenant, from, ac.signal)[Symbol.asyncIterator]();
      const next = it.next();
      await until('the poller', () => store.watcher.pollingTenants().includes(tenant), 5_000);
      await store.writer.write(tenant, [{ writeTuples: [tuple(`r${round}`)] }]);
      const first = await next;
      // Both rounds start from the same token.
      expect((first.value as DataChanges).changes.map((c) => c.tuple?.entity.id)).toEqual(['r0']);
      await it.return?.();
      ac.abort();
      await until('the poller to stop', () => !store.watcher.pollingTenants().includes(tenant), 5_000);
    }
  });

  it('a stream from now delivers an older transaction still running at its start, and nothing committed before', async () => {
    const tenant = 'from-now';
    await store.writer.write(tenant, [{ writeTuples: [tuple('before')] }]);
    const open = new pg.Client({ connectionString: db.uri });
    await open.connect();
    const ac = new AbortController();
    try {
      // An older transaction of the tenant (same statements as a store write) that commits only later ...
      await open.query('BEGIN');
      await open.query('INSERT INTO transactions (tenant_id) VALUES ($1)', [tenant]);
      await open.query(
        "INSERT INTO relation_tuples (tenant_id, entity_type, entity_id, relation, subject_type, subject_id, subject_relation) VALUES ($1, 'doc', 'older', 'viewer', 'user', 'u', '')",
        [tenant],
      );
      // ... while a newer one commits before the stream starts.
      await store.writer.write(tenant, [{ writeTuples: [tuple('newer')] }]);
      const got: DataChanges[] = [];
      const done = (async () => {
        for await (const m of store.watcher.watch(tenant, '', ac.signal)) got.push(m);
      })();
      await until('the poller', () => store.watcher.pollingTenants().includes(tenant), 5_000);
      await open.query('COMMIT');
      await store.writer.write(tenant, [{ writeTuples: [tuple('after')] }]);
      await until('two change sets', () => got.length >= 2);
      await new Promise((r) => setTimeout(r, 300));
      ac.abort();
      await done;
      expect(got.map((m) => m.changes.map((c) => c.tuple?.entity.id))).toEqual([['older'], ['after']]);
    } finally {
      ac.abort();
      await open.end();
    }
  });
});
