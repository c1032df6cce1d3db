/**
 * The PostgreSQL store's bulk import with several batches in flight (what `service.data.import_concurrency`
 * does), at the store's own level:
 * - tuple ids are reserved in call order, also with a batch without tuples in between (it must not let the
 *   next batch reserve alongside the one before it), so an export lists the rows in call order;
 * - batches that conflict (overlapping tuples, SERIALIZABLE) are retried and all apply, also on connections
 *   whose first import attempt rolled back (its staging tables went with it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tupleToString } from '../../src/data/notation.js';
import type { Attribute, Tuple } from '../../src/data/types.js';
import { createPostgresStore, type PostgresStore } from '../../src/storage/postgres/index.js';
import { createTestDatabase, stopSharedServer, type TestDatabase } from '../support/postgres.js';

const tuple = (doc: number): Tuple => ({
  entity: { type: 'document', id: `d${doc}` },
  relation: 'viewer',
  subject: { type: 'user', id: 'u', relation: '' },
});
const level = (v: number): Attribute => ({
  entity: { type: 'document', id: 'd1' },
  attribute: 'level',
  value: { type: 'integer', value: v },
});

let db: TestDatabase;
const stores: PostgresStore[] = [];

async function freshStore(): Promise<PostgresStore> {
  const store = await createPostgresStore({ uri: db.uri, maxOpenConnections: 4, maxRetries: 50 });
  await store.ready();
  stores.push(store);
  return store;
}

async function exported(store: PostgresStore, tenantId: string): Promise<string[]> {
  const out: string[] = [];
  const snap = await store.reader.headSnapToken(tenantId);
  let cursor = '';
  do {
    const page = await store.bulk.exportPage(tenantId, snap, cursor, 5000);
    for (const t of page.tuples) out.push(tupleToString(t));
    cursor = page.cursor;
  } while (cursor !== '');
  return out;
}

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  for (const s of stores) await s.close();
  await db?.drop();
  await stopSharedServer();
});

describe('postgres bulk import, batches in flight', () => {
  it('numbers rows in call order with a batch without tuples in between', async () => {
    const store = await freshStore();
    const first = Array.from({ length: 10_000 }, (_, i) => tuple(i));
    const second = Array.from({ length: 10_000 }, (_, i) => tuple(100_000 + i));
    await Promise.all([
      store.bulk.importBatch('order', { tuples: first, attributes: [] }),
      store.bulk.importBatch('order', { tuples: [], attributes: [level(1)] }),
      store.bulk.importBatch('order', { tuples: second, attributes: [] }),
    ]);
    expect(await exported(store, 'order')).toEqual([...first, ...second].map(tupleToString));
  }, 60_000);

  it('conflicting batches are retried and all apply, also on connections whose first attempt rolled back', async () => {
    // A fresh store: its connections have not staged anything yet when the first conflicts happen.
    const store = await freshStore();
    const expected = new Set<string>();
    for (let round = 0; round < 15; round += 1) {
      const batches = [0, 1].map((k) => Array.from({ length: 1500 }, (_, i) => tuple(round * 1000 + k * 100 + i)));
      for (const b of batches) for (const t of b) expected.add(tupleToString(t));
      const results = await Promise.allSettled(batches.map((b) => store.bulk.importBatch('conflicts', { tuples: b, attributes: [] })));
      expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    }
    expect((await exported(store, 'conflicts')).sort()).toEqual([...expected].sort());
  }, 120_000);
});
