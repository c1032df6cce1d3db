/**
 * The playground's static route on the HTTP port: what it serves, how it refuses paths outside the build,
 * that it needs no token while the API still does, and that `server.http.playground: false` turns it off.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPlaygroundRoute } from '../../src/api/rest/static.js';
import type { RunningServer } from '../../src/server.js';
import { request } from '../e2e/rest-support.js';
import { ensurePlaygroundBuilt, startPlaygroundServer } from './support.js';

/** Raw GET without the JSON helper's content-type (what a browser sends). */
function get(
  port: number,
  target: string,
  method = 'GET',
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: target }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('playground route (fixture build directory)', () => {
  let dir: string;
  let server: http.Server;
  let port: number;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'playground-'));
    mkdirSync(path.join(dir, 'assets'));
    writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>pg</title>');
    writeFileSync(path.join(dir, 'assets', 'app-abc123.js'), 'console.log(1)');
    writeFileSync(path.join(dir, '.secret'), 'hidden');
    writeFileSync(path.join(path.dirname(dir), 'outside.txt'), 'outside');
    const route = createPlaygroundRoute({ dir });
    server = http.createServer((req, res) => {
      void route(req, res, (req.url ?? '/').split('?')[0] as string).then((handled) => {
        if (!handled) {
          res.writeHead(418);
          res.end();
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves index.html at /playground/ with a CSP, and redirects /playground there', async () => {
    const r = await get(port, '/playground/');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['cache-control']).toBe('no-cache');
    expect(r.headers['content-security-policy']).toContain("connect-src 'self'");
    expect(r.body).toContain('<title>pg</title>');
    const redirect = await get(port, '/playground');
    expect(redirect.status).toBe(308);
    expect(redirect.headers.location).toBe('/playground/');
  });

  it('serves hashed assets as immutable with their content type; HEAD has no body', async () => {
    const r = await get(port, '/playground/assets/app-abc123.js');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(r.headers['cache-control']).toContain('immutable');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    const head = await get(port, '/playground/assets/app-abc123.js', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String('console.log(1)'.length));
    expect(head.body).toBe('');
  });

  it('answers app routes (no extension) with index.html and unknown files with 404', async () => {
    expect((await get(port, '/playground/some/route')).body).toContain('<title>pg</title>');
    expect((await get(port, '/playground/assets/missing.js')).status).toBe(404);
  });

  it('never serves a file outside the build or a dot file', async () => {
    for (const target of [
      '/playground/../outside.txt',
      '/playground/%2e%2e/outside.txt',
      '/playground/assets/%2e%2e/%2e%2e/outside.txt',
      '/playground/..%2foutside.txt',
      '/playground/.secret',
      '/playground/%2esecret',
      '/playground/a%5c..%5c..%5coutside.txt',
      '/playground/%zz',
    ]) {
      const r = await get(port, target);
      expect(r.status, target).toBe(404);
      expect(r.body, target).not.toContain('outside');
      expect(r.body, target).not.toContain('hidden');
    }
  });

  it('refuses other methods and leaves other paths alone', async () => {
    const post = await get(port, '/playground/', 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect((await get(port, '/playgroundx')).status).toBe(418);
    expect((await get(port, '/v1/tenants/list')).status).toBe(418);
  });

  it('says how to build when the build is missing', async () => {
    const route = createPlaygroundRoute({ dir: path.join(dir, 'nope') });
    const s = http.createServer((req, res) => void route(req, res, req.url ?? '/'));
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    try {
      const r = await get((s.address() as AddressInfo).port, '/playground/');
      expect(r.status).toBe(404);
      expect(r.body).toContain('npm run build');
    } finally {
      await new Promise((r) => s.close(r));
    }
  });
});

describe('playground on the real server', () => {
  let open: RunningServer;
  let authed: RunningServer;
  let off: RunningServer;
  beforeAll(async () => {
    await ensurePlaygroundBuilt();
    [open, authed, off] = await Promise.all([
      startPlaygroundServer(),
      startPlaygroundServer({
        'authn.enabled': 'true',
        'authn.method': 'preshared',
        'authn.preshared.keys': 'secret-key',
      }),
      startPlaygroundServer({ 'server.http.playground': 'false' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([open?.close(), authed?.close(), off?.close()]);
  });

  it('serves the built page and its assets by default', async () => {
    const page = await get(open.ports.http as number, '/playground/');
    expect(page.status).toBe(200);
    const asset = /src="(\/playground\/assets\/[^"]+\.js)"/.exec(page.body)?.[1];
    expect(asset).toBeDefined();
    const js = await get(open.ports.http as number, asset as string);
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toContain('javascript');
  });

  it('with authentication on, serves the page without a token while the API still requires one', async () => {
    const port = authed.ports.http as number;
    expect((await get(port, '/playground/')).status).toBe(200);
    const denied = await request(port, 'POST', '/v1/tenants/list', {});
    expect(denied.status).toBe(401);
    const allowed = await request(port, 'POST', '/v1/tenants/list', {}, { authorization: 'Bearer secret-key' });
    expect(allowed.status).toBe(200);
  });

  it('server.http.playground: false leaves /playground unknown (404 like any unknown path)', async () => {
    const r = await get(off.ports.http as number, '/playground/');
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body)).toEqual({ code: 5, message: 'Not Found', details: [] });
  });
});
