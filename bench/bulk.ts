/**
 * Bulk import/export figures (issue 15), store level: `importBatch` in batches and `exportPage` pages, on
 * memory and (with PERMIFY_TEST_DATABASE_URI) PostgreSQL, plus the write path for the ratio, in one run.
 * Usage: node --import tsx bench/bulk.ts [--size N] [--batch N] (default 1,000,000 tuples, batches of 10,000).
 */
import { parseArgs } from 'node:util';
import type { Tuple } from '../src/data/types.js';
import type { Store } from '../src/storage/contract.js';
import { createMemoryStore } from '../src/storage/memory/index.js';
import { createPostgresStore } from '../src/storage/postgres/index.js';
import { createTestDatabase } from '../test/support/postgres.js';

const { values } = parseArgs({
  options: { size: { type: 'string', default: '1000000' }, batch: { type: 'string', default: '10000' } },
});
const size = Number(values.size);
const batch = Number(values.batch);

function tuples(from: number, n: number, prefix: string): Tuple[] {
  const out: Tuple[] = [];
  for (let i = from; i < from + n; i += 1) {
    out.push({
      entity: { type: 'document', id: `${prefix}${i}` },
      relation: 'viewer',
      subject: { type: 'user', id: `u${i % 5000}`, relation: '' },
    });
  }
  return out;
}

async function run(name: string, store: Store): Promise<void> {
  const rss0 = process.memoryUsage().rss;
  // Warm-up and the write path for the ratio (Data/Write's path, 1,000 per call).
  const writeN = Math.min(size, 50_000);
  let t = performance.now();
  for (let i = 0; i < writeN; i += 1000) await store.writer.write('w', [{ writeTuples: tuples(i, 1000, 'w') }]);
  const writeRate = writeN / ((performance.now() - t) / 1000);
  t = performance.now();
  for (let i = 0; i < size; i += batch)
    await store.bulk.importBatch('b', { tuples: tuples(i, Math.min(batch, size - i), 'd'), attributes: [] });
  const importRate = size / ((performance.now() - t) / 1000);
  const snap = await store.reader.headSnapToken('b');
  t = performance.now();
  let cursor = '';
  let n = 0;
  let peak = 0;
  do {
    const page = await store.bulk.exportPage('b', snap, cursor, 5000);
    n += page.tuples.length + page.attributes.length;
    cursor = page.cursor;
    peak = Math.max(peak, process.memoryUsage().rss);
  } while (cursor !== '');
  const exportRate = n / ((performance.now() - t) / 1000);
  const r = (x: number): string => Math.round(x).toLocaleString('en-US');
  console.log(
    `${name}: ${r(size)} tuples  import ${r(importRate)}/s (write path ${r(writeRate)}/s, ratio ${(importRate / writeRate).toFixed(1)}x)  export ${r(exportRate)}/s (${r(n)} items)  rss +${r((peak - rss0) / 2 ** 20)} MiB`,
  );
}

await run('memory', createMemoryStore());
if (process.env.PERMIFY_TEST_DATABASE_URI) {
  const db = await createTestDatabase();
  const store = await createPostgresStore({ uri: db.uri });
  await (store as { ready(): Promise<void> }).ready();
  try {
    await run('postgres', store);
  } finally {
    await store.close();
    await db.drop();
  }
}
