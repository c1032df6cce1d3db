/**
 * The PostgreSQL read model side by side with the memory store, in one run, on the google-docs dataset
 * (bench/datasets/google-docs.ts) written through the storage contract. The engine's check cache is off
 * everywhere ("uncached": every check reads storage).
 *
 * Prints, each with the machine's load average:
 * - model load from PostgreSQL: tuples/s; bytes per tuple (the model's estimate) and RSS growth per tuple;
 * - checks/s with `--concurrency` in flight: memory store, PostgreSQL + read model, PostgreSQL direct
 *   (model off), the ratios, and wrong answers (compared with the memory store's); Node CPU per check and
 *   the PostgreSQL server's CPU during the run (from /proc when the server is local); then memory and model
 *   in four alternating rounds, with the median ratio (the two single runs are minutes apart);
 * - p50/p99 of checks issued at half of the model's saturation rate (open loop; three rounds and their
 *   median p99), and of the memory store's checks at the same rate for reference;
 * - SQL statements per uncached check with direct reads (reader pool statements / checks);
 * - LookupEntity first page (100) per second: memory vs model, and wrong answers; then three alternating
 *   rounds (users of their own each), with the median ratio;
 * - apply lag: a second instance (a child process with its own store and model, as another server would be)
 *   writes at `--write-rate` writes/s (one tuple each) and sends each returned token here; from the write's
 *   return (a clock both processes share) until this instance's model covers its token (p50/p99). Two runs:
 *   first nobody reads at the tokens (the model learns of the writes by NOTIFY and its poll timer only; the
 *   time is when a cycle moved the position over the token), then a reader here reads at each token as it
 *   arrives (its delivery to this process is included; the time is when the read was answered by the model),
 *   with the tailing cycles and event-loop delay here; each line also gives the CPU used during the writes by
 *   this process, the writing process and the PostgreSQL server. `--lag-rounds N` repeats both runs N times
 *   (the spread on a shared machine); `--lag-in-process` also runs the reading variant with the writing
 *   instance in this process. `--skip-checks` skips everything between the model's load and the apply lag.
 *
 *   node --import tsx bench/read-model.ts [--tuples 50000] [--checks 2000] [--concurrency 64]
 *     [--lookups 200] [--budget-ms 10000] [--write-rate 1000] [--write-seconds 5] [--uri postgres://...]
 *     [--skip-memory] [--skip-direct] [--skip-model] [--skip-lag] [--lag-in-process] [--lag-rounds 1]
 *     [--skip-checks] [--processes 3]
 *
 * With `--processes N` (default 3), N-1 more processes each load the same tenant into their own model, one
 * after the other, and report their RSS (what a second and third server process costs).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Subject } from '../src/data/types.js';
import { createEngine } from '../src/engine/index.js';
import type { PermissionEngine } from '../src/engine/types.js';
import type { Store } from '../src/storage/contract.js';
import { createMemoryStore } from '../src/storage/memory/index.js';
import { silentLogger } from '../src/storage/postgres/database.js';
import { createPostgresStore, type PostgresStore } from '../src/storage/postgres/index.js';
import { createReadModelStore, type ReadModelStore } from '../src/storage/read-model/model-store.js';
import { decodeToken, type DecodedToken, type PgSnapshot } from '../src/storage/postgres/snap-token.js';
import { tokenWithin } from '../src/storage/read-model/snapshots.js';
import { createTestDatabase, stopSharedServer } from '../test/support/postgres.js';
import { generateGoogleDocsDataset, type GoogleDocsCheck } from './datasets/google-docs.js';

const { values } = parseArgs({
  strict: false,
  options: {
    tuples: { type: 'string', default: '50000' },
    seed: { type: 'string', default: '42' },
    checks: { type: 'string', default: '2000' },
    lookups: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '64' },
    'budget-ms': { type: 'string', default: '10000' },
    'write-rate': { type: 'string', default: '1000' },
    'write-seconds': { type: 'string', default: '5' },
    batch: { type: 'string', default: '10000' },
    uri: { type: 'string' },
    'skip-memory': { type: 'boolean', default: false },
    'skip-direct': { type: 'boolean', default: false },
    'skip-model': { type: 'boolean', default: false },
    processes: { type: 'string', default: '3' },
    'skip-lag': { type: 'boolean', default: false },
    'lag-in-process': { type: 'boolean', default: false },
    'lag-rounds': { type: 'string', default: '1' },
    'skip-checks': { type: 'boolean', default: false },
    child: { type: 'string' },
    writer: { type: 'string' },
  },
});
const num = (k: string): number => {
  const v = Number(values[k]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${k} must be a non-negative number`);
  return v;
};
const TENANT = 't1';
const concurrency = Math.max(1, num('concurrency'));
const budgetMs = num('budget-ms');
const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const quantile = (sorted: readonly number[], q: number): number =>
  sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number);
const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * CPU time (ms) used so far by the local PostgreSQL server's processes (from /proc; 0 when not readable):
 * whether the database competes with the checks for the machine's cores.
 */
function postgresCpuMs(): number {
  let ticks = 0;
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const close = stat.lastIndexOf(')');
        if (!stat.slice(stat.indexOf('(') + 1, close).startsWith('postgres')) continue;
        const f = stat.slice(close + 2).split(' ');
        ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
      } catch {
        // the process ended
      }
    }
  } catch {
    return 0;
  }
  return ticks * 10; // USER_HZ = 100
}

interface CheckRun {
  perSecond: number;
  p50: number;
  p99: number;
  count: number;
  answers: Map<number, string>;
  /** Node CPU per check (µs) and PostgreSQL server CPU during the run (ms). */
  cpuUs: number;
  pgCpuMs: number;
}

async function runChecks(
  engine: PermissionEngine,
  checks: readonly GoogleDocsCheck[],
  parallel: number,
  forMs = budgetMs,
): Promise<CheckRun> {
  const latencies: number[] = [];
  const answers = new Map<number, string>();
  let next = 0;
  const cpu0 = process.cpuUsage();
  const pg0 = postgresCpuMs();
  const start = performance.now();
  const worker = async (): Promise<void> => {
    while (performance.now() - start < forMs) {
      const i = next++ % checks.length;
      const c = checks[i] as GoogleDocsCheck;
      const t0 = performance.now();
      const r = await engine.check({
        tenantId: TENANT,
        metadata: { depth: 50 },
        entity: c.entity,
        permission: c.permission,
        subject: c.subject,
      });
      latencies.push(performance.now() - t0);
      answers.set(i, r.can);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const wall = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  return {
    perSecond: (latencies.length / wall) * 1000,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    count: latencies.length,
    answers,
    cpuUs: (cpu.user + cpu.system) / Math.max(1, latencies.length),
    pgCpuMs: postgresCpuMs() - pg0,
  };
}

/**
 * Checks issued at a fixed rate (open loop): latency includes queueing behind earlier checks, and is counted
 * from each check's due time, so a late issue counts too. Each check is issued at its due time: the generator
 * sleeps until about 2 ms before it, then turns the event loop (setImmediate) until it is due. A timer alone
 * cannot wait less than a millisecond, so it issued the checks in bursts of ten or more at this rate, and the
 * last of each burst queued behind the others: that added 2-3 ms to the p99 even of a check that does nothing.
 * The first `warmupMs` run at the same rate and are not counted (the first 100 ms after the forced GC that
 * starts the run stalled for tens of milliseconds).
 */
async function runAtRate(
  engine: PermissionEngine,
  checks: readonly GoogleDocsCheck[],
  perSecond: number,
  ms: number,
  warmupMs = 1_000,
): Promise<{
  p50: number;
  p99: number;
  count: number;
  lateP99: number;
  loopP99: number;
  loopMax: number;
  gcMs: number;
  gcMaxMs: number;
}> {
  const latencies: number[] = [];
  /** How late each check was issued after its due time (the generator's share of the latency). */
  const late: number[] = [];
  // No array of the checks' promises: a generator holding every promise until the end promoted them to the
  // old generation and brought a major GC into the run (a server holds no such list).
  let inFlight = 0;
  let drained: (() => void) | undefined;
  let failed: unknown;
  // Where a tail comes from: event-loop stalls and garbage-collection pauses during the measured part.
  const loop = monitorEventLoopDelay({ resolution: 1 });
  let gcMs = 0;
  let gcMaxMs = 0;
  let measuring = false;
  const gcObserver = new PerformanceObserver((list) => {
    if (!measuring) return;
    for (const e of list.getEntries()) {
      gcMs += e.duration;
      if (e.duration > gcMaxMs) gcMaxMs = e.duration;
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const start = performance.now();
  const measuredFrom = start + warmupMs;
  const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
  let i = 0;
  for (;;) {
    const due = start + (i * 1000) / perSecond;
    if (due - start >= warmupMs + ms) break;
    if (!measuring && due >= measuredFrom) {
      measuring = true;
      loop.enable();
    }
    const now = performance.now();
    if (due > now + 2) await sleep(due - now - 2);
    while (performance.now() < due) await turn();
    // Yield now and then even when behind, so completions are handled while checks are issued.
    if (i % 8 === 0) await turn();
    const c = checks[i % checks.length] as GoogleDocsCheck;
    const counted = measuring;
    if (counted) late.push(performance.now() - due);
    i += 1;
    inFlight += 1;
    void engine
      .check({
        tenantId: TENANT,
        metadata: { depth: 50 },
        entity: c.entity,
        permission: c.permission,
        subject: c.subject,
      })
      .then(
        () => {
          if (counted) latencies.push(performance.now() - due);
        },
        (e: unknown) => (failed ??= e),
      )
      .finally(() => {
        inFlight -= 1;
        if (inFlight === 0) drained?.();
      });
  }
  if (inFlight > 0) await new Promise<void>((r) => (drained = r));
  if (failed !== undefined) throw failed;
  loop.disable();
  gcObserver.disconnect();
  latencies.sort((a, b) => a - b);
  late.sort((a, b) => a - b);
  return {
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    count: latencies.length,
    lateP99: quantile(late, 0.99),
    loopP99: loop.percentile(99) / 1e6,
    loopMax: loop.max / 1e6,
    gcMs,
    gcMaxMs,
  };
}

async function runLookups(
  engine: PermissionEngine,
  users: readonly string[],
): Promise<{ perSecond: number; p99: number; answers: Map<string, string> }> {
  const answers = new Map<string, string>();
  const latencies: number[] = [];
  const start = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < users.length && performance.now() - start < budgetMs) {
      const user = users[next++] as string;
      const subject: Subject = { type: 'user', id: user, relation: '' };
      const t0 = performance.now();
      const r = await engine.lookupEntity({
        tenantId: TENANT,
        metadata: { depth: 50 },
        entityType: 'document',
        permission: 'view',
        subject,
        pageSize: 100,
      });
      latencies.push(performance.now() - t0);
      answers.set(user, r.entityIds.join(','));
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  latencies.sort((a, b) => a - b);
  return {
    perSecond: (latencies.length / (performance.now() - start)) * 1000,
    p99: quantile(latencies, 0.99),
    answers,
  };
}

function wrong<K>(oracle: Map<K, string>, got: Map<K, string>): number {
  let n = 0;
  for (const [k, v] of got) if (oracle.has(k) && oracle.get(k) !== v) n += 1;
  return n;
}

/** Counts statements sent through a pool's clients (pool.query checks one out too). */
function countStatements(pool: PostgresStore['database']['reader']): { count: number } {
  const counter = { count: 0 };
  const seen = new WeakSet<object>();
  pool.on('acquire', (client) => {
    if (seen.has(client)) return;
    seen.add(client);
    const q = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      counter.count += 1;
      return q(...args);
    };
  });
  return counter;
}

async function loadInto(
  store: Store,
  dataset: ReturnType<typeof generateGoogleDocsDataset>,
  batch: number,
): Promise<void> {
  await store.schemas.writeSchema(TENANT, [{ name: 'schema', definition: dataset.schema }]);
  for (let i = 0; i < dataset.tuples.length; i += batch) {
    await store.writer.write(TENANT, [{ writeTuples: dataset.tuples.slice(i, i + batch) }]);
  }
  for (let i = 0; i < dataset.attributes.length; i += batch) {
    await store.writer.write(TENANT, [{ writeAttributes: dataset.attributes.slice(i, i + batch) }]);
  }
}

async function main(): Promise<void> {
  const serverUri =
    (typeof values.uri === 'string' ? values.uri : undefined) ??
    process.env.PERMIFY_BENCH_DATABASE_URI ??
    process.env.PERMIFY_TEST_DATABASE_URI;
  const db = await createTestDatabase(serverUri);
  const dataset = generateGoogleDocsDataset({ tuples: num('tuples'), seed: num('seed'), sampleChecks: num('checks') });
  const checks = dataset.sampleChecks;
  const step = Math.max(1, Math.floor(dataset.users.length / num('lookups')));
  /** The users of the lookups: every `step`-th, from offset `round` (round 0: the single runs). */
  const lookupUsers = (round: number): string[] =>
    dataset.users.filter((_, i) => i % step === round % step).slice(0, num('lookups'));
  const users = lookupUsers(0);
  console.log(
    `dataset: ${fmt(dataset.tuples.length)} tuples, ${fmt(dataset.attributes.length)} attributes; ${checks.length} distinct checks, ${users.length} lookups; ${concurrency} in flight; load average ${load()}`,
  );
  const stores: { close(): Promise<void> }[] = [];
  try {
    const pgOptions = { uri: db.uri, maxOpenConnections: 16, statementTimeoutMs: 600_000, readCacheEntries: 0 };
    const direct = await createPostgresStore(pgOptions);
    stores.push(direct);
    await direct.ready();
    const t0 = performance.now();
    await loadInto(direct, dataset, Math.max(1, num('batch')));
    console.log(`written to PostgreSQL through the contract: ${fmt(performance.now() - t0)} ms`);
    await direct.database.writer.query('ANALYZE relation_tuples; ANALYZE attributes; ANALYZE transactions');

    let memory: CheckRun | undefined;
    let memoryEngine: PermissionEngine | undefined;
    let memoryStore: Store | undefined;
    let memoryLookups: Awaited<ReturnType<typeof runLookups>> | undefined;
    if (!values['skip-memory'] && !values['skip-checks']) {
      const mem = createMemoryStore();
      await loadInto(mem, dataset, Math.max(1, num('batch')));
      const engine = createEngine({ reader: mem.reader, schemas: mem.schemas, checkCacheSize: 0 });
      await runChecks(engine, checks.slice(0, 200), concurrency);
      memory = await runChecks(engine, checks, concurrency);
      console.log(
        `memory store: ${fmt(memory.perSecond)} checks/s, p50 ${fmt(memory.p50, 2)} ms, p99 ${fmt(memory.p99, 2)} ms; Node CPU ${fmt(memory.cpuUs)} µs per check (load ${load()})`,
      );
      memoryLookups = await runLookups(engine, users);
      console.log(
        `memory store: lookupEntity ${fmt(memoryLookups.perSecond, 1)}/s, p99 ${fmt(memoryLookups.p99, 2)} ms`,
      );
      // Kept open: the model's checks are compared with it in alternating rounds below.
      memoryStore = mem;
      memoryEngine = engine;
    }

    let m: CheckRun | undefined;
    if (!values['skip-model']) {
      // The written rows are not needed any more: a server process would not hold them, and at 1M they would
      // inflate the heap that GC walks during the latency runs (and hide the model's RSS growth).
      dataset.tuples.length = 0;
      dataset.attributes.length = 0;
      // The model, as a server process builds it.
      global.gc?.();
      const rss0 = process.memoryUsage().rss;
      const inner = await createPostgresStore({ ...pgOptions, readCacheEntries: 10_000 });
      await inner.ready();
      // A long wait_timeout so that the apply-lag figure below measures the lag rather than the timeout.
      const model = createReadModelStore(inner, { logger: silentLogger, waitTimeoutMs: 5_000 });
      stores.push(model);
      const l0 = performance.now();
      if (!(await model.readModel.whenLoaded(TENANT))) throw new Error('model did not load');
      const loadMs = performance.now() - l0;
      global.gc?.();
      const rss1 = process.memoryUsage().rss;
      const st = model.readModel.state();
      const rows = st.rows;
      console.log(
        `model load: ${fmt(rows)} rows in ${fmt(loadMs)} ms = ${fmt((rows / loadMs) * 1000)} rows/s; model estimate ${fmt(st.bytes / Math.max(1, rows), 1)} bytes/row; RSS +${fmt((rss1 - rss0) / 1048576, 1)} MiB = ${fmt((rss1 - rss0) / Math.max(1, rows), 1)} bytes/row (load ${load()})`,
      );
      const modelEngine = createEngine({ reader: model.reader, schemas: model.schemas, checkCacheSize: 0 });
      if (!values['skip-checks']) {
        await runChecks(modelEngine, checks.slice(0, 200), concurrency);
        m = await runChecks(modelEngine, checks, concurrency);
        const wrongChecks = memory ? wrong(memory.answers, m.answers) : -1;
        console.log(
          `postgres + read model: ${fmt(m.perSecond)} checks/s, p50 ${fmt(m.p50, 2)} ms, p99 ${fmt(m.p99, 2)} ms; Node CPU ${fmt(m.cpuUs)} µs per check; PostgreSQL CPU ${fmt(m.pgCpuMs)} ms during the run; wrong answers ${wrongChecks}${memory ? `; ratio to memory ${fmt(m.perSecond / memory.perSecond, 2)}` : ''} (load ${load()})`,
        );
        if (memoryEngine !== undefined) {
          // The two runs above are minutes apart on a shared machine: alternate short rounds (same heap, same
          // load) and take the median of the per-round ratios.
          const ratios: number[] = [];
          const rounds: string[] = [];
          const per = Math.max(1_000, budgetMs / 4);
          for (let r = 0; r < 4; r += 1) {
            const a = await runChecks(memoryEngine, checks, concurrency, per);
            const b = await runChecks(modelEngine, checks, concurrency, per);
            ratios.push(b.perSecond / a.perSecond);
            rounds.push(
              `${fmt(a.perSecond)} (${fmt(a.cpuUs)} µs) / ${fmt(b.perSecond)} (${fmt(b.cpuUs)} µs, PG ${fmt(b.pgCpuMs)} ms)`,
            );
          }
          ratios.sort((x, y) => x - y);
          console.log(
            `alternating rounds, memory / model checks/s (Node CPU per check): ${rounds.join('; ')}; ratio model/memory median ${fmt(((ratios[1] as number) + (ratios[2] as number)) / 2, 2)}, range ${fmt(ratios[0] as number, 2)}-${fmt(ratios[3] as number, 2)} (load ${load()})`,
          );
          // LookupEntity the same way: three rounds, each with users of its own (a first page asked again
          // would come from the candidate cache), the two stores in turn, the first of a round alternating.
          const lookupRatios: number[] = [];
          const lookupRounds: string[] = [];
          for (let r = 1; r <= 3; r += 1) {
            const roundUsers = lookupUsers(r);
            const runMemory = (): ReturnType<typeof runLookups> =>
              runLookups(memoryEngine as PermissionEngine, roundUsers);
            const runModel = (): ReturnType<typeof runLookups> => runLookups(modelEngine, roundUsers);
            const a = r % 2 === 1 ? await runMemory() : undefined;
            const b = await runModel();
            const a2 = a ?? (await runMemory());
            lookupRatios.push(b.perSecond / a2.perSecond);
            lookupRounds.push(
              `${fmt(a2.perSecond, 1)} / ${fmt(b.perSecond, 1)} (wrong ${wrong(a2.answers, b.answers)})`,
            );
          }
          lookupRatios.sort((x, y) => x - y);
          console.log(
            `alternating rounds, memory / model lookupEntity/s: ${lookupRounds.join('; ')}; ratio model/memory median ${fmt(lookupRatios[1] as number, 2)}, range ${fmt(lookupRatios[0] as number, 2)}-${fmt(lookupRatios[2] as number, 2)} (load ${load()})`,
          );
        }
        // The memory store at the same rate, for reference (its heap holds the model as well).
        if (memoryEngine !== undefined) {
          global.gc?.();
          const ref = await runAtRate(memoryEngine, checks, m.perSecond / 2, Math.min(budgetMs, 5_000));
          console.log(
            `memory store at the same rate (${fmt(m.perSecond / 2)} checks/s), for reference: p50 ${fmt(ref.p50, 2)} ms, p99 ${fmt(ref.p99, 2)} ms (issued late by p99 ${fmt(ref.lateP99, 2)} ms); event-loop delay max ${fmt(ref.loopMax, 1)} ms; GC longest pause ${fmt(ref.gcMaxMs, 1)} ms (load ${load()})`,
          );
        }
        // A server does not hold a memory store beside its model: its heap would lengthen the GC pauses that
        // the latency run below measures.
        await memoryStore?.close();
        memoryStore = undefined;
        memoryEngine = undefined;
        // Start from a collected heap: the garbage of earlier phases (memory store, written rows) is the
        // benchmark's, not a server's.
        global.gc?.();
        // Three rounds: a 5 s run's p99 is decided by its slowest 50 ms, which on a shared machine can be one
        // spell of CPU taken by another process; every round is printed, and their median.
        const halfP99: number[] = [];
        for (let round = 1; round <= 3; round += 1) {
          if (round > 1) global.gc?.();
          // The first round starts right after the memory store was freed: it warms up longer.
          const warmupMs = round === 1 ? 3_000 : 1_000;
          const half = await runAtRate(modelEngine, checks, m.perSecond / 2, Math.min(budgetMs, 5_000), warmupMs);
          halfP99.push(half.p99);
          console.log(
            `[round ${round}] postgres + read model at half saturation (${fmt(m.perSecond / 2)} checks/s): p50 ${fmt(half.p50, 2)} ms, p99 ${fmt(half.p99, 2)} ms (${fmt(half.count)} checks after ${fmt(warmupMs / 1000)} s of warm-up at the rate; issued late by p99 ${fmt(half.lateP99, 2)} ms, included); event-loop delay p99 ${fmt(half.loopP99, 1)} ms, max ${fmt(half.loopMax, 1)} ms; GC ${fmt(half.gcMs)} ms in all, longest pause ${fmt(half.gcMaxMs, 1)} ms (load ${load()})`,
          );
        }
        halfP99.sort((x, y) => x - y);
        console.log(
          `postgres + read model at half saturation: p99 median of 3 rounds ${fmt(halfP99[1] as number, 2)} ms`,
        );
        const ml = await runLookups(modelEngine, users);
        console.log(
          `postgres + read model: lookupEntity ${fmt(ml.perSecond, 1)}/s, p99 ${fmt(ml.p99, 2)} ms; wrong answers ${memoryLookups ? wrong(memoryLookups.answers, ml.answers) : -1}${memoryLookups ? `; ratio to memory ${fmt(ml.perSecond / memoryLookups.perSecond, 2)}` : ''}`,
        );
        const fb = model.readModel.state();
        console.log(`model reads ${fmt(fb.modelReads)}, fallbacks to PostgreSQL ${fmt(fb.fallbacks)}`);
      }
      if (num('processes') > 1) await extraProcesses(db.uri, num('processes'));

      if (!values['skip-lag']) {
        // Apply lag: another instance writes; this instance's model must cover each returned token. The other
        // instance is a child process, as another server would be: its writes' client work and its own model's
        // tailing do not run on this process's event loop (in one process they lengthened every cycle here).
        const rate = num('write-rate');
        const seconds = num('write-seconds');
        // First nobody reads at the written tokens (cycles run on NOTIFY and the poll timer only): the lag is
        // when the model's position covered each token. Then a reader here reads at each token as it arrives.
        const cpuText = (x: LagRun): string =>
          `CPU during the writes: this process ${fmt(x.cpu.here)} %, the writing process ${fmt(x.cpu.writer)} %, PostgreSQL ${fmt(x.cpu.postgres)} % of a core; GC pauses here ${fmt(x.gcMs)} ms in all, longest ${fmt(x.gcMaxMs, 1)} ms`;
        for (let round = 1; round <= Math.max(1, num('lag-rounds')); round += 1) {
          const tag = num('lag-rounds') > 1 ? `[round ${round}] ` : '';
          const p = await measureApplyLag(db.uri, model.readModel, rate, seconds, false, true);
          console.log(
            `${tag}apply lag at ${fmt(p.writesPerSecond)} writes/s achieved (${fmt(rate)} asked) from another instance (a child process), nobody reading at the tokens: the model covered each write's token p50 ${fmt(p.appliedP50, 2)} ms, p99 ${fmt(p.appliedP99, 2)} ms after the write returned; its writes took p50 ${fmt(p.writeP50, 1)} ms, p99 ${fmt(p.writeP99, 1)} ms; ${cpuText(p)} (load ${load()})`,
          );
          const s0 = { ...model.readModel.stats };
          const loop = monitorEventLoopDelay({ resolution: 1 });
          loop.enable();
          const r = await measureApplyLag(db.uri, model.readModel, rate, seconds, false);
          loop.disable();
          const s1 = model.readModel.stats;
          const cycles = s1.cycles - s0.cycles;
          console.log(
            `${tag}apply lag at ${fmt(r.writesPerSecond)} writes/s achieved (${fmt(rate)} asked) from another instance (a child process), a reader here reading at each token: p50 ${fmt(r.p50, 2)} ms, p99 ${fmt(r.p99, 2)} ms until its read was answered by the model (misses after ${model.readModel.options.waitTimeoutMs} ms count as infinite), of which token delivery to this process p50 ${fmt(r.ipcP50, 2)} ms, p99 ${fmt(r.ipcP99, 2)} ms; the model covered the tokens p50 ${fmt(r.appliedP50, 2)} ms, p99 ${fmt(r.appliedP99, 2)} ms after the writes returned; its writes took p50 ${fmt(r.writeP50, 1)} ms, p99 ${fmt(r.writeP99, 1)} ms; tailing cycles here ${fmt(cycles)}, avg ${fmt((s1.cycleMsTotal - s0.cycleMsTotal) / Math.max(1, cycles), 2)} ms, max ${fmt(s1.cycleMsMax, 1)} ms (whole run); event-loop delay p99 ${fmt(loop.percentile(99) / 1e6, 1)} ms, max ${fmt(loop.max / 1e6, 1)} ms; ${cpuText(r)} (load ${load()})`,
          );
        }
        if (values['lag-in-process']) {
          // The same with the writing instance in this process (how this figure was first measured).
          const q = await measureApplyLag(db.uri, model.readModel, rate, seconds, true);
          console.log(
            `apply lag, writing instance in this process, reading at each token: at ${fmt(q.writesPerSecond)} writes/s p50 ${fmt(q.p50, 2)} ms, p99 ${fmt(q.p99, 2)} ms (covered p50 ${fmt(q.appliedP50, 2)} ms, p99 ${fmt(q.appliedP99, 2)} ms); its writes took p50 ${fmt(q.writeP50, 1)} ms, p99 ${fmt(q.writeP99, 1)} ms (load ${load()})`,
          );
        }
      }
    }

    await memoryStore?.close();

    if (!values['skip-direct']) {
      // Direct reads as before batching (one statement per read, head token and schema head per request), then
      // batched (batch-reader.ts, head-cache.ts): both with the snapshot read cache off.
      const unbatched = await createPostgresStore({ ...pgOptions, batchReads: false, headCacheMaxAgeMs: 0 });
      stores.push(unbatched);
      await unbatched.ready();
      const runDirect = async (store: PostgresStore, label: string): Promise<CheckRun> => {
        const counter = countStatements(store.database.reader);
        const engine = createEngine({ reader: store.reader, schemas: store.schemas, checkCacheSize: 0 });
        await runChecks(engine, checks.slice(0, 100), concurrency);
        counter.count = 0;
        const cpu0 = process.cpuUsage();
        const d = await runChecks(engine, checks, concurrency);
        const cpu = process.cpuUsage(cpu0);
        console.log(
          `postgres direct, ${label} (model off, reader cache off): ${fmt(d.perSecond)} checks/s, p50 ${fmt(d.p50, 2)} ms, p99 ${fmt(d.p99, 2)} ms; ${fmt(counter.count / d.count, 1)} SQL statements per check; Node CPU ${fmt((cpu.user + cpu.system) / d.count, 0)} µs per check; wrong answers ${memory ? wrong(memory.answers, d.answers) : -1} (load ${load()})`,
        );
        return d;
      };
      // One check at a time: statements per check without coalescing across concurrent requests.
      for (const [store, label] of [
        [unbatched, 'unbatched'],
        [direct, 'batched'],
      ] as const) {
        const counter = countStatements(store.database.reader);
        const engine = createEngine({ reader: store.reader, schemas: store.schemas, checkCacheSize: 0 });
        counter.count = 0;
        const one = await runChecks(engine, checks.slice(0, 300), 1, Math.min(budgetMs, 3_000));
        console.log(
          `postgres direct, ${label}, one in flight: ${fmt(one.perSecond)} checks/s, p50 ${fmt(one.p50, 2)} ms; ${fmt(counter.count / one.count, 1)} SQL statements per check`,
        );
      }
      const old = await runDirect(unbatched, 'unbatched');
      const d = await runDirect(direct, 'batched');
      console.log(`ratio: batched/unbatched direct ${fmt(d.perSecond / old.perSecond, 2)}`);
      if (memory && m)
        console.log(
          `ratios: model/memory ${fmt(m.perSecond / memory.perSecond, 2)}, model/direct ${fmt(m.perSecond / d.perSecond, 1)}`,
        );
    }
  } finally {
    for (const s of stores.reverse()) await s.close();
    await db.drop();
    await stopSharedServer();
  }
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across the processes of one machine. */
const clockMs = (): number => performance.timeOrigin + performance.now();

interface LagRun {
  writesPerSecond: number;
  p50: number;
  p99: number;
  /** From a write's return until the model's position covered its token (see measureApplyLag). */
  appliedP50: number;
  appliedP99: number;
  /** From a write's return to its token's arrival here (zero when the writer is in this process). */
  ipcP50: number;
  ipcP99: number;
  writeP50: number;
  writeP99: number;
  /** CPU (% of one core) during the writes: this process, the writing process, the PostgreSQL server. */
  cpu: { here: number; writer: number; postgres: number };
  /** Garbage-collection pauses in this process during the writes: longest, and all together (ms). */
  gcMaxMs: number;
  gcMs: number;
}

/** One tuple written through `store` at `rate` writes/s for `seconds`; `onToken` gets each token and return time. */
async function writeAtRate(
  store: Store,
  rate: number,
  seconds: number,
  prefix: string,
  onToken: (token: string, returnedAtMs: number) => void,
): Promise<{ writes: number; seconds: number; latencies: number[] }> {
  const pending: Promise<void>[] = [];
  const latencies: number[] = [];
  const start = performance.now();
  let w = 0;
  while (performance.now() - start < seconds * 1000) {
    const due = start + (w * 1000) / rate;
    const now = performance.now();
    if (due > now + 1) await sleep(due - now);
    else if (w % 8 === 0) await new Promise((r) => setImmediate(r));
    const id = `${prefix}${w++}`;
    const t0 = performance.now();
    pending.push(
      store.writer
        .write(TENANT, [
          {
            writeTuples: [
              {
                entity: { type: 'document', id },
                relation: 'viewer',
                subject: { type: 'user', id: 'lagger', relation: '' },
              },
            ],
          },
        ])
        .then((token) => {
          latencies.push(performance.now() - t0);
          onToken(token, clockMs());
        }),
    );
    if (pending.length > 256) await Promise.all(pending.splice(0, 128));
  }
  await Promise.all(pending);
  return { writes: w, seconds: (performance.now() - start) / 1000, latencies };
}

/**
 * Apply lag of `model`: another instance (a child process running `--writer`, or a store in this process)
 * writes at `rate`; for each write, the time from its return until `model` covers its token, measured two ways:
 * - `reader` (p50/p99): a reader here gets the token (from the other process: over IPC, so its delivery is
 *   included) and reads at it; the read waits for the model (and asks for a cycle, as any read does).
 * - `applied` (appliedP50/P99): when the model's position first covered the token (timed by the model's
 *   advance listener as the cycle applies it), whenever the token reached this process. With `passive`, no
 *   read is made at all: cycles run only on NOTIFY and the poll timer, as when nobody reads at the token.
 */
async function measureApplyLag(
  uri: string,
  model: ReadModelStore['readModel'],
  rate: number,
  seconds: number,
  inProcess: boolean,
  passive = false,
): Promise<LagRun> {
  const lags: number[] = [];
  const applied: number[] = [];
  const ipc: number[] = [];
  const views: Promise<void>[] = [];
  /** Positions the model reached, in order, with the time each was applied. */
  const history: { at: number; pos: PgSnapshot }[] = [];
  /** Tokens not covered yet (passive mode). */
  let waiting: { decoded: DecodedToken; returnedAtMs: number }[] = [];
  /** The time the model first covered `decoded`, if it has. Positions only grow: scan back from the newest. */
  const coveredAt = (decoded: DecodedToken): number | undefined => {
    let at: number | undefined;
    for (let i = history.length - 1; i >= 0 && tokenWithin(decoded, (history[i] as { pos: PgSnapshot }).pos); i -= 1) {
      at = (history[i] as { at: number }).at;
    }
    return at;
  };
  const onAdvance = (tenantId: string, t: { pos: PgSnapshot }): void => {
    if (tenantId !== TENANT) return;
    const at = clockMs();
    history.push({ at, pos: t.pos });
    if (waiting.length === 0) return;
    waiting = waiting.filter((w) => {
      if (!tokenWithin(w.decoded, t.pos)) return true;
      applied.push(Math.max(0, at - w.returnedAtMs));
      return false;
    });
  };
  model.advanceListeners.add(onAdvance);
  const cover = (token: string, returnedAtMs: number): void => {
    ipc.push(clockMs() - returnedAtMs);
    const decoded = decodeToken(token);
    if (passive) {
      const at = coveredAt(decoded);
      if (at !== undefined) applied.push(Math.max(0, at - returnedAtMs));
      else waiting.push({ decoded, returnedAtMs });
      return;
    }
    views.push(
      model.view(TENANT, token).then((v) => {
        lags.push(v === undefined ? Number.POSITIVE_INFINITY : clockMs() - returnedAtMs);
        const at = v === undefined ? undefined : coveredAt(decoded);
        applied.push(at === undefined ? Number.POSITIVE_INFINITY : Math.max(0, at - returnedAtMs));
      }),
    );
  };
  let done: { writes: number; seconds: number; latencies: number[] };
  // CPU is counted over the measured writes only (not the writer's start and warm-up).
  let cpu0 = { here: process.cpuUsage(), postgres: postgresCpuMs(), at: performance.now() };
  let gcMaxMs = 0;
  let gcMs = 0;
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMs += e.duration;
      if (e.duration > gcMaxMs) gcMaxMs = e.duration;
    }
  });
  const mark = (): void => {
    cpu0 = { here: process.cpuUsage(), postgres: postgresCpuMs(), at: performance.now() };
    gcObserver.observe({ entryTypes: ['gc'] });
  };
  let writerCpuMs = Number.NaN;
  if (inProcess) {
    const inner = await createPostgresStore({ uri, maxOpenConnections: 16, statementTimeoutMs: 600_000 });
    await inner.ready();
    const other = createReadModelStore(inner, { logger: silentLogger });
    try {
      await writeAtRate(other, rate, Math.min(1, seconds), 'laginwarm', () => undefined);
      mark();
      done = await writeAtRate(other, rate, seconds, 'lagin', cover);
    } finally {
      await other.close();
    }
  } else {
    const { spawn } = await import('node:child_process');
    const c = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/read-model.ts',
        '--writer',
        uri,
        '--write-rate',
        String(rate),
        '--write-seconds',
        String(seconds),
      ],
      { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    );
    done = await new Promise((resolve, reject) => {
      let result: typeof done | undefined;
      c.on('message', (m: { token?: string; at?: number; done?: typeof done; started?: true; cpuMs?: number }) => {
        if (m.token !== undefined && m.at !== undefined) cover(m.token, m.at);
        else if (m.started === true) mark();
        else if (m.done !== undefined) {
          result = m.done;
          writerCpuMs = m.cpuMs ?? Number.NaN;
        }
      });
      c.on('error', reject);
      c.on('exit', (code) =>
        code === 0 && result !== undefined ? resolve(result) : reject(new Error(`writer exited with ${code}`)),
      );
    });
  }
  const wallMs = performance.now() - cpu0.at;
  gcObserver.disconnect();
  if (inProcess) writerCpuMs = 0; // counted in this process's
  const hereCpu = process.cpuUsage(cpu0.here);
  const cpu = {
    here: ((hereCpu.user + hereCpu.system) / 1000 / wallMs) * 100,
    writer: (writerCpuMs / wallMs) * 100,
    postgres: ((postgresCpuMs() - cpu0.postgres) / wallMs) * 100,
  };
  await Promise.all(views);
  // Passive: tokens not covered yet get the model's wait timeout to be, as a read would; then they count as misses.
  const deadline = performance.now() + model.options.waitTimeoutMs;
  while (waiting.length > 0 && performance.now() < deadline) await sleep(5);
  model.advanceListeners.delete(onAdvance);
  for (const _ of waiting) applied.push(Number.POSITIVE_INFINITY);
  for (const a of [lags, applied, ipc, done.latencies]) a.sort((x, y) => x - y);
  return {
    writesPerSecond: done.writes / done.seconds,
    p50: passive ? Number.NaN : quantile(lags, 0.5),
    p99: passive ? Number.NaN : quantile(lags, 0.99),
    appliedP50: quantile(applied, 0.5),
    appliedP99: quantile(applied, 0.99),
    ipcP50: inProcess ? 0 : quantile(ipc, 0.5),
    ipcP99: inProcess ? 0 : quantile(ipc, 0.99),
    writeP50: quantile(done.latencies, 0.5),
    writeP99: quantile(done.latencies, 0.99),
    cpu,
    gcMaxMs,
    gcMs,
  };
}

/** A child process: another server instance (PostgreSQL store with its own read model) that writes at a rate. */
async function writer(uri: string): Promise<void> {
  const inner = await createPostgresStore({ uri, maxOpenConnections: 16, statementTimeoutMs: 600_000 });
  await inner.ready();
  const other = createReadModelStore(inner, { logger: silentLogger });
  const send = (m: unknown): Promise<void> =>
    new Promise((resolve, reject) => process.send?.(m, undefined, undefined, (e) => (e ? reject(e) : resolve())));
  // Warm-up (not measured): this process's code is cold, and its pool opens its connections.
  await writeAtRate(other, num('write-rate'), Math.min(1, num('write-seconds')), 'lagwarm', () => undefined);
  const sent: Promise<void>[] = [];
  await send({ started: true });
  const cpu0 = process.cpuUsage();
  const done = await writeAtRate(other, num('write-rate'), num('write-seconds'), 'lag', (token, at) => {
    sent.push(send({ token, at }));
  });
  await Promise.all(sent);
  const cpu = process.cpuUsage(cpu0);
  await send({ done, cpuMs: (cpu.user + cpu.system) / 1000 });
  await other.close();
  process.disconnect();
}

/** A child process: load the tenant into a read model, report RSS before and after as one JSON line. */
async function child(uri: string): Promise<void> {
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const inner = await createPostgresStore({ uri, maxOpenConnections: 4 });
  await inner.ready();
  const model = createReadModelStore(inner, { logger: silentLogger });
  const t0 = performance.now();
  if (!(await model.readModel.whenLoaded(TENANT))) throw new Error('model did not load');
  const loadMs = performance.now() - t0;
  global.gc?.();
  const rss1 = process.memoryUsage().rss;
  console.log(JSON.stringify({ rss0, rss1, rows: model.readModel.state().rows, loadMs }));
  await model.close();
}

async function extraProcesses(uri: string, n: number): Promise<void> {
  const { spawn } = await import('node:child_process');
  for (let i = 2; i <= n; i += 1) {
    const out = await new Promise<string>((resolve, reject) => {
      const c = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/read-model.ts', '--child', uri], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let text = '';
      c.stdout.on('data', (b: Buffer) => (text += b.toString()));
      c.on('error', reject);
      c.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`child exited with ${code}`))));
    });
    const r = JSON.parse(out.trim().split('\n').pop() as string) as {
      rss0: number;
      rss1: number;
      rows: number;
      loadMs: number;
    };
    console.log(
      `process ${i}: RSS ${fmt(r.rss1 / 1048576, 1)} MiB in all (${fmt(r.rss0 / 1048576, 1)} MiB before its model); model +${fmt((r.rss1 - r.rss0) / 1048576, 1)} MiB = ${fmt((r.rss1 - r.rss0) / Math.max(1, r.rows), 1)} bytes/row; load ${fmt(r.rows)} rows in ${fmt(r.loadMs)} ms = ${fmt((r.rows / r.loadMs) * 1000)} rows/s (load ${load()})`,
    );
  }
}

if (typeof values.child === 'string') await child(values.child);
else if (typeof values.writer === 'string') await writer(values.writer);
else await main();
