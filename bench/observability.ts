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
 * Method: one load generator (this process), closed loop at `--conc` calls in flight; each target is warmed
 * up first, then the targets take turns in `--rounds` slices of `--seconds` (outside load on a shared machine
 * is spread over all of them). Prints per target: checks/s and server CPU µs per check over all slices, and
 * the ratio to `off` per round and its median. The issue's bound: traced 1 % checks/s >= 0.95 x off.
 *
 * `--baseline DIR` also runs `off` and `traced-1%` from another checkout (`git worktree add /tmp/base <commit>`
 * with a node_modules symlink), as `base off` and `base traced-1%` in the same slices, and prints our CPU per
 * check against theirs: a before/after of the observability cost in one run. `--no-full` leaves out
 * `traced-100%`; `--zero` adds `traced-0%` (tracing on, no call sampled: the cost of the unsampled path alone)
 * and `traced-once` (the same, after ONE call traced by its caller's traceparent before the warm-up: what
 * having once enabled AsyncLocalStorage leaves behind in the process, e.g. V8's promise-hook fast path).
 *
 *   node --import tsx bench/observability.ts [--seconds 2] [--rounds 8] [--conc 16] [--baseline DIR] [--no-full] [--zero]
 */
import { fork, type ChildProcess } from 'node:child_process';
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
  process.on('message', (m: { kind: string }) => {
    if (m.kind === 'cpu') {
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
  readonly proc: ChildProcess;
  readonly grpcPort: number;
  cpu(): Promise<number>;
}

function startChild(target: Target, collectorPort: number, baseline: string | undefined): Promise<Child> {
  const base = target.startsWith('base ');
  const mode = base ? target.slice(5) : target;
  const root = base ? (baseline as string) : thisRoot;
  const proc = fork(fileURLToPath(import.meta.url), ['--child', mode, '--collector', String(collectorPort), '--root', root], {
    execArgv: ['--import', 'tsx'],
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
      resolve({ target, proc, grpcPort: m.grpc, cpu });
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
    },
    strict: false,
  });
  const sliceMs = Number(values.seconds) * 1000;
  const rounds = Number(values.rounds);
  const conc = Number(values.conc);
  const baseline = typeof values.baseline === 'string' ? path.resolve(values.baseline) : undefined;
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
  for (const t of TARGETS) children.push(await startChild(t, collectorPort, baseline));
  const requests = checkRequests();
  try {
    const once = children.find((c) => c.target === 'traced-once');
    if (once !== undefined) {
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
    const totals = new Map<Target, { calls: number; ms: number; cpu: number }>(TARGETS.map((t) => [t, { calls: 0, ms: 0, cpu: 0 }]));
    const perRound: Map<Target, number>[] = [];
    const cpuPerRound: Map<Target, number>[] = [];
    for (let r = 0; r < rounds; r++) {
      const rates = new Map<Target, number>();
      const cpus = new Map<Target, number>();
      // Alternate the order so that no target always runs right after another.
      const order = r % 2 === 0 ? children : [...children].reverse();
      for (const c of order) {
        const cpu0 = await c.cpu();
        const t0 = performance.now();
        const calls = await closedLoop(c.grpcPort, requests, conc, sliceMs);
        const ms = performance.now() - t0;
        const cpu = (await c.cpu()) - cpu0;
        const tot = totals.get(c.target) as { calls: number; ms: number; cpu: number };
        tot.calls += calls;
        tot.ms += ms;
        tot.cpu += cpu;
        rates.set(c.target, (calls * 1000) / ms);
        cpus.set(c.target, cpu / calls);
      }
      perRound.push(rates);
      cpuPerRound.push(cpus);
    }
    const median = (xs: number[]): number => {
      const s = [...xs].sort((a, b) => a - b);
      return s[Math.floor(s.length / 2)] as number;
    };
    console.log(`Check over gRPC, ${conc} in flight, ${rounds} rounds x ${sliceMs / 1000} s per target (memory store, check cache on)`);
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
