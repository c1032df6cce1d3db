/**
 * Observability overhead: Check over gRPC against permify-ts (memory store) with telemetry off, and, in the
 * same run, with tracing on at a 1 % sample rate (spans exported over OTLP/HTTP to a receiver in this process
 * that discards them) and, for reference, at 100 %. Each server runs in its own child process so that its CPU
 * per check is measured there with process.cpuUsage().
 *
 * The check cache is on and the request set is small, so once warm most checks are answered from the cache:
 * the engine's work is the smallest it can be and the per-call cost of the telemetry the largest share of
 * it (the worst case for the ratio). Metrics (/metrics instruments) are on in every target: they are not
 * optional.
 *
 * Method: one load generator (this process), closed loop at `--conc` calls in flight. Each target runs as
 * `--processes` server processes (default 3): how fast one Node process runs the same code varies by several
 * % from process to process (what V8 happened to optimise, and how: one process of a run spent 5 % of its CPU
 * in process.nextTick, another of the same code 0.8 %), and a single process per target turns that into a
 * difference between targets. Every process is warmed up first, then all of them take turns in `--rounds`
 * slices of `--seconds`, in alternating order (outside load on a shared machine is spread over all). Prints
 * per target: checks/s and server CPU µs per check over all slices and processes, and the ratio to `off`
 * per round and its median. The issue's bound: traced 1 % checks/s >= 0.95 x off.
 *
 * `--baseline DIR` also runs `off` and `traced-1%` from another checkout (`git worktree add /tmp/base <commit>`
 * with a node_modules symlink), as `base off` and `base traced-1%` in the same slices, and prints our CPU per
 * check against theirs: a before/after of the observability cost in one run. `--no-full` leaves out
 * `traced-100%`; `--zero` adds `traced-0%` (tracing on, no call sampled: the cost of the unsampled path alone)
 * and `traced-once` (the same, after ONE call traced by its caller's traceparent before the warm-up: what
 * having once enabled AsyncLocalStorage leaves behind in the process, e.g. V8's promise-hook fast path).
 *
 * `--cpu-prof DIR` writes each server's CPU profile of the measured rounds (main thread, warm-up and start
 * excluded) to DIR/<target>-<process>.cpuprofile.
 *
 *   node --import tsx bench/observability.ts [--seconds 2] [--rounds 8] [--conc 16] [--baseline DIR] [--no-full] [--zero] [--cpu-prof DIR] [--processes 3]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { create, toBinary } from '@bufbuild/protobuf';
import { PermissionCheckRequestSchema } from '../src/api/gen/base/v1/service_pb.js';

type Mode = 'off' | 'traced-0%' | 'traced-once' | 'traced-1%' | 'traced-100%';
/** A mode, or `base <mode>` for the --baseline checkout's server. */
type Target = string;
const thisRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const SCHEMA = `entity user {}
entity organization {
  relation member @user
  relation admin @user
}
entity document {
  relation org @organization
  relation owner @user
  relation viewer @user
  permission edit = owner or org.admin
  permission view = edit or viewer or org.member
}`;

const USERS = 200;
const DOCS = 500;
const ORGS = 20;

async function runChild(target: Mode, collectorPort: number, root: string): Promise<void> {
  type LoadModule = typeof import('../src/config/load.js');
  type ServerModule = typeof import('../src/server.js');
  type LoggerModule = typeof import('../src/observability/logger.js');
  const { loadConfig } = (await import(path.join(root, 'src/config/load.ts'))) as LoadModule;
  const { startServer } = (await import(path.join(root, 'src/server.ts'))) as ServerModule;
  const { createLogger } = (await import(path.join(root, 'src/observability/logger.ts'))) as LoggerModule;
  const tracing: Record<string, unknown> =
    target === 'off'
      ? {}
      : {
          'tracer.enabled': true,
          'tracer.exporter': 'otlp',
          'tracer.endpoint': `127.0.0.1:${collectorPort}`,
          'tracer.insecure': true,
          'tracer.sample_rate': target === 'traced-1%' ? 0.01 : target === 'traced-0%' || target === 'traced-once' ? 0 : 1,
        };
  const { config } = loadConfig({
    env: {},
    cwd: '/nonexistent',
    flags: { 'server.grpc.port': 0, 'server.http.port': 0, 'server.rate_limit': 0, ...tracing },
  });
  const server = await startServer(config, { logger: createLogger({ level: 'silent', output: 'json' }) });
  const httpPort = server.ports.http as number;
  const post = async (path: string, body: unknown): Promise<void> => {
    const res = await fetch(`http://127.0.0.1:${httpPort}${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  };
  await post('/v1/tenants/t1/schemas/write', { schema: SCHEMA });
  const tuples: unknown[] = [];
  for (let d = 0; d < DOCS; d++) {
    tuples.push({ entity: { type: 'document', id: `d${d}` }, relation: 'org', subject: { type: 'organization', id: `o${d % ORGS}` } });
    tuples.push({ entity: { type: 'document', id: `d${d}` }, relation: 'owner', subject: { type: 'user', id: `u${d % USERS}` } });
  }
  for (let u = 0; u < USERS; u++) {
    tuples.push({ entity: { type: 'organization', id: `o${u % ORGS}` }, relation: u % 10 === 0 ? 'admin' : 'member', subject: { type: 'user', id: `u${u}` } });
  }
  for (let i = 0; i < tuples.length; i += 500) await post('/v1/tenants/t1/data/write', { metadata: { schema_version: '' }, tuples: tuples.slice(i, i + 500) });
  const profiler = new Session();
  process.on('message', (m: { kind: string; file?: string }) => {
    if (m.kind === 'profile-start') {
      profiler.connect();
      profiler.post('Profiler.enable', () => profiler.post('Profiler.start', () => process.send?.({ kind: 'profile-started' })));
    } else if (m.kind === 'profile-stop') {
      profiler.post('Profiler.stop', (err, r) => {
        if (err === null) writeFileSync(m.file as string, JSON.stringify(r.profile));
        profiler.disconnect();
        process.send?.({ kind: 'profile-stopped' });
      });
    } else if (m.kind === 'cpu') {
      const u = process.cpuUsage();
      process.send?.({ kind: 'cpu', micros: u.user + u.system });
    } else if (m.kind === 'stop') {
      void server.close().then(() => process.exit(0));
    }
  });
  process.send?.({ kind: 'ready', grpc: server.ports.grpc });
}

interface Child {
  readonly target: Target;
  /** Which of the target's processes. */
  readonly index: number;
  readonly proc: ChildProcess;
  readonly grpcPort: number;
  cpu(): Promise<number>;
  /** Sends `kind` and waits for the child's `reply`. */
  ask(kind: string, reply: string, extra?: Record<string, unknown>): Promise<void>;
}

function startChild(target: Target, index: number, collectorPort: number, baseline: string | undefined): Promise<Child> {
  const base = target.startsWith('base ');
  const mode = base ? target.slice(5) : target;
  const root = base ? (baseline as string) : thisRoot;
  const proc = fork(fileURLToPath(import.meta.url), ['--child', mode, '--collector', String(collectorPort), '--root', root], {
    execArgv: [
      '--import',
      'tsx',
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code) => reject(new Error(`${target} exited ${code}`)));
    proc.once('message', (m: { kind: string; grpc: number }) => {
      const cpu = (): Promise<number> =>
        new Promise((res) => {
          const on = (x: { kind: string; micros: number }): void => {
            if (x.kind !== 'cpu') return;
            proc.off('message', on);
            res(x.micros);
          };
          proc.on('message', on);
          proc.send({ kind: 'cpu' });
        });
      const ask = (kind: string, reply: string, extra: Record<string, unknown> = {}): Promise<void> =>
        new Promise((res) => {
          const on = (x: { kind: string }): void => {
            if (x.kind !== reply) return;
            proc.off('message', on);
            res();
          };
          proc.on('message', on);
          proc.send({ kind, ...extra });
        });
      resolve({ target, index, proc, grpcPort: m.grpc, cpu, ask });
    });
  });
}

function checkRequests(): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < 500; i++) {
    const req = create(PermissionCheckRequestSchema, {
      tenantId: 't1',
      metadata: { depth: 20 },
      entity: { type: 'document', id: `d${(i * 7) % DOCS}` },
      permission: i % 2 === 0 ? 'view' : 'edit',
      subject: { type: 'user', id: `u${(i * 13) % USERS}` },
    });
    out.push(Buffer.from(toBinary(PermissionCheckRequestSchema, req)));
  }
  return out;
}

async function closedLoop(port: number, requests: Buffer[], conc: number, ms: number): Promise<number> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  let next = 0;
  let done = 0;
  const until = performance.now() + ms;
  const worker = async (): Promise<void> => {
    while (performance.now() < until) {
      const body = requests[next++ % requests.length] as Buffer;
      await new Promise<void>((resolve, reject) =>
        client.makeUnaryRequest('/base.v1.Permission/Check', (b: Buffer) => b, (b: Buffer) => b, body, (err) => (err ? reject(err) : resolve())),
      );
      done++;
    }
  };
  await Promise.all(Array.from({ length: conc }, worker));
  client.close();
  return done;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '8' },
      conc: { type: 'string', default: '16' },
      baseline: { type: 'string' },
      'no-full': { type: 'boolean', default: false },
      zero: { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      processes: { type: 'string', default: '3' },
    },
    strict: false,
  });
  const sliceMs = Number(values.seconds) * 1000;
  const rounds = Number(values.rounds);
  const conc = Number(values.conc);
  const processes = Math.max(1, Number(values.processes));
  const baseline = typeof values.baseline === 'string' ? path.resolve(values.baseline) : undefined;
  const profileDir = typeof values['cpu-prof'] === 'string' ? path.resolve(values['cpu-prof']) : undefined;
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });
  const TARGETS: readonly Target[] = [
    'off',
    ...(values['zero'] === true ? ['traced-0%', 'traced-once'] : []),
    'traced-1%',
    ...(values['no-full'] === true ? [] : ['traced-100%']),
    ...(baseline !== undefined ? ['base off', 'base traced-1%'] : []),
  ];
  // A collector that accepts and discards (and counts) OTLP/HTTP exports.
  let exports = 0;
  const collector = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      exports++;
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  const collectorPort = (collector.address() as AddressInfo).port;
  const children: Child[] = [];
  for (let i = 0; i < processes; i++) for (const t of TARGETS) children.push(await startChild(t, i, collectorPort, baseline));
  const requests = checkRequests();
  try {
    for (const once of children.filter((c) => c.target === 'traced-once')) {
      const client = new grpc.Client(`127.0.0.1:${once.grpcPort}`, grpc.credentials.createInsecure());
      const md = new grpc.Metadata();
      md.set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
      await new Promise<void>((resolve, reject) =>
        client.makeUnaryRequest('/base.v1.Permission/Check', (b: Buffer) => b, (b: Buffer) => b, requests[0] as Buffer, md, (err) => (err ? reject(err) : resolve())),
      );
      client.close();
    }
    for (const c of children) {
      // Warm up: JIT and the check cache, until two successive 1 s slices are within 10 %.
      let prev = 0;
      for (let i = 0; i < 10; i++) {
        const n = await closedLoop(c.grpcPort, requests, conc, 1000);
        if (prev > 0 && Math.abs(n - prev) / prev < 0.1) break;
        prev = n;
      }
    }
    if (profileDir !== undefined) for (const c of children) await c.ask('profile-start', 'profile-started');
    const totals = new Map<Target, { calls: number; ms: number; cpu: number }>(TARGETS.map((t) => [t, { calls: 0, ms: 0, cpu: 0 }]));
    const perProcess = new Map<Child, { calls: number; ms: number; cpu: number }>();
    const perRound: Map<Target, number>[] = [];
    const cpuPerRound: Map<Target, number>[] = [];
    for (let r = 0; r < rounds; r++) {
      const round = new Map<Target, { calls: number; ms: number; cpu: number }>(TARGETS.map((t) => [t, { calls: 0, ms: 0, cpu: 0 }]));
      // Alternate the order so that no target always runs right after another.
      const order = r % 2 === 0 ? children : [...children].reverse();
      for (const c of order) {
        const cpu0 = await c.cpu();
        const t0 = performance.now();
        const calls = await closedLoop(c.grpcPort, requests, conc, sliceMs);
        const ms = performance.now() - t0;
        const cpu = (await c.cpu()) - cpu0;
        let own = perProcess.get(c);
        if (own === undefined) perProcess.set(c, (own = { calls: 0, ms: 0, cpu: 0 }));
        for (const acc of [totals.get(c.target), round.get(c.target), own] as { calls: number; ms: number; cpu: number }[]) {
          acc.calls += calls;
          acc.ms += ms;
          acc.cpu += cpu;
        }
      }
      const rates = new Map<Target, number>([...round].map(([t, x]) => [t, (x.calls * 1000) / x.ms]));
      const cpus = new Map<Target, number>([...round].map(([t, x]) => [t, x.cpu / x.calls]));
      perRound.push(rates);
      cpuPerRound.push(cpus);
    }
    if (profileDir !== undefined) {
      for (const c of children) {
        await c.ask('profile-stop', 'profile-stopped', { file: path.join(profileDir, `${c.target.replace(/[^a-z0-9-]/gi, '_')}-${c.index}.cpuprofile`) });
      }
    }
    const median = (xs: number[]): number => {
      const s = [...xs].sort((a, b) => a - b);
      return s[Math.floor(s.length / 2)] as number;
    };
    console.log(
      `Check over gRPC, ${conc} in flight, ${processes} server processes per target, ${rounds} rounds x ${sliceMs / 1000} s per process (memory store, check cache on)`,
    );
    console.log('target         checks/s   server CPU µs/check   checks/s ratio to off per round (median)   CPU/check ratio to off (median)');
    const off = totals.get('off') as { calls: number; ms: number; cpu: number };
    for (const t of TARGETS) {
      const tot = totals.get(t) as { calls: number; ms: number; cpu: number };
      const ratios = perRound.map((r) => (r.get(t) as number) / (r.get('off') as number));
      const cpuRatios = cpuPerRound.map((r) => (r.get(t) as number) / (r.get('off') as number));
      console.log(
        `${t.padEnd(14)} ${((tot.calls * 1000) / tot.ms).toFixed(0).padStart(8)}   ${(tot.cpu / tot.calls).toFixed(1).padStart(19)}   ${ratios.map((x) => x.toFixed(2)).join(' ')} (${median(ratios).toFixed(3)})   ${cpuRatios.map((x) => x.toFixed(2)).join(' ')} (${median(cpuRatios).toFixed(3)})`,
      );
    }
    if (processes > 1) {
      const each = (t: Target): string =>
        children
          .filter((c) => c.target === t)
          .map((c) => {
            const x = perProcess.get(c) as { calls: number; cpu: number };
            return (x.cpu / x.calls).toFixed(1);
          })
          .join(' ');
      console.log(`server CPU µs/check of each process: ${TARGETS.map((t) => `${t} ${each(t)}`).join('; ')}`);
    }
    const traced = totals.get('traced-1%') as { calls: number; ms: number; cpu: number };
    console.log(
      `traced 1 %: checks/s ${(((traced.calls / traced.ms) / (off.calls / off.ms)) * 100).toFixed(1)} % of off (bound: >= 95 %), CPU per check ${(((traced.cpu / traced.calls) / (off.cpu / off.calls)) * 100).toFixed(1)} % of off; OTLP export requests received: ${exports}`,
    );
    if (baseline !== undefined) {
      const perCheck = (t: Target): number => {
        const x = totals.get(t) as { calls: number; cpu: number };
        return x.cpu / x.calls;
      };
      const vs = (ours: Target, base: Target): string => {
        const rounds = cpuPerRound.map((r) => (r.get(ours) as number) / (r.get(base) as number));
        return `${(perCheck(ours) / perCheck(base)).toFixed(3)}x (per round median ${median(rounds).toFixed(3)}x)`;
      };
      console.log(`baseline ${baseline}: CPU per check ours/base: off ${vs('off', 'base off')}, traced 1 % ${vs('traced-1%', 'base traced-1%')}`);
      const bt = totals.get('base traced-1%') as { calls: number; ms: number };
      const bo = totals.get('base off') as { calls: number; ms: number };
      console.log(`baseline traced 1 %: checks/s ${(((bt.calls / bt.ms) / (bo.calls / bo.ms)) * 100).toFixed(1)} % of its off`);
    }
  } finally {
    for (const c of children) c.proc.send({ kind: 'stop' });
    await new Promise((r) => setTimeout(r, 500));
    collector.close();
  }
}

const argv = process.argv;
const childAt = argv.indexOf('--child');
if (childAt >= 0) {
  void runChild(argv[childAt + 1] as Mode, Number(argv[argv.indexOf('--collector') + 1]), argv[argv.indexOf('--root') + 1] as string);
} else {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
