/**
 * The PostgreSQL reader's snapshot read cache: repeated reads at one token are answered without another
 * round trip, reads at different tokens are never mixed up, concurrent identical reads share one query,
 * one caller's abort does not fail the others, and a cache of 0 entries turns it off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tuple } from '../../src/data/types.js';
import { PermifyError } from '../../src/errors.js';
import { createPostgresStore, type PostgresStore } from '../../src/storage/postgres/index.js';
import { createTestDatabase, stopSharedServer, type TestDatabase } from '../support/postgres.js';

const tuple = (doc: string, user: string): Tuple => ({
  entity: { type: 'document', id: doc },
  relation: 'viewer',
  subject: { type: 'user', id: user, relation: '' },
});

let db: TestDatabase;
let cached: PostgresStore;
let uncached: PostgresStore;
/** SELECTs sent through each store's reader pool. */
const selects = new Map<PostgresStore, number>();
const counted = new WeakSet<object>();

/** Counts data SELECTs on every client the reader pool hands out (pool.query checks one out too). */
function countSelects(store: PostgresStore): void {
  selects.set(store, 0);
  const count = (args: unknown[]) => {
    const first = args[0] as { text?: string } | string;
    const text = typeof first === 'string' ? first : (first.text ?? '');
    if (/\b(relation_tuples|attributes)\b/.test(text)) selects.set(store, (selects.get(store) ?? 0) + 1);
  };
  const pool = store.database.reader;
  pool.on('acquire', (client) => {
    if (counted.has(client)) return;
    counted.add(client);
    const clientQuery = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      count(args);
      return clientQuery(...args);
    };
  });
}

beforeAll(async () => {
  db = await createTestDatabase();
  cached = await createPostgresStore({ uri: db.uri, maxOpenConnections: 4 });
  uncached = await createPostgresStore({ uri: db.uri, maxOpenConnections: 4, readCacheEntries: 0 });
  await cached.ready();
  await uncached.ready();
  countSelects(cached);
  countSelects(uncached);
});

afterAll(async () => {
  await cached?.close();
  await uncached?.close();
  await db?.drop();
  await stopSharedServer();
});

describe('postgres reader: snapshot read cache', () => {
  it('answers a repeated read at the same token from the cache, and keeps tokens apart', async () => {
    const tenant = 'rc1';
    const first = await cached.writer.write(tenant, [{ writeTuples: [tuple('1', 'a')] }]);
    const filter = { entity: { type: 'document', ids: ['1'] }, relation: 'viewer' };
    const before = selects.get(cached)!;
    const a = await cached.reader.queryRelationships(tenant, filter, first);
    const b = await cached.reader.queryRelationships(tenant, filter, first);
    expect(selects.get(cached)! - before).toBe(1);
    expect(b).toEqual(a);
    expect(a.map((t) => t.subject.id)).toEqual(['a']);

    // A later write gets a new token: the new state is read, the old token still answers the old state.
    const second = await cached.writer.write(tenant, [{ writeTuples: [tuple('1', 'b')] }]);
    expect((await cached.reader.queryRelationships(tenant, filter, second)).map((t) => t.subject.id)).toEqual([
      'a',
      'b',
    ]);
    expect((await cached.reader.queryRelationships(tenant, filter, first)).map((t) => t.subject.id)).toEqual(['a']);
    // Other filters, options and calls are distinct entries.
    const other = { entity: { type: 'document', ids: ['2'] }, relation: 'viewer' };
    expect(await cached.reader.queryRelationships(tenant, other, second)).toEqual([]);
    expect((await cached.reader.queryRelationships(tenant, filter, second, { entityIdFrom: '2' })).length).toBe(0);
    expect(await cached.reader.queryUniqueSubjectIds(tenant, 'user', '', second)).toEqual(['a', 'b']);
    expect(await cached.reader.queryUniqueSubjectIds(tenant, 'user', '', first)).toEqual(['a']);
    // Another tenant at the same token text sees its own (empty) data.
    expect(await cached.reader.queryRelationships('rc1-other', filter, second)).toEqual([]);
  });

  it('caches attributes, single attributes included', async () => {
    const tenant = 'rc2';
    const token = await cached.writer.write(tenant, [
      {
        writeAttributes: [
          { entity: { type: 'document', id: '1' }, attribute: 'public', value: { type: 'boolean', value: true } },
        ],
      },
    ]);
    const before = selects.get(cached)!;
    for (let i = 0; i < 3; i += 1) {
      const a = await cached.reader.querySingleAttribute(tenant, { type: 'document', id: '1' }, 'public', token);
      expect(a?.value).toEqual({ type: 'boolean', value: true });
      expect(await cached.reader.querySingleAttribute(tenant, { type: 'document', id: '2' }, 'public', token)).toBe(
        undefined,
      );
    }
    expect(selects.get(cached)! - before).toBe(2);
    const later = await cached.writer.write(tenant, [
      { deleteAttributes: [{ entity: { type: 'document', id: '1' }, attribute: 'public' }] },
    ]);
    expect(await cached.reader.querySingleAttribute(tenant, { type: 'document', id: '1' }, 'public', later)).toBe(
      undefined,
    );
    expect((await cached.reader.queryAttributes(tenant, { entity: { type: 'document' } }, token)).length).toBe(1);
    expect((await cached.reader.queryAttributes(tenant, { entity: { type: 'document' } }, later)).length).toBe(0);
  });

  it('shares one query between concurrent identical reads, and one caller aborting fails only that caller', async () => {
    const tenant = 'rc3';
    const token = await cached.writer.write(tenant, [{ writeTuples: [tuple('1', 'a'), tuple('2', 'a')] }]);
    const filter = { entity: { type: 'document' }, relation: 'viewer' };
    const before = selects.get(cached)!;
    const abort = new AbortController();
    const aborted = cached.reader.queryRelationships(tenant, filter, token, { signal: abort.signal });
    const others = Array.from({ length: 5 }, () => cached.reader.queryRelationships(tenant, filter, token));
    abort.abort();
    await expect(aborted).rejects.toBeInstanceOf(PermifyError);
    for (const r of await Promise.all(others)) expect(r.map((t) => t.entity.id)).toEqual(['1', '2']);
    expect(selects.get(cached)! - before).toBe(1);
  });

  it('forgets a deleted tenant: an old token of a re-created tenant does not answer the old rows', async () => {
    const tenant = 'rc-recreate';
    await cached.tenants.createTenant(tenant, 'first');
    const old = await cached.writer.write(tenant, [{ writeTuples: [tuple('1', 'a')] }]);
    const filter = { entity: { type: 'document', ids: ['1'] }, relation: 'viewer' };
    expect((await cached.reader.queryRelationships(tenant, filter, old)).map((t) => t.subject.id)).toEqual(['a']);
    expect(await cached.reader.queryUniqueSubjectIds(tenant, 'user', '', old)).toEqual(['a']);
    await cached.tenants.deleteTenant(tenant);
    await cached.tenants.createTenant(tenant, 'again');
    expect(await cached.reader.queryRelationships(tenant, filter, old)).toEqual([]);
    expect(await cached.reader.queryUniqueSubjectIds(tenant, 'user', '', old)).toEqual([]);
  });

  it('is off with 0 entries', async () => {
    const tenant = 'rc4';
    const token = await uncached.writer.write(tenant, [{ writeTuples: [tuple('1', 'a')] }]);
    const before = selects.get(uncached)!;
    for (let i = 0; i < 3; i += 1) {
      expect((await uncached.reader.queryRelationships(tenant, {}, token)).length).toBe(1);
    }
    expect(selects.get(uncached)! - before).toBe(3);
  });
});
