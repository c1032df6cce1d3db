/**
 * API benchmark: Check over gRPC (grpc-js client) and REST (node:http keep-alive agent) against permify-ts
 * with the memory store, and, in the same run and with the same single load generator, against trivial
 * servers answering a fixed Check: a bare grpc-js server, a bare @connectrpc/connect-node server (gRPC over
 * h2c, the candidate transport library) and a bare node:http JSON server. Every server runs in its own child
 * process so its CPU per check is measured with process.cpuUsage() there.
 *
 * Checks are reported twice: `ours gRPC` cycles through the same 1000 checks, so once warm every answer comes
 * from the check cache; `ours uncached` is a second server with the check cache off. Before the first slice
 * every target is warmed up until its CPU per call is stable (three successive 1000-call batches within 10%),
 * so JIT compilation and the first, uncached pass never land in a measured slice.
 *
 * Prints, per target and concurrency (1, 16, 64): checks/s, server CPU µs per check, p50/p99 latency; then
 * our throughput and CPU per check as ratios to the bare servers of the same run; then p50/p99 at half of
 * our saturation rate (paced load). On a loaded machine read the ratios and the CPU per check: throughput
 * at 64 in flight is bounded by the single load generator.
 *
 * Method: one load generator (this process) drives every target through the same client code. Throughput
 * comes from a closed loop split into `--rounds` slices in which the targets take turns (outside load on a
 * shared machine is spread over all of them). Saturation is the best closed-loop rate of ours; the latency
 * target is measured with an open-loop, paced generator at half of that rate, because closed-loop p99 at
 * high concurrency measures queueing in front of the server rather than the server's latency.
 *
 *   node --import tsx bench/api.ts [--tuples 100000] [--seconds 3] [--seed 42] [--rounds 3]
 *        [--only <target substrings, comma-separated>] [--conc 1,16,64] [--suite check|ops|check,ops]
 *        [--ops-conc 16] [--baseline <checkout of another commit>] [--compiled [--reuse-build]]
 *        [--cpu-prof <dir>]
 *
 * `--suite ops` measures the other operations (LookupEntity, LookupSubject, Expand, SubjectPermission,
 * Data/Write) over gRPC, REST and Connect. `--baseline DIR` starts a second server from another checkout
 * (`git worktree add /tmp/base <commit>`, with a node_modules symlink) and measures it in the same slices as
 * ours, cached and uncached (`base ...` targets, `vs base` ratios), so a regression shows as a ratio of one run. `--compiled`
 * runs the servers from tsc output, as `permify serve` does: under tsx every function created at run time
 * also pays for tsx's name-keeping helper. `--cpu-prof DIR` writes DIR/ours.cpuprofile (and DIR/ours-uncached.cpuprofile)
 * covering only the measured slices (started and stopped through the inspector, so start-up, loading and warm-up are not in it).
 *
 * The dataset is bench/datasets/google-docs.ts (the engine benchmark's generator). The rate limiter is
 * disabled (server.rate_limit 0) so that the figures measure the request path, not the bucket.
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { create, fromJson, toBinary, toJsonString, type DescMessage, type JsonValue } from '@bufbuild/protobuf';
import { Session } from 'node:inspector/promises';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { generateGoogleDocsDataset, type GoogleDocsCheck } from './datasets/google-docs.js';
import { CheckResult } from '../src/api/gen/base/v1/base_pb.js';
import {
  DataWriteRequestSchema,
  PermissionCheckRequestSchema,
  PermissionCheckResponseSchema,
  PermissionExpandRequestSchema,
  PermissionLookupEntityRequestSchema,
  PermissionLookupSubjectRequestSchema,
  PermissionSubjectPermissionRequestSchema,
} from '../src/api/gen/base/v1/service_pb.js';
import type { Attribute } from '../src/data/types.js';

type Kind = 'ours' | 'ours-uncached' | 'bare-grpc' | 'bare-connect' | 'bare-http';
interface Ports {
  grpc?: number;
  http?: number;
}
type ChildMessage =
  | { type: 'ready'; ports: Ports }
  | { type: 'prof-written' }
  | { type: 'cpu'; micros: number }
  | { type: 'loop-delay'; p99Ms: number; maxMs: number };

// ---------------------------------------------------------------- child side: the servers under test
async function runChild(kind: Kind, root: string, compiled: string | undefined): Promise<void> {
  const fixed = Buffer.from(
    toBinary(PermissionCheckResponseSchema, create(PermissionCheckResponseSchema, { can: CheckResult.ALLOWED, metadata: { checkCount: 1 } })),
  );
  const fixedJson = toJsonString(PermissionCheckResponseSchema, create(PermissionCheckResponseSchema, { can: CheckResult.ALLOWED, metadata: { checkCount: 1 } }), { useProtoFieldName: true });
  let ports: Ports;
  if (kind === 'ours' || kind === 'ours-uncached') {
    // `root`: this checkout, or another commit's (a git worktree, --baseline) measured in the same run.
    type LoadModule = typeof import('../src/config/load.js');
    type ServerModule = typeof import('../src/server.js');
    type LoggerModule = typeof import('../src/observability/logger.js');
    // `compiled`: the tsc output of that checkout (see --compiled), else its sources through tsx.
    const src = compiled ?? path.join(root, 'src');
    const ext = compiled === undefined ? 'ts' : 'js';
    const { loadConfig } = (await import(path.join(src, `config/load.${ext}`))) as LoadModule;
    const { startServer } = (await import(path.join(src, `server.${ext}`))) as ServerModule;
    const { createLogger } = (await import(path.join(src, `observability/logger.${ext}`))) as LoggerModule;
    const { config } = loadConfig({
      env: {},
      cwd: '/nonexistent',
      flags: {
        'server.grpc.port': 0,
        'server.http.port': 0,
        'server.rate_limit': 0,
        // 0 turns the check cache off: every Check walks the graph (sub-problem memo per request only).
        ...(kind === 'ours-uncached' ? { 'service.permission.cache.number_of_counters': 0 } : {}),
      },
    });
    const s = await startServer(config, { logger: createLogger({ level: 'warn', output: 'json', destination: process.stderr }) });
    ports = { grpc: s.ports.grpc, http: s.ports.http };
  } else if (kind === 'bare-grpc') {
    const server = new grpc.Server();
    const id = (b: Buffer): Buffer => b;
    server.addService(
      { Check: { path: '/base.v1.Permission/Check', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
      { Check: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, fixed) },
    );
    const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
    ports = { grpc: port };
  } else if (kind === 'bare-connect') {
    // The same fixed answer through @connectrpc/connect-node on node:http2 (h2c): the ceiling of that library.
    const { connectNodeAdapter } = await import('@connectrpc/connect-node');
    const { Permission } = await import('../src/api/gen/base/v1/service_pb.js');
    const answer = create(PermissionCheckResponseSchema, { can: CheckResult.ALLOWED, metadata: { checkCount: 1 } });
    const server = http2.createServer(connectNodeAdapter({ routes: (router) => router.service(Permission, { check: () => answer }) }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    ports = { grpc: (server.address() as { port: number }).port };
  } else {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        JSON.parse(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(fixedJson) });
        res.end(fixedJson);
      });
    });
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    ports = { http: (server.address() as { port: number }).port };
  }
  // Event-loop delay of the server process, reset on request: separates stalls of the server under test from
  // those of the load generator.
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  // CPU profile of the measured slices only (no start-up, data load or warm-up): started and stopped by the
  // parent, written as <dir>/<kind>.cpuprofile.
  let profiler: Session | undefined;
  process.on('message', (m: { type: string; dir?: string }) => {
    if (m.type === 'prof-start') {
      profiler = new Session();
      profiler.connect();
      void profiler.post('Profiler.enable').then(() => profiler?.post('Profiler.start'));
    } else if (m.type === 'prof-stop' && profiler !== undefined) {
      const session = profiler;
      void session.post('Profiler.stop').then(({ profile }) => {
        writeFileSync(path.join(m.dir ?? '.', `${kind}.cpuprofile`), JSON.stringify(profile));
        session.disconnect();
        process.send?.({ type: 'prof-written' });
      });
    } else if (m.type === 'loop-delay-reset') loopDelay.reset();
    else if (m.type === 'loop-delay') {
      process.send?.({
        type: 'loop-delay',
        p99Ms: loopDelay.percentile(99) / 1e6,
        maxMs: loopDelay.max / 1e6,
      } satisfies ChildMessage);
    } else if (m.type === 'cpu') {
      const u = process.cpuUsage();
      process.send?.({ type: 'cpu', micros: u.user + u.system } satisfies ChildMessage);
    } else if (m.type === 'exit') process.exit(0);
  });
  process.send?.({ type: 'ready', ports } satisfies ChildMessage);
}

// ---------------------------------------------------------------- parent side: one load generator
interface Child {
  child: ChildProcess;
  ports: Ports;
  cpu: () => Promise<number>;
  resetLoopDelay: () => void;
  loopDelay: () => Promise<{ p99Ms: number; maxMs: number }>;
  profileStart: () => void;
  profileStop: (dir: string) => Promise<void>;
}

const thisRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function startChild(kind: Kind, root = thisRoot, compiled?: string): Promise<Child> {
  const args = ['--child', kind, '--root', root, ...(compiled === undefined ? [] : ['--compiled-dir', compiled])];
  const child = fork(fileURLToPath(import.meta.url), args, {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiters: ((n: number) => void)[] = [];
  const profWaiters: (() => void)[] = [];
  const delayWaiters: ((d: { p99Ms: number; maxMs: number }) => void)[] = [];
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'ready') {
        resolve({
          child,
          ports: m.ports,
          cpu: () =>
            new Promise<number>((r) => {
              waiters.push(r);
              child.send({ type: 'cpu' });
            }),
          resetLoopDelay: () => child.send({ type: 'loop-delay-reset' }),
          loopDelay: () =>
            new Promise((r) => {
              delayWaiters.push(r);
              child.send({ type: 'loop-delay' });
            }),
          profileStart: () => child.send({ type: 'prof-start' }),
          profileStop: (dir) =>
            new Promise<void>((r) => {
              profWaiters.push(r);
              child.send({ type: 'prof-stop', dir });
            }),
        });
      } else if (m.type === 'cpu') waiters.shift()?.(m.micros);
      else if (m.type === 'loop-delay') delayWaiters.shift()?.({ p99Ms: m.p99Ms, maxMs: m.maxMs });
      else if (m.type === 'prof-written') profWaiters.shift()?.();
    });
  });
}

type Caller = (i: number) => Promise<void>;

function grpcCaller(port: number, requests: Buffer[], method = '/base.v1.Permission/Check'): { call: Caller; close: () => void } {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  return {
    call: (i) =>
      new Promise((resolve, reject) => {
        client.makeUnaryRequest(method, (b: Buffer) => b, (b: Buffer) => b, requests[i % requests.length] as Buffer, md, (err) =>
          err ? reject(err) : resolve(),
        );
      }),
    close: () => client.close(),
  };
}

function restCaller(port: number, bodies: string[], urlPath = '/v1/tenants/t1/permissions/check'): { call: Caller; close: () => void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
  return {
    call: (i) =>
      new Promise((resolve, reject) => {
        const body = bodies[i % bodies.length] as string;
        const req = http.request(
          { host: '127.0.0.1', port, method: 'POST', path: urlPath, agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
          (res) => {
            res.resume();
            res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
          },
        );
        req.on('error', reject);
        req.end(body);
      }),
    close: () => agent.destroy(),
  };
}

interface Series {
  checksPerSec: number;
  p50: number;
  p99: number;
  cpuMicrosPerCheck: number;
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;

interface Sample {
  lat: number[];
  elapsedMs: number;
  cpuMicros: number;
}

/** Closed loop: `concurrency` workers issue calls back to back for `ms`; raw sample for aggregation. */
async function closedLoop(call: Caller, concurrency: number, ms: number, cpu: () => Promise<number>): Promise<Sample> {
  // A short re-warm after the other targets' turns (the full warm-up ran before the first slice).
  for (let i = 0; i < 200; i++) await call(i);
  const lat: number[] = [];
  let n = 0;
  const cpu0 = await cpu();
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const s = performance.now();
        await call(n++);
        lat.push(performance.now() - s);
      }
    }),
  );
  const elapsedMs = performance.now() - t0;
  const cpu1 = await cpu();
  return { lat, elapsedMs, cpuMicros: cpu1 - cpu0 };
}

function summarise(samples: Sample[]): Series {
  const lat = samples.flatMap((s) => s.lat).sort((a, b) => a - b);
  const elapsed = samples.reduce((a, s) => a + s.elapsedMs, 0);
  const cpuMicros = samples.reduce((a, s) => a + s.cpuMicros, 0);
  return { checksPerSec: (lat.length / elapsed) * 1000, p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), cpuMicrosPerCheck: cpuMicros / lat.length };
}

/**
 * Open loop at a fixed rate (calls/s) for `ms`: calls are started on a schedule whatever the responses do,
 * so a slow answer cannot hold back later calls (no coordinated omission) and, unlike a closed loop at high
 * concurrency, queueing inside the load generator does not inflate the figures. The schedule is driven by a
 * 1 ms timer that starts every call that has fallen due: the generator sleeps between ticks instead of
 * spinning on setImmediate, which on a 2-core machine took a whole core away from the server under test.
 * Latency counts from the moment a call is started; how late the generator started calls against the
 * schedule is reported separately (`lag`), so the generator's own timer jitter is visible, not blamed on the
 * server.
 */
async function paced(call: Caller, rate: number, ms: number): Promise<{ p50: number; p99: number; achieved: number; lagP99: number }> {
  const lags: number[] = [];
  const lat: number[] = [];
  const pending: Promise<void>[] = [];
  const t0 = performance.now();
  const total = Math.floor((rate * ms) / 1000);
  let issued = 0;
  await new Promise<void>((done) => {
    const tick = (): void => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - t0) * rate) / 1000));
      while (issued < due) {
        const started = performance.now();
        lags.push(started - (t0 + (issued * 1000) / rate));
        pending.push(call(issued++).then(() => void lat.push(performance.now() - started)));
      }
      if (issued >= total) done();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(pending);
  lat.sort((a, b) => a - b);
  lags.sort((a, b) => a - b);
  return { p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), achieved: (lat.length / (performance.now() - t0)) * 1000, lagP99: percentile(lags, 0.99) };
}

function attributeJson(a: Attribute): unknown {
  const wrap: Record<string, string> = {
    boolean: 'BooleanValue',
    'boolean[]': 'BooleanArrayValue',
    string: 'StringValue',
    'string[]': 'StringArrayValue',
    integer: 'IntegerValue',
    'integer[]': 'IntegerArrayValue',
    double: 'DoubleValue',
    'double[]': 'DoubleArrayValue',
  };
  return {
    entity: a.entity,
    attribute: a.attribute,
    value: { '@type': `type.googleapis.com/base.v1.${wrap[a.value.type]}`, data: a.value.value },
  };
}

async function post(port: number, path: string, body: unknown): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
}

async function load(httpPort: number, dataset: ReturnType<typeof generateGoogleDocsDataset>): Promise<void> {
  await post(httpPort, '/v1/tenants/t1/schemas/write', { schema: dataset.schema });
  for (let i = 0; i < dataset.tuples.length; i += 1000) {
    await post(httpPort, '/v1/tenants/t1/data/write', { metadata: { schema_version: '' }, tuples: dataset.tuples.slice(i, i + 1000), attributes: [] });
  }
  for (let i = 0; i < dataset.attributes.length; i += 1000) {
    await post(httpPort, '/v1/tenants/t1/data/write', { metadata: { schema_version: '' }, tuples: [], attributes: dataset.attributes.slice(i, i + 1000).map(attributeJson) });
  }
}

/**
 * Warms a target up until its server CPU per call is stable: batches of `batch` calls at concurrency 16 until
 * the last three batches are within 10% of their mean (at least 4 batches, at most `maxBatches`). JIT compilation, the
 * first pass through the check cache and lazily built state all land here instead of in the first slice.
 * Returns the CPU µs per call of the batches, for the report.
 */
async function warmUp(call: Caller, cpu: () => Promise<number>, batch = 1000, maxBatches = 20): Promise<number[]> {
  const perCall: number[] = [];
  let n = 0;
  for (let b = 0; b < maxBatches; b++) {
    const c0 = await cpu();
    let left = batch;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (left-- > 0) await call(n++);
      }),
    );
    perCall.push(((await cpu()) - c0) / batch);
    const tail = perCall.slice(-3);
    const mean = tail.reduce((a, x) => a + x, 0) / tail.length;
    if (perCall.length >= 4 && tail.every((x) => Math.abs(x - mean) <= 0.1 * mean)) break;
  }
  return perCall;
}

/**
 * Compiles a checkout's src/ with its own tsconfig.build.json into node_modules/.cache/permify-bench/<hash
 * of the checkout path> (inside node_modules, so packages resolve and nothing lands in the work tree) and
 * returns that directory. tsx, used otherwise, keeps function names by wrapping every function created at
 * run time in a helper call, a cost the compiled server does not have (a few % of a cached check).
 * Type errors do not stop the emit.
 */
function compile(root: string, reuse: boolean): string {
  const out = path.join(root, 'node_modules', '.cache', 'permify-bench', createHash('sha256').update(root).digest('hex').slice(0, 12));
  if (reuse && existsSync(path.join(out, 'server.js'))) {
    process.stdout.write(`reusing the earlier build of ${root} in ${out}\n`);
    return out;
  }
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [path.join(thisRoot, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json'), '--outDir', out, '--sourceMap', 'false', '--declaration', 'false', '--declarationMap', 'false'], { encoding: 'utf8' });
  if (!existsSync(path.join(out, 'server.js'))) throw new Error(`tsc of ${root} produced no server.js: ${r.stdout}${r.stderr}`);
  process.stdout.write(`compiled ${root} into ${out} in ${((performance.now() - t0) / 1000).toFixed(0)} s${r.status === 0 ? '' : ' (with type errors)'}\n`);
  return out;
}

/** JSON request bodies (REST, Connect) and binary ones (gRPC) of one operation, cycled through by the callers. */
interface OperationRequests {
  readonly name: string;
  readonly grpcMethod: string;
  readonly restPath: string;
  readonly json: Record<string, JsonValue>[];
}

/**
 * The other operations, on the google-docs data and the same sample (entity, subject) pairs as the checks:
 * LookupEntity and LookupSubject (first page of 10), Expand, SubjectPermission, and Data/Write of one tuple.
 * Write goes last: every write moves the head snapshot, which the read operations would then miss the cache on.
 */
function operationRequests(checks: readonly GoogleDocsCheck[]): OperationRequests[] {
  const md = { snap_token: '', schema_version: '', depth: 20 };
  return [
    {
      name: 'LookupEntity',
      grpcMethod: '/base.v1.Permission/LookupEntity',
      restPath: '/v1/tenants/t1/permissions/lookup-entity',
      json: checks.map((c) => ({ metadata: md, entity_type: 'document', permission: 'view', subject: { ...c.subject }, page_size: 10 })),
    },
    {
      name: 'LookupSubject',
      grpcMethod: '/base.v1.Permission/LookupSubject',
      restPath: '/v1/tenants/t1/permissions/lookup-subject',
      json: checks.map((c) => ({ metadata: md, entity: { ...c.entity }, permission: 'view', subject_reference: { type: 'user', relation: '' }, page_size: 10 })),
    },
    {
      name: 'Expand',
      grpcMethod: '/base.v1.Permission/Expand',
      restPath: '/v1/tenants/t1/permissions/expand',
      json: checks.map((c) => ({ metadata: { snap_token: '', schema_version: '' }, entity: { ...c.entity }, permission: 'view' })),
    },
    {
      name: 'SubjectPermission',
      grpcMethod: '/base.v1.Permission/SubjectPermission',
      restPath: '/v1/tenants/t1/permissions/subject-permission',
      json: checks.map((c) => ({ metadata: { ...md, only_permission: false }, entity: { ...c.entity }, subject: { ...c.subject } })),
    },
    {
      name: 'Write',
      grpcMethod: '/base.v1.Data/Write',
      restPath: '/v1/tenants/t1/data/write',
      json: checks.map((_c, i) => ({
        metadata: { schema_version: '' },
        tuples: [{ entity: { type: 'document', id: `bench-w${i}` }, relation: 'viewer', subject: { type: 'user', id: `bench-u${i}`, relation: '' } }],
        attributes: [],
      })),
    },
  ];
}

const requestSchemas: Readonly<Record<string, DescMessage>> = {
  LookupEntity: PermissionLookupEntityRequestSchema,
  LookupSubject: PermissionLookupSubjectRequestSchema,
  Expand: PermissionExpandRequestSchema,
  SubjectPermission: PermissionSubjectPermissionRequestSchema,
  Write: DataWriteRequestSchema,
};

const grpcBodies = (op: OperationRequests): Buffer[] =>
  op.json.map((j) => {
    const schema = requestSchemas[op.name] as DescMessage;
    return Buffer.from(toBinary(schema, fromJson(schema, { tenant_id: 't1', ...j })));
  });

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tuples: { type: 'string', default: '100000' },
      seconds: { type: 'string', default: '3' },
      seed: { type: 'string', default: '42' },
      child: { type: 'string' },
      root: { type: 'string' },
      'cpu-prof': { type: 'string' },
      only: { type: 'string' },
      conc: { type: 'string', default: '1,16,64' },
      rounds: { type: 'string', default: '3' },
      suite: { type: 'string', default: 'check' },
      baseline: { type: 'string' },
      'ops-conc': { type: 'string', default: '16' },
      compiled: { type: 'boolean', default: false },
      'reuse-build': { type: 'boolean', default: false },
      'compiled-dir': { type: 'string' },
    },
    strict: false,
  });
  if (typeof values.child === 'string') {
    const compiledDir = typeof values['compiled-dir'] === 'string' ? values['compiled-dir'] : undefined;
    return runChild(values.child as Kind, typeof values.root === 'string' ? values.root : thisRoot, compiledDir);
  }
  const tuples = Number(values.tuples);
  const ms = Number(values.seconds) * 1000;
  const dataset = generateGoogleDocsDataset({ tuples, seed: Number(values.seed), sampleChecks: 1000 });
  const concurrencies = String(values.conc).split(',').map(Number);
  const only = typeof values.only === 'string' ? values.only : '';
  const suites = new Set(String(values.suite).split(','));
  const profileDir = typeof values['cpu-prof'] === 'string' ? values['cpu-prof'] : undefined;
  // The children write into it; a missing directory would kill the profiled server mid-run.
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });
  const baselineRoot = typeof values.baseline === 'string' ? path.resolve(values.baseline) : undefined;
  const rounds = Math.max(1, Number(values.rounds));

  const checkSuite = suites.has('check');
  const reuse = values['reuse-build'] === true;
  const oursBuild = values.compiled === true ? compile(thisRoot, reuse) : undefined;
  const baseBuild = values.compiled === true && baselineRoot !== undefined ? compile(baselineRoot, reuse) : undefined;
  process.stdout.write(`servers run ${values.compiled === true ? 'compiled by tsc (as `permify serve` runs them)' : 'from sources through tsx'}\n`);
  const ours = await startChild('ours', thisRoot, oursBuild);
  const base = baselineRoot === undefined ? undefined : await startChild('ours', baselineRoot, baseBuild);
  const uncached = checkSuite ? await startChild('ours-uncached', thisRoot, oursBuild) : undefined;
  const baseUncached = checkSuite && baselineRoot !== undefined ? await startChild('ours-uncached', baselineRoot, baseBuild) : undefined;
  const bareGrpc = checkSuite ? await startChild('bare-grpc') : undefined;
  const bareConnect = checkSuite ? await startChild('bare-connect') : undefined;
  const bareHttp = checkSuite ? await startChild('bare-http') : undefined;
  const children = [ours, base, uncached, baseUncached, bareGrpc, bareConnect, bareHttp].filter((c): c is Child => c !== undefined);
  const closers: (() => void)[] = [];
  try {
    const t0 = performance.now();
    for (const c of [ours, base, uncached, baseUncached]) if (c !== undefined) await load(c.ports.http as number, dataset);
    process.stdout.write(`loaded ${dataset.tuples.length} tuples, ${dataset.attributes.length} attributes over REST into each server in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    if (baselineRoot !== undefined) process.stdout.write(`baseline: the server of ${baselineRoot}, measured in the same slices ('base ...')\n`);
    // --only takes comma-separated substrings of target names (e.g. `--only 'ours gRPC,bare grpc'`).
    const selected = (name: string): boolean => only.split(',').some((o) => name.includes(o));
    // Both of our servers are profiled: ours (cached checks, other operations) and ours-uncached.
    const profiledChildren = [
      { child: ours, file: 'ours.cpuprofile' },
      ...(uncached ? [{ child: uncached, file: 'ours-uncached.cpuprofile' }] : []),
    ];
    const profiled = async <T>(f: () => Promise<T>): Promise<T> => {
      if (profileDir !== undefined) for (const p of profiledChildren) p.child.profileStart();
      try {
        return await f();
      } finally {
        if (profileDir !== undefined) {
          for (const p of profiledChildren) await p.child.profileStop(profileDir);
          process.stdout.write(`CPU profiles of ours (measured slices only): ${profiledChildren.map((p) => path.join(profileDir, p.file)).join(', ')}\n`);
        }
      }
    };

    if (checkSuite && uncached && bareGrpc && bareConnect && bareHttp) {
      const checkJson = (c: GoogleDocsCheck) => ({ metadata: { depth: 20, snap_token: '', schema_version: '' }, entity: c.entity, permission: c.permission, subject: c.subject });
      const bodies = dataset.sampleChecks.map((c) => JSON.stringify(checkJson(c)));
      const grpcRequests = dataset.sampleChecks.map((c) =>
        Buffer.from(toBinary(PermissionCheckRequestSchema, create(PermissionCheckRequestSchema, { tenantId: 't1', metadata: { depth: 20 }, entity: c.entity, permission: c.permission, subject: c.subject }))),
      );
      const target = (name: string, caller: { call: Caller; close: () => void }, cpu: () => Promise<number>) => {
        closers.push(caller.close);
        return { name, caller, cpu };
      };
      // `ours gRPC` cycles through the same 1000 checks, so after the warm-up every answer comes from the check
      // cache; `ours uncached` is a second server with the cache off (every Check walks the graph).
      const targets = [
        target('ours gRPC', grpcCaller(ours.ports.grpc as number, grpcRequests), ours.cpu),
        ...(base ? [target('base gRPC', grpcCaller(base.ports.grpc as number, grpcRequests), base.cpu)] : []),
        target('ours uncached', grpcCaller(uncached.ports.grpc as number, grpcRequests), uncached.cpu),
        ...(baseUncached ? [target('base uncached', grpcCaller(baseUncached.ports.grpc as number, grpcRequests), baseUncached.cpu)] : []),
        target('bare grpc-js', grpcCaller(bareGrpc.ports.grpc as number, grpcRequests), bareGrpc.cpu),
        target('bare connect', grpcCaller(bareConnect.ports.grpc as number, grpcRequests), bareConnect.cpu),
        target('ours REST', restCaller(ours.ports.http as number, bodies), ours.cpu),
        ...(base ? [target('base REST', restCaller(base.ports.http as number, bodies), base.cpu)] : []),
        target('bare node:http', restCaller(bareHttp.ports.http as number, bodies), bareHttp.cpu),
      ];
      const active = targets.filter((t) => selected(t.name));
      process.stdout.write('\nwarm-up (server CPU µs per call of successive 1000-call batches, until three agree within 10%):\n');
      for (const t of active) {
        const w = await warmUp(t.caller.call, t.cpu);
        process.stdout.write(`  ${t.name.padEnd(15)} ${w.map((x) => x.toFixed(0)).join(' ')}\n`);
      }
      const results = new Map<string, Series>();
      process.stdout.write(`\n${'target'.padEnd(16)} ${'conc'.padStart(4)} ${'checks/s'.padStart(10)} ${'cpu µs/chk'.padStart(11)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}\n`);
      // Each (target, concurrency) figure is the sum of `rounds` slices, the slices of the targets taking turns:
      // on a shared machine a burst of outside load then hits ours and the bare servers alike instead of
      // whichever target happened to be running.
      await profiled(async () => {
        for (const c of concurrencies) {
          const samples = new Map<string, Sample[]>();
          for (let round = 0; round < rounds; round++) {
            for (const t of active) {
              const list = samples.get(t.name) ?? [];
              list.push(await closedLoop(t.caller.call, c, ms / rounds, t.cpu));
              samples.set(t.name, list);
            }
          }
          for (const t of active) {
            const s = summarise(samples.get(t.name) ?? []);
            results.set(`${t.name}@${c}`, s);
            process.stdout.write(
              `${t.name.padEnd(16)} ${String(c).padStart(4)} ${s.checksPerSec.toFixed(0).padStart(10)} ${s.cpuMicrosPerCheck.toFixed(1).padStart(11)} ${s.p50.toFixed(3).padStart(8)} ${s.p99.toFixed(3).padStart(8)}\n`,
            );
          }
        }
      });
      const ratio = (a: string, b: string, c: number, f: (s: Series) => number): string => {
        const x = results.get(`${a}@${c}`);
        const y = results.get(`${b}@${c}`);
        return x && y ? (f(x) / f(y)).toFixed(2) : '  - ';
      };
      const rate = (s: Series): number => s.checksPerSec;
      const cpuPer = (s: Series): number => s.cpuMicrosPerCheck;
      process.stdout.write(
        '\nratios to the bare servers of this run (throughput x; CPU per check x):\n' +
          '  targets: gRPC cached >= 0.80x bare grpc-js at 64; REST >= 0.50x bare node:http\n',
      );
      for (const c of concurrencies) {
        process.stdout.write(
          `  concurrency ${String(c).padStart(2)}: gRPC cached ${ratio('ours gRPC', 'bare grpc-js', c, rate)}x (cpu ${ratio('ours gRPC', 'bare grpc-js', c, cpuPer)}x), ` +
            `uncached ${ratio('ours uncached', 'bare grpc-js', c, rate)}x (cpu ${ratio('ours uncached', 'bare grpc-js', c, cpuPer)}x); ` +
            `bare connect ${ratio('bare connect', 'bare grpc-js', c, rate)}x (cpu ${ratio('bare connect', 'bare grpc-js', c, cpuPer)}x); ` +
            `REST ${ratio('ours REST', 'bare node:http', c, rate)}x (cpu ${ratio('ours REST', 'bare node:http', c, cpuPer)}x)` +
            (base
              ? `; vs base: gRPC ${ratio('ours gRPC', 'base gRPC', c, rate)}x (cpu ${ratio('ours gRPC', 'base gRPC', c, cpuPer)}x), ` +
                `uncached ${ratio('ours uncached', 'base uncached', c, rate)}x (cpu ${ratio('ours uncached', 'base uncached', c, cpuPer)}x), REST ${ratio('ours REST', 'base REST', c, rate)}x (cpu ${ratio('ours REST', 'base REST', c, cpuPer)}x)`
              : '') +
            '\n',
        );
      }
      process.stdout.write(
        '\nlatency at half of our saturation rate (paced, target p99 <= 2 ms); the bare server of the same transport\n' +
          'is driven at the same rate by the same generator, so what the machine and the generator add shows up in both:\n',
      );
      const byName = (n: string) => targets.find((t) => t.name === n);
      const pacedPairs = [
        { ours: byName('ours gRPC'), bare: byName('bare grpc-js'), oursChild: ours, bareChild: bareGrpc },
        { ours: byName('ours REST'), bare: byName('bare node:http'), oursChild: ours, bareChild: bareHttp },
      ];
      for (const pair of pacedPairs) {
        if (!pair.ours || !pair.bare || !selected(pair.ours.name)) continue;
        const sat = Math.max(...concurrencies.map((c) => results.get(`${pair.ours?.name}@${c}`)?.checksPerSec ?? 0));
        for (const [t, child] of [
          [pair.ours, pair.oursChild],
          [pair.bare, pair.bareChild],
        ] as const) {
          child.resetLoopDelay();
          const p = await paced(t.caller.call, sat / 2, ms);
          const d = await child.loopDelay();
          process.stdout.write(
            `  ${t.name.padEnd(15)} rate ${(sat / 2).toFixed(0)}/s (achieved ${p.achieved.toFixed(0)}/s): p50 ${p.p50.toFixed(3)} ms, ` +
              `p99 ${p.p99.toFixed(3)} ms; server event-loop delay p99 ${d.p99Ms.toFixed(3)} ms (max ${d.maxMs.toFixed(1)}), ` +
              `generator lag p99 ${p.lagP99.toFixed(3)} ms\n`,
          );
        }
      }
    }

    if (suites.has('ops')) {
      // Every other operation over every transport of ours (gRPC, REST, Connect under /connect/), and over
      // gRPC and REST of the baseline server when one is given: ops/s and server CPU µs per call at one
      // concurrency, the servers taking turns slice by slice.
      const conc = Number(values['ops-conc']);
      process.stdout.write(
        `\nother operations at ${conc} in flight (server CPU µs per call; "vs base" = ours / baseline, CPU ratio < 1 is better):\n` +
          `${'operation'.padEnd(18)} ${'transport'.padEnd(9)} ${'ours/s'.padStart(8)} ${'cpu µs'.padStart(8)}${base ? ` ${'base/s'.padStart(8)} ${'cpu µs'.padStart(8)} ${'rate x'.padStart(7)} ${'cpu x'.padStart(6)}` : ''}\n`,
      );
      await profiled(async () => {
        for (const op of operationRequests(dataset.sampleChecks)) {
          const bin = grpcBodies(op);
          const restBodies = op.json.map((j) => JSON.stringify(j));
          const connectBodies = op.json.map((j) => JSON.stringify({ tenant_id: 't1', ...j }));
          const connectPath = `/connect/${op.grpcMethod.slice(1)}`;
          const transports = [
            { transport: 'gRPC', ours: grpcCaller(ours.ports.grpc as number, bin, op.grpcMethod), base: base && grpcCaller(base.ports.grpc as number, bin, op.grpcMethod) },
            { transport: 'REST', ours: restCaller(ours.ports.http as number, restBodies, op.restPath), base: base && restCaller(base.ports.http as number, restBodies, op.restPath) },
            { transport: 'Connect', ours: restCaller(ours.ports.http as number, connectBodies, connectPath), base: undefined },
          ];
          for (const t of transports) {
            if (!selected(`${op.name} ${t.transport}`)) continue;
            closers.push(t.ours.close);
            if (t.base) closers.push(t.base.close);
            await warmUp(t.ours.call, ours.cpu, 200, 10);
            if (t.base && base) await warmUp(t.base.call, base.cpu, 200, 10);
            const mine: Sample[] = [];
            const theirs: Sample[] = [];
            for (let round = 0; round < rounds; round++) {
              mine.push(await closedLoop(t.ours.call, conc, ms / rounds, ours.cpu));
              if (t.base && base) theirs.push(await closedLoop(t.base.call, conc, ms / rounds, base.cpu));
            }
            const a = summarise(mine);
            let line = `${op.name.padEnd(18)} ${t.transport.padEnd(9)} ${a.checksPerSec.toFixed(0).padStart(8)} ${a.cpuMicrosPerCheck.toFixed(0).padStart(8)}`;
            if (theirs.length > 0) {
              const b = summarise(theirs);
              line += ` ${b.checksPerSec.toFixed(0).padStart(8)} ${b.cpuMicrosPerCheck.toFixed(0).padStart(8)} ${(a.checksPerSec / b.checksPerSec).toFixed(2).padStart(7)} ${(a.cpuMicrosPerCheck / b.cpuMicrosPerCheck).toFixed(2).padStart(6)}`;
            }
            process.stdout.write(`${line}\n`);
          }
        }
      });
    }
    for (const close of closers) close();
  } finally {
    for (const c of children) c.child.send({ type: 'exit' });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
