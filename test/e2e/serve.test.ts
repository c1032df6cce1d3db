/**
 * `permify serve` as a process (env config, SIGTERM shutdown), TLS on both listeners with a self-signed
 * certificate made by openssl, and graceful close with requests in flight.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
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
  it('reminds at error level when account_id is empty and warns about accepted-but-inert exporters', async () => {
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
    const lines = await logsOf({ 'tracer.enabled': true });
    expect(lines.some((l) => l.level === 'error' && l.msg.includes('account_id is not set'))).toBe(true);
    expect(lines.some((l) => l.level === 'warn' && l.key === 'tracer.enabled')).toBe(true);
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
