/**
 * `permify serve` as a process (env config, SIGTERM shutdown), TLS on both listeners with a self-signed
 * certificate made by openssl, graceful close with requests in flight, bounded close with blocked store
 * calls, health following the store, listener addresses, and what authentication covers (reflection,
 * /metrics).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import type { Store, TenantStore } from '../../src/storage/contract.js';
import { createMemoryStore } from '../../src/storage/memory/index.js';
import { request, startTestServer } from './rest-support.js';

function selfSigned(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'permify-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: 'ignore' });
  return { cert, key };
}

describe('TLS', () => {
  it('serves HTTPS and gRPC over TLS with the configured certificate', async () => {
    const { cert, key } = selfSigned();
    const server = await startTestServer({
      'server.http.tls.enabled': 'true',
      'server.http.tls.cert': cert,
      'server.http.tls.key': key,
      'server.grpc.tls.enabled': 'true',
      'server.grpc.tls.cert': cert,
      'server.grpc.tls.key': key,
    });
    try {
      const ca = readFileSync(cert);
      const body = await new Promise<string>((resolve, reject) => {
        https
          .get({ host: '127.0.0.1', port: server.ports.http, path: '/healthz', ca, servername: 'localhost' }, (res) => {
            let s = '';
            res.on('data', (c: Buffer) => (s += c.toString()));
            res.on('end', () => resolve(s));
          })
          .on('error', reject);
      });
      expect(body).toBe('{"status":"SERVING"}\n');
      // Plain HTTP to the TLS port must not be answered as JSON.
      await expect(request(server.ports.http as number, 'GET', '/healthz')).rejects.toThrow();
      const client = new grpc.Client(`localhost:${server.ports.grpc}`, grpc.credentials.createSsl(ca));
      await new Promise<void>((resolve, reject) =>
        client.waitForReady(Date.now() + 5000, (err) => (err ? reject(err) : resolve())),
      );
      client.close();
    } finally {
      await server.close();
    }
  });

  it('refuses to start when the certificate file is missing, naming the key', async () => {
    await expect(
      startTestServer({ 'server.http.tls.enabled': 'true', 'server.http.tls.cert': '/nope.pem', 'server.http.tls.key': '/nope.key' }),
    ).rejects.toThrow(/server\.http\.tls\.cert/);
  });
});

describe('lifecycle', () => {
  it('a default start logs no error: the account_id reminder is a warning, the configuration is at debug, one line says what serves', async () => {
    type Line = { level: string; msg: string; key?: string };
    /** Starts and stops a server with `flags`, returning its JSON log lines at info and above. */
    const logsOf = async (flags: Record<string, unknown>): Promise<Line[]> => {
      const lines: Line[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Line);
          done();
        },
      });
      const s = await startTestServer(flags, { logger: createLogger({ level: 'info', output: 'json', destination: sink }) });
      await s.close();
      return lines;
    };
    // The harness turns the rate limit off; a default start has it at 100 requests/s.
    const defaults = await logsOf({ 'server.rate_limit': 100 });
    expect(defaults.filter((l) => l.level === 'error')).toEqual([]);
    expect(defaults.some((l) => l.msg === 'effective configuration')).toBe(false);
    expect(defaults.find((l) => l.msg.startsWith('permify-ts serving'))?.msg).toMatch(
      /^permify-ts serving: gRPC on 0\.0\.0\.0:\d+, REST on 0\.0\.0\.0:\d+, store memory, authn off, rate limit 100 requests\/s$/,
    );
    const lines = await logsOf({ 'service.circuit_breaker': true });
    expect(lines.some((l) => l.level === 'warn' && l.msg.includes('account_id is not set'))).toBe(true);
    expect(lines.some((l) => l.level === 'warn' && l.key === 'service.circuit_breaker')).toBe(true);
    const quiet = await logsOf({ account_id: 'acme' });
    expect(quiet.filter((l) => l.level === 'error' || l.level === 'warn')).toEqual([]);
  });
  it('close() lets an in-flight request finish and then refuses connections', async () => {
    const server = await startTestServer();
    const port = server.ports.http as number;
    // The request's headers and half its body are on the server when close() starts.
    const inflight = new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/tenants/list' }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.write('{"page_size":');
      setTimeout(() => {
        closing = server.close();
        setTimeout(() => req.end('5}'), 100);
      }, 100);
    });
    let closing: Promise<void> = Promise.resolve();
    expect(await inflight).toBe(200);
    await closing;
    await expect(request(port, 'GET', '/healthz')).rejects.toThrow();
    await server.close(); // idempotent
  });

  it('`permify serve` starts from env config, prints the redacted config, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
      cwd: process.cwd(),
      env: {
        ...process.env,
        PERMIFY_HTTP_PORT: '0',
        PERMIFY_GRPC_PORT: '0',
        PERMIFY_AUTHN_ENABLED: 'true',
        PERMIFY_AUTHN_METHOD: 'preshared',
        PERMIFY_AUTHN_PRESHARED_KEYS: 'verysecretkey',
        PERMIFY_LOG_OUTPUT: 'json',
        PERMIFY_LOG_LEVEL: 'debug',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const deadline = Date.now() + 30_000;
    while (!out.includes('permify-ts serving') && Date.now() < deadline && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(out).toContain('permify-ts serving');
    expect(out).toContain('effective configuration');
    expect(out).not.toContain('verysecretkey');
    expect(out).toContain('v***********y');
    const port = Number(/"httpPort":(\d+)/.exec(out)?.[1]);
    const res = await request(port, 'POST', '/v1/tenants/list', {}, { authorization: 'Bearer verysecretkey' });
    expect(res.status).toBe(200);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 40_000);

  it('`permify serve` exits non-zero naming the key on bad configuration', () => {
    let stderr = '';
    try {
      execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--http-port', 'x'], { stdio: 'pipe', timeout: 30_000 });
    } catch (e) {
      stderr = String((e as { stderr?: Buffer }).stderr);
    }
    expect(stderr).toMatch(/server\.http\.port/);
  }, 40_000);
});

/** grpc.health.v1.Health/Check over a raw channel: 1 SERVING, 2 NOT_SERVING. */
function healthCheck(port: number): Promise<number> {
  const ch = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise<number>((resolve, reject) => {
    ch.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.alloc(0),
      (err, res) => {
        ch.close();
        if (err) reject(err);
        else resolve(res === undefined || res.length === 0 ? 0 : (res[1] as number));
      },
    );
  });
}

async function waitFor(predicate: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The memory store with a switchable readiness answer and calls that can be made to block. */
function faultyStore(): {
  store: Store;
  /** Ids passed to createTenant (whether or not it finished). */
  created: string[];
  setReady(up: boolean): void;
  /** listTenants waits (ignoring cancellation) until the returned release is called. */
  blockCalls(): () => void;
  blockClose(): void;
} {
  const real = createMemoryStore();
  let up = true;
  let gate: Promise<void> | undefined;
  let blockClose = false;
  const forever = new Promise<never>(() => undefined);
  const created: string[] = [];
  // Spread: the wrappers change only what the faults need and forward the rest of the contract.
  const tenants: TenantStore = {
    ...real.tenants,
    createTenant: (id, name, signal) => {
      created.push(id);
      return real.tenants.createTenant(id, name, signal);
    },
    // A store call stuck on something that ignores cancellation (a lock, a dead peer).
    listTenants: async (page, signal) => {
      await gate;
      return real.tenants.listTenants(page, signal);
    },
  };
  const store: Store = {
    ...real,
    tenants,
    isReady: async () => up,
    close: () => (blockClose ? forever : real.close()),
  };
  return {
    store,
    created,
    setReady: (v) => (up = v),
    blockCalls: () => {
      let release: () => void = () => undefined;
      gate = new Promise<void>((r) => (release = r));
      return release;
    },
    blockClose: () => (blockClose = true),
  };
}

describe('health follows the store', () => {
  it('/healthz and grpc.health.v1 (Check and Watch) turn NOT_SERVING while the store is not ready, and back', async () => {
    const f = faultyStore();
    const server = await startTestServer(
      {
        'server.readiness.interval': '20ms',
        'server.readiness.failure_threshold': 2,
        'server.readiness.success_threshold': 2,
      },
      { store: f.store },
    );
    const ch = new grpc.Client(`127.0.0.1:${server.ports.grpc}`, grpc.credentials.createInsecure());
    try {
      const http = server.ports.http as number;
      expect((await request(http, 'GET', '/healthz')).status).toBe(200);
      expect(await healthCheck(server.ports.grpc)).toBe(1);
      const watched: number[] = [];
      const watch = ch.makeServerStreamRequest('/grpc.health.v1.Health/Watch', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0));
      watch.on('data', (b: Buffer) => watched.push(b.length === 0 ? 0 : (b[1] as number)));
      watch.on('error', () => undefined);

      f.setReady(false);
      await waitFor(async () => (await request(http, 'GET', '/healthz')).status === 503, 3_000);
      expect(await healthCheck(server.ports.grpc)).toBe(2);
      f.setReady(true);
      await waitFor(async () => (await request(http, 'GET', '/healthz')).status === 200, 3_000);
      expect(await healthCheck(server.ports.grpc)).toBe(1);
      await waitFor(async () => watched.length >= 3, 1_000);
      expect(watched).toEqual([1, 2, 1]);
      watch.cancel();
    } finally {
      ch.close();
      await server.close();
    }
  });
});

describe('shutdown', () => {
  it('close() finishes within shutdown_timeout even when a store call and the store close block forever', async () => {
    const f = faultyStore();
    const server = await startTestServer({ 'server.shutdown_timeout': '500ms' }, { store: f.store });
    const ch = new grpc.Client(`127.0.0.1:${server.ports.grpc}`, grpc.credentials.createInsecure());
    f.blockCalls();
    f.blockClose();
    const grpcCall = new Promise<grpc.ServiceError | null>((resolve) =>
      ch.makeUnaryRequest('/base.v1.Tenancy/List', (b: Buffer) => b, (b: Buffer) => b, Buffer.from([0x08, 0x01]), (err) => resolve(err)),
    );
    const restCall = request(server.ports.http as number, 'POST', '/v1/tenants/list', { page_size: 1 }).then(
      (r) => r.status,
      () => 'dropped',
    );
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await server.close();
    const took = Date.now() - started;
    // 500 ms for in-flight calls, the store's 250 ms slack, and some room for a busy machine.
    expect(took).toBeLessThan(1_500);
    expect(took).toBeGreaterThanOrEqual(450);
    expect((await grpcCall)?.code).toBeDefined();
    expect(await restCall).toBe('dropped');
    ch.close();
  });

  it('an idle keep-alive connection is closed gracefully: a request crossing the close is not run and not reset', async () => {
    const f = faultyStore();
    const server = await startTestServer({ 'server.shutdown_timeout': '1s' }, { store: f.store });
    const port = server.ports.http as number;
    // One request answered on a raw keep-alive connection, which then sits idle.
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (c: Buffer) => (received += c.toString()));
    const events: string[] = [];
    socket.on('error', (e: NodeJS.ErrnoException) => events.push(`error ${e.code}`));
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('end', () => {
      events.push('end');
      // Linger like a client that is still busy writing: a reset would surface now.
      setTimeout(() => socket.end(), 100);
    });
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(async () => received.includes('SERVING'), 2_000);
    // A second, in-flight request on another connection keeps the server draining.
    f.blockCalls();
    const slow = request(port, 'POST', '/v1/tenants/list', { page_size: 1 }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
    const body = '{"id":"crossing","name":"c"}';
    // A write sent on the idle connection just as the server starts draining: its bytes are on the server's
    // socket, not yet read, when close() runs (same event loop), which is where destroying the socket resets it.
    socket.write(`POST /v1/tenants/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    const closing = server.close();
    await ended;
    expect(events).toEqual(['end']);
    expect(received.match(/HTTP\/1\.1/g)).toHaveLength(1);
    await closing;
    await slow;
    expect(f.created).toEqual([]);
  });
});

describe('draining', () => {
  it('a request pipelined behind an in-flight one is not run: the in-flight one is answered with Connection: close', async () => {
    const f = faultyStore();
    const server = await startTestServer({ 'server.shutdown_timeout': '2s' }, { store: f.store });
    const release = f.blockCalls();
    const socket = net.connect(server.ports.http as number, '127.0.0.1');
    let received = '';
    socket.on('data', (c: Buffer) => (received += c.toString()));
    const errors: string[] = [];
    socket.on('error', (e: NodeJS.ErrnoException) => errors.push(String(e.code)));
    const ended = new Promise<void>((resolve) => socket.on('end', () => resolve()));
    const list = '{"page_size":1}';
    const create = '{"id":"pipelined","name":"p"}';
    const post = (path: string, body: string): string =>
      `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    socket.write(post('/v1/tenants/list', list));
    await new Promise((r) => setTimeout(r, 100));
    const closing = server.close();
    // Pipelined by a client that has not seen the close: the server must not run what it will not answer.
    socket.write(post('/v1/tenants/create', create));
    await new Promise((r) => setTimeout(r, 100));
    release();
    await ended;
    socket.end();
    await closing;
    expect(errors).toEqual([]);
    expect(received.match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 200']);
    expect(received).toMatch(/\r\nConnection: close\r\n/i);
    expect(f.created).toEqual([]);
  });
});

describe('listeners', () => {
  it('binds the gRPC listener to server.host like the HTTP one', async () => {
    const server = await startTestServer({ 'server.host': '127.0.0.1' });
    const reach = (host: string, port: number): Promise<boolean> =>
      new Promise((resolve) => {
        const s = net.connect(port, host);
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      });
    try {
      // All of 127.0.0.0/8 is local on Linux: 127.0.0.2 reaches a listener bound to 0.0.0.0, not one on 127.0.0.1.
      expect(await reach('127.0.0.1', server.ports.grpc)).toBe(true);
      expect(await reach('127.0.0.2', server.ports.grpc)).toBe(false);
      expect(await reach('127.0.0.2', server.ports.http as number)).toBe(false);
    } finally {
      await server.close();
    }
  });

  it('with authentication on, reflection and /metrics on the HTTP port need a token', async () => {
    const server = await startTestServer({ 'authn.enabled': true, 'authn.method': 'preshared', 'authn.preshared.keys': 'k3y' });
    const ch = new grpc.Client(`127.0.0.1:${server.ports.grpc}`, grpc.credentials.createInsecure());
    const reflect = (metadata: grpc.Metadata): Promise<{ code?: number; responses: number }> =>
      new Promise((resolve) => {
        const call = ch.makeBidiStreamRequest('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo', (b: Buffer) => b, (b: Buffer) => b, metadata);
        let responses = 0;
        call.on('data', () => (responses += 1));
        call.on('error', (e: grpc.ServiceError) => resolve({ code: e.code, responses }));
        call.on('end', () => resolve({ responses }));
        call.write(Buffer.from([0x3a, 0x00])); // list_services = ""
        call.end();
      });
    try {
      const http = server.ports.http as number;
      const denied = await reflect(new grpc.Metadata());
      expect(denied).toEqual({ code: grpc.status.UNAUTHENTICATED, responses: 0 });
      const md = new grpc.Metadata();
      md.set('authorization', 'Bearer k3y');
      expect(await reflect(md)).toEqual({ responses: 1 });
      expect((await request(http, 'GET', '/metrics')).status).toBe(401);
      const ok = await request(http, 'GET', '/metrics', undefined, { authorization: 'Bearer k3y' });
      expect(ok.status).toBe(200);
      expect(ok.text).toContain('permify_requests_total');
      expect(server.ports.metrics).toBeUndefined();
    } finally {
      ch.close();
      await server.close();
    }
  });

  it('server.metrics.address serves /metrics on a separate listener without a token; server.metrics.enabled=false serves none', async () => {
    const server = await startTestServer({
      'authn.enabled': true,
      'authn.method': 'preshared',
      'authn.preshared.keys': 'k3y',
      'server.metrics.address': '127.0.0.1:0',
    });
    try {
      const own = server.ports.metrics as number;
      expect(own).toBeGreaterThan(0);
      const open = await request(own, 'GET', '/metrics');
      expect(open.status).toBe(200);
      expect(open.text).toContain('permify_rate_limited_total');
      expect((await request(own, 'GET', '/v1/tenants/list')).status).toBe(404);
      // Not on the API port any more, with or without a token.
      expect((await request(server.ports.http as number, 'GET', '/metrics', undefined, { authorization: 'Bearer k3y' })).status).toBe(404);
    } finally {
      await server.close();
    }
    const off = await startTestServer({ 'server.metrics.enabled': false });
    try {
      expect((await request(off.ports.http as number, 'GET', '/metrics')).status).toBe(404);
    } finally {
      await off.close();
    }
  });

  it('refuses a malformed server.metrics.address naming the key', async () => {
    await expect(startTestServer({ 'server.metrics.address': 'nope' })).rejects.toThrow(/server\.metrics\.address/);
  });
});
