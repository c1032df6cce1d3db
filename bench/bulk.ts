/**
 * Bulk import/export figures (issue 15), store level (`importBatch` in batches, `exportPage` pages), on memory
 * and (with PERMIFY_TEST_DATABASE_URI) PostgreSQL, with baselines measured in the same run:
 * - import vs the write path (`DataWriter.write`, 1,000 tuples per call, what Data/Write clients do) and, on
 *   PostgreSQL, vs the ceiling of the table itself: `COPY` straight into relation_tuples (same indexes, no
 *   staging, no MVCC bookkeeping, no duplicate handling);
 * - export vs paging with the reader's `readRelationships` (the generic read path); the first export after
 *   an import is reported apart ("cold": PostgreSQL sets the rows' hint bits on first read, and autovacuum
 *   of the new rows is pending) from a second one after `VACUUM (ANALYZE)`;
 * - memory flat in the data size: the same run at size/5 and at size, printing the peak heap and RSS growth of
 *   the import and export phases (after a GC, with --expose-gc) -- streaming means these do not grow with N.
 *   (The memory store keeps its data on the heap by design; for it only the export phase is meaningful.)
 * CPU time of the process is printed per 1,000 items (PostgreSQL's own CPU is in its server processes).
 *
 * On PostgreSQL the import is also run with `--import-concurrency` batches in flight (default 2, the default
 * of `service.data.import_concurrency`, what the Import handler does), into another tenant.
 *
 * Usage: node --expose-gc --import tsx bench/bulk.ts [--size N] [--batch N] [--page N] [--keys spread|sequential] [--import-concurrency N]
 * (default 1,000,000 tuples, import batches of 10,000, export pages of 5,000, entity ids spread over the key
 * space; `sequential` gives ids in insertion order, which flatters both stores' index maintenance).
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Tuple } from '../src/data/types.js';
import type { Store } from '../src/storage/contract.js';
import { createMemoryStore } from '../src/storage/memory/index.js';
import { createPostgresStore } from '../src/storage/postgres/index.js';
import { createTestDatabase } from '../test/support/postgres.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '10000' },
    page: { type: 'string', default: '5000' },
    keys: { type: 'string', default: 'spread' },
    'import-concurrency': { type: 'string', default: '2' },
  },
});
const size = Number(values.size);
const batch = Number(values.batch);
const pageSize = Number(values.page);
/** `spread`: entity ids spread over the key space (realistic); `sequential`: ids in insertion order. */
const spread = values.keys !== 'sequential';
/** Batches in flight for the extra PostgreSQL import line (`service.data.import_concurrency`). */
const importConcurrency = Number(values['import-concurrency']);
const gc = (globalThis as { gc?: () => void }).gc;
const MiB = 2 ** 20;
const r = (x: number): string => Math.round(x).toLocaleString('en-US');

/** Tuples `from .. from+n` of the data set (entity ids spread over the key space unless --keys sequential). */
function tuples(from: number, n: number, prefix: string): Tuple[] {
  const out: Tuple[] = [];
  for (let i = from; i < from + n; i += 1) {
    out.push({
      entity: { type: 'document', id: `${prefix}${spread ? (i * 7919) % 100_000_019 : i}` },
      relation: 'viewer',
      subject: { type: 'user', id: `u${i % 5000}`, relation: '' },
    });
  }
  return out;
}

/** Peak heap/RSS above the level at `start()` (after a GC), sampled by `sample()`. */
function memoryWatch(): { start(): void; sample(): void; peakHeap(): number; peakRss(): number } {
  let heap0 = 0;
  let rss0 = 0;
  let heap = 0;
  let rss = 0;
  return {
    start() {
      gc?.();
      const m = process.memoryUsage();
      heap0 = m.heapUsed;
      rss0 = m.rss;
      heap = heap0;
      rss = rss0;
    },
    sample() {
      const m = process.memoryUsage();
      heap = Math.max(heap, m.heapUsed);
      rss = Math.max(rss, m.rss);
    },
    peakHeap: () => (heap - heap0) / MiB,
    peakRss: () => (rss - rss0) / MiB,
  };
}

interface Timed {
  readonly rate: number;
  readonly cpuPerK: number;
}

async function timed(n: number, fn: () => Promise<void>): Promise<Timed> {
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  await fn();
  const seconds = (performance.now() - t) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { rate: n / seconds, cpuPerK: (cpu.user + cpu.system) / 1000 / (n / 1000) };
}

const fmt = (t: Timed): string => `${r(t.rate)}/s (${t.cpuPerK.toFixed(1)} ms CPU/1k)`;

/**
 * Imports `n` tuples in batches. One batch in flight: only the store calls are timed (each batch is generated
 * before its call, outside the clock, as a server would have it decoded). Several in flight (what
 * `service.data.import_concurrency` does): the whole run is timed, generation included.
 */
async function importAll(
  store: Store,
  tenant: string,
  n: number,
  mem: ReturnType<typeof memoryWatch>,
  concurrency = 1,
): Promise<Timed> {
  if (concurrency > 1) {
    return timed(n, async () => {
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < n) {
            const i = next;
            next += batch;
            await store.bulk.importBatch(tenant, { tuples: tuples(i, Math.min(batch, n - i), 'd'), attributes: [] });
            mem.sample();
          }
        }),
      );
    });
  }
  let ms = 0;
  let cpuUs = 0;
  for (let i = 0; i < n; i += batch) {
    const b = tuples(i, Math.min(batch, n - i), 'd');
    const cpu0 = process.cpuUsage();
    const t = performance.now();
    await store.bulk.importBatch(tenant, { tuples: b, attributes: [] });
    ms += performance.now() - t;
    const cpu = process.cpuUsage(cpu0);
    cpuUs += cpu.user + cpu.system;
    mem.sample();
  }
  return { rate: n / (ms / 1000), cpuPerK: cpuUs / 1000 / (n / 1000) };
}

async function exportAll(
  store: Store,
  tenant: string,
  snap: string,
  mem: ReturnType<typeof memoryWatch>,
): Promise<{ t: Timed; items: number }> {
  let items = 0;
  let cursor = '';
  let pages = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  do {
    const page = await store.bulk.exportPage(tenant, snap, cursor, pageSize);
    items += page.tuples.length + page.attributes.length;
    cursor = page.cursor;
    pages += 1;
    if (pages % 8 === 0) mem.sample();
  } while (cursor !== '');
  mem.sample();
  const cpu = process.cpuUsage(cpu0);
  return {
    t: { rate: items / ((performance.now() - t0) / 1000), cpuPerK: (cpu.user + cpu.system) / 1000 / (items / 1000) },
    items,
  };
}

async function readerPaged(store: Store, tenant: string, snap: string): Promise<Timed> {
  let n = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let token = '';
  do {
    const page = await store.reader.readRelationships(tenant, {}, snap, { size: pageSize, token });
    n += page.items.length;
    token = page.continuousToken;
  } while (token !== '');
  const cpu = process.cpuUsage(cpu0);
  return { rate: n / ((performance.now() - t0) / 1000), cpuPerK: (cpu.user + cpu.system) / 1000 / (n / 1000) };
}

async function vacuum(uri: string): Promise<void> {
  const c = new pg.Client({ connectionString: uri });
  await c.connect();
  try {
    await c.query('VACUUM (ANALYZE) relation_tuples');
  } finally {
    await c.end();
  }
}

/** The table's own ceiling: COPY of the same rows straight into relation_tuples (PostgreSQL only). */
async function copyCeiling(uri: string, n: number): Promise<Timed> {
  const c = new pg.Client({ connectionString: uri });
  await c.connect();
  try {
    return await timed(n, async () => {
      for (let i = 0; i < n; i += batch) {
        let text = '';
        for (const t of tuples(i, Math.min(batch, n - i), 'c')) {
          text += `ceiling\t${t.entity.type}\t${t.entity.id}\t${t.relation}\t${t.subject.type}\t${t.subject.id}\t\n`;
        }
        await c.query('BEGIN');
        await pipeline(
          Readable.from([Buffer.from(text)]),
          c.query(
            copyFrom(
              'COPY relation_tuples (tenant_id, entity_type, entity_id, relation, subject_type, subject_id, subject_relation) FROM STDIN',
            ),
          ),
        );
        await c.query('COMMIT');
      }
    });
  } finally {
    await c.end();
  }
}

async function run(name: string, store: Store, uri?: string): Promise<void> {
  // Warm-up and the write path for the ratio (Data/Write's path, 1,000 per call).
  const writeN = Math.min(size, 50_000);
  const write = await timed(writeN, async () => {
    for (let i = 0; i < writeN; i += 1000) await store.writer.write('w', [{ writeTuples: tuples(i, 1000, 'w') }]);
  });
  const sizes = size >= 50_000 ? [Math.round(size / 5), size] : [size];
  for (const n of sizes) {
    const tenant = `b${n}`;
    const mi = memoryWatch();
    mi.start();
    const imp = await importAll(store, tenant, n, mi);
    const snap = await store.reader.headSnapToken(tenant);
    const me = memoryWatch();
    me.start();
    const cold = await exportAll(store, tenant, snap, me);
    // What autovacuum does shortly after a bulk load anyway; measured apart so that the warm figure does
    // not depend on whether autovacuum happens to run during it.
    if (uri !== undefined) await vacuum(uri);
    const warm = await exportAll(store, tenant, snap, me);
    const reader = n === size ? await readerPaged(store, tenant, snap) : undefined;
    console.log(
      `${name} ${r(n)} tuples: import ${fmt(imp)}, ${(imp.rate / write.rate).toFixed(1)}x the write path ${fmt(write)}`,
    );
    console.log(
      `${name} ${r(n)} tuples: export ${fmt(warm.t)}${uri !== undefined ? ' after VACUUM' : ''} (cold, first read right after the import: ${fmt(cold.t)})` +
        (reader ? `, ${(warm.t.rate / reader.rate).toFixed(1)}x paging the reader ${fmt(reader)}` : '') +
        (warm.items === n && cold.items === n ? '' : `  ITEM COUNT MISMATCH ${cold.items}/${warm.items}`),
    );
    console.log(
      `${name} ${r(n)} tuples: peak growth import heap +${mi.peakHeap().toFixed(1)} MiB rss +${mi.peakRss().toFixed(1)} MiB` +
        `${name === 'memory' ? ' (the data itself)' : ''}; export heap +${me.peakHeap().toFixed(1)} MiB rss +${me.peakRss().toFixed(1)} MiB`,
    );
  }
  if (uri !== undefined && importConcurrency > 1) {
    const mi = memoryWatch();
    mi.start();
    const imp = await importAll(store, `b${size}c`, size, mi, importConcurrency);
    console.log(
      `${name} ${r(size)} tuples: import with ${importConcurrency} batches in flight ${fmt(imp)}` +
        `${importConcurrency === 2 ? ' (the Import RPC by default: service.data.import_concurrency 2)' : ''}`,
    );
  }
  if (uri !== undefined) {
    const n = Math.min(size, 200_000);
    const ceiling = await copyCeiling(uri, n);
    console.log(`${name}: ceiling, COPY of ${r(n)} rows straight into relation_tuples (same indexes): ${fmt(ceiling)}`);
  }
}

if (gc === undefined) console.log('(run with node --expose-gc for heap figures after a GC)');
console.log(`${values.keys} entity ids, import batches of ${r(batch)}, export pages of ${r(pageSize)}`);
await run('memory', createMemoryStore());
if (process.env.PERMIFY_TEST_DATABASE_URI) {
  const db = await createTestDatabase();
  const store = await createPostgresStore({ uri: db.uri });
  await (store as { ready(): Promise<void> }).ready();
  try {
    await run('postgres', store, db.uri);
  } finally {
    await store.close();
    await db.drop();
  }
}
