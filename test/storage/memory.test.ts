/**
 * The memory store: the shared conformance suite, then behaviour specific to this store (token checks,
 * automatic GC, watch after GC, close).
 */
import { describe, expect, it } from 'vitest';
import { parseAttribute, parseTuple } from '../../src/data/notation.js';
import { PermifyError } from '../../src/errors.js';
import { describeStoreConformance } from '../../src/storage/conformance/index.js';
import { createMemoryStore } from '../../src/storage/memory/index.js';
import { encodeSnapToken } from '../../src/storage/memory/snap-token.js';

describeStoreConformance('memory', async () => ({ store: createMemoryStore(), cleanup: async () => {} }));

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PermifyError) return e.code;
    throw e;
  }
  return 'no error';
}

describe('memory store specifics', () => {
  it('encodes tokens as base64 of the 8-byte little-endian transaction id and rejects future ones', async () => {
    const store = createMemoryStore();
    const head = await store.reader.headSnapToken('t1');
    expect(Buffer.from(head, 'base64')).toHaveLength(8);
    const next = await store.writer.write('t1', []);
    expect(Buffer.from(next, 'base64').readBigUInt64LE()).toBe(Buffer.from(head, 'base64').readBigUInt64LE() + 1n);
    const future = encodeSnapToken(Number(Buffer.from(next, 'base64').readBigUInt64LE()) + 5);
    expect(await codeOf(store.reader.queryRelationships('t1', {}, future))).toBe('ERROR_CODE_INVALID_ARGUMENT');
    expect(await codeOf(store.reader.queryRelationships('t1', {}, ''))).toBe('ERROR_CODE_INTERNAL');
    expect(await codeOf(store.reader.queryRelationships('t1', {}, 'AAAAAAAAAA'))).toBe('ERROR_CODE_INVALID_ARGUMENT');
  });

  it('collects automatically when gcWindowMs is set, using the injected clock', async () => {
    let now = 1_000_000;
    const store = createMemoryStore({ gcWindowMs: 1000, now: () => now });
    const t1 = await store.writer.write('t1', [{ writeTuples: [parseTuple('doc:1#viewer@user:1')] }]);
    await store.writer.write('t1', [{ deleteTuples: [parseTuple('doc:1#viewer@user:1')] }]);
    now += 500;
    await store.writer.write('t1', [{ writeTuples: [parseTuple('doc:2#viewer@user:1')] }]);
    expect(await store.reader.queryRelationships('t1', {}, t1)).toHaveLength(1); // history still there
    now += 2000;
    await store.writer.write('t1', [{ writeTuples: [parseTuple('doc:3#viewer@user:1')] }]); // triggers a collection
    expect(await store.reader.queryRelationships('t1', {}, t1)).toHaveLength(0);
    const head = await store.reader.headSnapToken('t1');
    expect((await store.reader.queryRelationships('t1', {}, head)).map((t) => t.entity.id)).toEqual(['2', '3']);
  });

  it('compacts automatically only when enough of a tenant is garbage', async () => {
    let now = 0;
    const store = createMemoryStore({ gcWindowMs: 100, now: () => now });
    const tuples = Array.from({ length: 20 }, (_, i) => parseTuple(`doc:${i}#viewer@user:1`));
    const start = await store.reader.headSnapToken('t1');
    const t1 = await store.writer.write('t1', [{ writeTuples: tuples }]);
    await store.writer.write('t1', [{ deleteTuples: [tuples[0]!] }]); // 1 of 20 rows is garbage
    await store.writer.write('t1', []); // a later transaction, so that the delete falls below the horizon
    now = 200;
    await store.writer.write('t1', []); // automatic collection: log trimmed, rows kept
    expect(await store.reader.queryRelationships('t1', {}, t1)).toHaveLength(20);
    const ac = new AbortController();
    expect(await codeOf(store.watcher.watch('t1', start, ac.signal)[Symbol.asyncIterator]().next())).toBe(
      'ERROR_CODE_INTERNAL',
    );
    await store.writer.write('t1', [{ deleteTuples: tuples.slice(1, 6) }]); // now 6 of 20
    await store.writer.write('t1', []); // a later transaction, so that the deletes fall below the horizon
    now = 400;
    await store.writer.write('t1', []); // automatic collection compacts
    expect(await store.reader.queryRelationships('t1', {}, t1)).toHaveLength(14);
    const head = await store.reader.headSnapToken('t1');
    expect((await store.reader.queryRelationships('t1', {}, head)).map((t) => t.entity.id)).toEqual(
      Array.from({ length: 14 }, (_, i) => String(i + 6)),
    );
    ac.abort();
  });

  it('refuses to resume a watch from history removed by GC', async () => {
    let now = 0;
    const store = createMemoryStore({ now: () => now });
    const t1 = await store.writer.write('t1', [{ writeTuples: [parseTuple('doc:1#viewer@user:1')] }]);
    now = 10;
    await store.writer.write('t1', [{ writeAttributes: [parseAttribute('doc:1$a|integer:1')] }]);
    now = 20;
    await store.writer.write('t1', [{ writeAttributes: [parseAttribute('doc:1$a|integer:2')] }]);
    now = 30;
    const t4 = await store.writer.write('t1', []);
    now = 100;
    expect((await store.gc.collect(50)).removedRows).toBe(1);
    const ac = new AbortController();
    const it = store.watcher.watch('t1', t1, ac.signal)[Symbol.asyncIterator]();
    expect(await codeOf(it.next())).toBe('ERROR_CODE_INTERNAL');
    // The retained transaction L (the newest one before the cutoff) is still a valid starting point.
    const fromL = store.watcher.watch('t1', t4, ac.signal)[Symbol.asyncIterator]();
    const pending = fromL.next();
    const t5 = await store.writer.write('t1', [{ writeTuples: [parseTuple('doc:5#viewer@user:1')] }]);
    expect((await pending).value?.snapToken).toBe(t5);
    ac.abort();
  });

  it('keeps page tokens valid across a compaction', async () => {
    let now = 0;
    const store = createMemoryStore({ now: () => now });
    const tuples = Array.from({ length: 6 }, (_, i) => parseTuple(`doc:${i}#viewer@user:1`));
    await store.writer.write('t1', [{ writeTuples: tuples }]);
    await store.writer.write('t1', [{ deleteTuples: [tuples[0]!, tuples[1]!] }]);
    const head = await store.reader.headSnapToken('t1');
    const page = await store.reader.readRelationships('t1', {}, head, { size: 2 });
    expect(page.items.map((t) => t.entity.id)).toEqual(['2', '3']);
    now = 1000;
    await store.gc.collect(10);
    const rest = await store.reader.readRelationships('t1', {}, head, { size: 10, token: page.continuousToken });
    expect(rest.items.map((t) => t.entity.id)).toEqual(['4', '5']);
  });

  it('ends watch streams when the tenant is deleted or the store closes', async () => {
    const store = createMemoryStore();
    await store.tenants.createTenant('w1', 'w');
    const ac = new AbortController();
    const a = store.watcher.watch('w1', '', ac.signal)[Symbol.asyncIterator]();
    const b = store.watcher.watch('t1', '', ac.signal)[Symbol.asyncIterator]();
    const pa = a.next();
    const pb = b.next();
    await store.tenants.deleteTenant('w1');
    expect((await pa).done).toBe(true);
    await store.close();
    expect((await pb).done).toBe(true);
    expect(await store.isReady()).toBe(false);
    expect(await codeOf(store.writer.write('t1', []))).toBe('UNAVAILABLE');
  });

  it('honours aborted signals', async () => {
    const store = createMemoryStore();
    const ac = new AbortController();
    ac.abort();
    expect(await codeOf(store.reader.headSnapToken('t1', ac.signal))).toBe('ERROR_CODE_CANCELLED');
    expect(await codeOf(store.writer.write('t1', [], ac.signal))).toBe('ERROR_CODE_CANCELLED');
  });
});
