/**
 * REST surface audit against api-and-operations §1.3-§1.6 and §4: routing corners (request-target forms,
 * malformed path escapes, wrong methods on /healthz), JSON input rules (numeric strings, snake_case only
 * for fields with an explicit JSON name, null members) and the NDJSON stream when it fails mid-way.
 * The real server runs on port 0 with the memory store.
 */
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import type { Store } from '../../src/storage/contract.js';
import { createMemoryStore } from '../../src/storage/memory/index.js';
import { request, startTestServer } from '../e2e/rest-support.js';

const SCHEMA = `
entity user {}
entity doc {
  relation owner @user
  attribute level integer
  permission view = owner or high(level)
}
rule high(level integer) {
  level > 10 && context.data.flag == 1
}
`;

let server: RunningServer;
let port: number;

const md = { depth: 20 };
const check = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  metadata: md,
  entity: { type: 'doc', id: 'a' },
  permission: 'view',
  subject: { type: 'user', id: 'u1' },
  ...extra,
});

/** Sends raw bytes and returns the status line and the body (de-chunked when chunked). */
function rawHttp(text: string | Buffer): Promise<{ statusLine: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const all = Buffer.concat(chunks).toString('utf8');
      const split = all.indexOf('\r\n\r\n');
      const head = all.slice(0, split);
      let body = all.slice(split + 4);
      if (/transfer-encoding: chunked/i.test(head)) {
        let out = '';
        for (;;) {
          const nl = body.indexOf('\r\n');
          const size = parseInt(body.slice(0, nl), 16);
          if (!size) break;
          out += body.slice(nl + 2, nl + 2 + size);
          body = body.slice(nl + 2 + size + 2);
        }
        body = out;
      }
      resolve({ statusLine: head.split('\r\n')[0] as string, body });
    });
  });
}

beforeAll(async () => {
  server = await startTestServer();
  port = server.ports.http as number;
  const w = await request(port, 'POST', '/v1/tenants/t1/schemas/write', { schema: SCHEMA });
  expect(w.status, w.text).toBe(200);
  const level = (n: number) => ({ '@type': 'type.googleapis.com/base.v1.IntegerValue', data: n });
  const d = await request(port, 'POST', '/v1/tenants/t1/data/write', {
    metadata: {},
    tuples: ['a', 'b'].map((id) => ({ entity: { type: 'doc', id }, relation: 'owner', subject: { type: 'user', id: 'u1' } })),
    attributes: [
      { entity: { type: 'doc', id: 'y' }, attribute: 'level', value: level(1) },
      { entity: { type: 'doc', id: 'z' }, attribute: 'level', value: level(20) },
    ],
  });
  expect(d.status, d.text).toBe(200);
});

afterAll(async () => {
  await server.close();
});

describe('routing corners', () => {
  it('/healthz with another method is a known path: 501 Method Not Allowed, not 404', async () => {
    const post = await request(port, 'POST', '/healthz', {});
    expect([post.status, post.json]).toEqual([501, { code: 12, message: 'Method Not Allowed', details: [] }]);
    const del = await request(port, 'DELETE', '/healthz');
    expect(del.status).toBe(501);
    const head = await request(port, 'HEAD', '/healthz');
    expect(head.status).toBe(501);
  });

  it('a path parameter with a malformed percent escape is 400 INVALID_ARGUMENT, not 404', async () => {
    for (const bad of ['%ZZ', '%E0%A4%A', '%E0%A4', 'a%']) {
      const res = await request(port, 'POST', `/v1/tenants/${bad}/permissions/check`, check());
      expect(res.status, bad).toBe(400);
      expect((res.json as { code: number }).code, bad).toBe(3);
    }
    const del = await request(port, 'DELETE', '/v1/tenants/%ZZ');
    expect(del.status).toBe(400);
    // The wrong method still wins over the bad escape (known path).
    const wrong = await request(port, 'GET', '/v1/tenants/%ZZ/permissions/check');
    expect(wrong.status).toBe(501);
  });

  it('routes absolute-form request targets by their path', async () => {
    const health = await rawHttp(`GET http://127.0.0.1:${port}/healthz?service= HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(health.statusLine).toBe('HTTP/1.1 200 OK');
    expect(health.body).toBe('{"status":"SERVING"}\n');
    const list = await rawHttp(
      `POST http://localhost/v1/tenants/list HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{"page_size":5}`,
    );
    expect(list.statusLine).toBe('HTTP/1.1 200 OK');
    expect(JSON.parse(list.body)).toHaveProperty('tenants');
    const noPath = await rawHttp(`GET http://localhost HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(noPath.statusLine).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(noPath.body)).toEqual({ code: 3, message: 'Bad Request', details: [] });
  });

  it('answers OPTIONS * with 200 and no body', async () => {
    const res = await rawHttp('OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(res.statusLine).toBe('HTTP/1.1 200 OK');
    expect(res.body).toBe('');
    // Even when it looks like a preflight (the CORS layer never sees it).
    const pre = await rawHttp(
      'OPTIONS * HTTP/1.1\r\nHost: x\r\nOrigin: https://a.example\r\nAccess-Control-Request-Method: POST\r\nConnection: close\r\n\r\n',
    );
    expect(pre.statusLine).toBe('HTTP/1.1 200 OK');
    // Another method with the * target is not a path: 400.
    const get = await rawHttp('GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(get.statusLine).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('a trailing slash or a doubled slash is an unknown path', async () => {
    expect((await request(port, 'POST', '/v1/tenants/t1/permissions/check/', check())).status).toBe(404);
    expect((await request(port, 'GET', '//healthz')).status).toBe(404);
  });
});

describe('JSON input rules', () => {
  it('32-bit integers accept numbers and numeric strings; fractions, overflow and negatives are 400', async () => {
    expect((await request(port, 'POST', '/v1/tenants/t1/permissions/check', check({ metadata: { depth: '20' } }))).status).toBe(200);
    for (const depth of [20.5, 1e20, 'abc', ' 20']) {
      const res = await request(port, 'POST', '/v1/tenants/t1/permissions/check', check({ metadata: { depth } }));
      expect(res.status, String(depth)).toBe(400);
      expect((res.json as { code: number }).code).toBe(3);
    }
    const lookup = (page_size: unknown) =>
      request(port, 'POST', '/v1/tenants/t1/permissions/lookup-entity', {
        metadata: md,
        entity_type: 'doc',
        permission: 'owner',
        subject: { type: 'user', id: 'u1' },
        page_size,
      });
    const one = await lookup('1');
    expect(one.status).toBe(200);
    expect((one.json as { entity_ids: string[] }).entity_ids).toEqual(['a']);
    expect((await lookup(-1)).status).toBe(400);
    expect((await lookup(4294967296)).status).toBe(400);
  });

  it('camelCase keys of fields with an explicit snake_case JSON name are dropped; others accept both', async () => {
    // `snapToken` is unknown (ignored), so the garbage token is never parsed.
    const res = await request(port, 'POST', '/v1/tenants/t1/permissions/check', check({ metadata: { depth: 20, snapToken: '!!' } }));
    expect(res.status, res.text).toBe(200);
    const bad = await request(port, 'POST', '/v1/tenants/t1/permissions/check', check({ metadata: { depth: 20, snap_token: '!!' } }));
    expect(bad.status).toBe(400);
    // Argument.computed_attribute has no explicit JSON name: `computedAttribute` is recognised (and validated).
    const arg = await request(port, 'POST', '/v1/tenants/t1/permissions/check', check({ arguments: [{ computedAttribute: { name: '1' } }] }));
    expect(arg.status).toBe(400);
    expect((arg.json as { message: string }).message).toContain('invalid ComputedAttribute.Name');
  });

  it('null members are unset fields; required ones then fail validation with 400', async () => {
    const ok = await request(port, 'POST', '/v1/tenants/t1/permissions/check', check({ context: null, arguments: null }));
    expect(ok.status).toBe(200);
    const missing = await request(port, 'POST', '/v1/tenants/t1/permissions/check', check({ entity: null }));
    expect([missing.status, (missing.json as { message: string }).message]).toEqual([400, 'invalid PermissionCheckRequest.Entity: value is required']);
    const nullItem = await request(port, 'POST', '/v1/tenants/t1/data/write', { metadata: {}, tuples: [null] });
    expect(nullItem.status).toBe(400);
  });

  it('a tenant_id in the body is ignored in favour of the path', async () => {
    const res = await request(port, 'POST', '/v1/tenants/t1/permissions/check', { ...check(), tenant_id: '!!' });
    expect(res.status, res.text).toBe(200);
  });

  it('Any values need a known @type (400 otherwise) and keep it on output', async () => {
    const unknown = await request(
      port,
      'POST',
      '/v1/tenants/t1/permissions/check',
      check({ context: { attributes: [{ entity: { type: 'doc', id: 'a' }, attribute: 'level', value: { '@type': 'type.googleapis.com/base.v1.Nope', data: 1 } }] } }),
    );
    expect(unknown.status).toBe(400);
    const read = await request(port, 'POST', '/v1/tenants/t1/data/attributes/read', { metadata: {}, filter: { entity: { type: 'doc', ids: ['z'] } } });
    expect(read.json).toEqual({
      attributes: [{ entity: { type: 'doc', id: 'z' }, attribute: 'level', value: { '@type': 'type.googleapis.com/base.v1.IntegerValue', data: 20 } }],
      continuous_token: '',
    });
  });

  it('Any values are written with @type first, as Go protojson does (attribute reads, expand leaves)', async () => {
    const read = await request(port, 'POST', '/v1/tenants/t1/data/attributes/read', { metadata: {}, filter: { entity: { type: 'doc', ids: ['z'] } } });
    expect(read.text).toContain('"value":{"@type":"type.googleapis.com/base.v1.IntegerValue","data":20}');
    const attr = await request(port, 'POST', '/v1/tenants/t1/permissions/expand', { metadata: {}, entity: { type: 'doc', id: 'z' }, permission: 'level' });
    expect(attr.text).toContain('"leaf":{"value":{"@type":"type.googleapis.com/base.v1.IntegerValue","data":20}}');
    const rule = await request(port, 'POST', '/v1/tenants/t1/permissions/expand', { metadata: {}, entity: { type: 'doc', id: 'z' }, permission: 'view' });
    expect(rule.text).toContain('"values":{"values":{"level":{"@type":"type.googleapis.com/base.v1.IntegerValue","data":20}}}');
  });
});

describe('LookupEntityStream over REST', () => {
  it('a failure after some results keeps 200 and ends with an error line', async () => {
    // a and b are owned; y has a low level (false without touching context); z needs context.data.flag.
    const res = await request(port, 'POST', '/v1/tenants/t1/permissions/lookup-entity-stream', {
      metadata: md,
      entity_type: 'doc',
      permission: 'view',
      subject: { type: 'user', id: 'u1' },
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.text.endsWith('\n')).toBe(true);
    const lines = res.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const last = lines.pop() as { error?: { code: number; message: string; details: unknown[] } };
    // A rule evaluation error (context.data.flag missing): INVALID_ARGUMENT naming the rule (Permify: INTERNAL).
    expect(last.error?.code).toBe(3);
    expect(last.error?.message).toMatch(/^bulk execution failed: failed to get request result: no such key: flag/i);
    expect(last.error?.details).toMatchObject([{ reason: 'ERROR_CODE_INVALID_ARGUMENT', metadata: { rule: 'high' } }]);
    expect(lines.map((l) => (l as { result: { entity_id: string } }).result.entity_id)).toEqual(['a', 'b']);
    for (const l of lines) expect(Object.keys(l)).toEqual(['result']);
  });

  it('with the context it needs, streams every allowed entity and nothing else', async () => {
    const res = await request(port, 'POST', '/v1/tenants/t1/permissions/lookup-entity-stream', {
      metadata: md,
      entity_type: 'doc',
      permission: 'view',
      subject: { type: 'user', id: 'u1' },
      context: { data: { flag: 1 } },
    });
    expect(res.status).toBe(200);
    const ids = res.text
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { result: { entity_id: string; continuous_token: string } }).result);
    expect(ids.map((r) => r.entity_id)).toEqual(['a', 'b', 'z']);
    expect(ids.at(-1)?.continuous_token).toBe('');
  });
});

describe('CORS corners', () => {
  it('every response varies on Origin, also without an Origin header; no Allow-* headers then', async () => {
    const plain = await request(port, 'POST', '/v1/tenants/list', { page_size: 1 });
    expect(plain.status).toBe(200);
    expect(plain.headers['vary']).toBe('Origin');
    expect(plain.headers['access-control-allow-origin']).toBeUndefined();
    const err = await request(port, 'POST', '/v1/nothing', {});
    expect(err.headers['vary']).toBe('Origin');
  });

  it('a preflight without Origin is still answered 204 by the CORS layer, without Allow-* headers', async () => {
    const res = await request(port, 'OPTIONS', '/v1/tenants/t1/permissions/check', undefined, { 'access-control-request-method': 'POST' });
    expect(res.status).toBe(204);
    expect(res.headers['vary']).toBe('Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(res.headers['access-control-allow-methods']).toBeUndefined();
  });

  it('OPTIONS with an Origin but no requested method is not a preflight: the API answers 501', async () => {
    const res = await request(port, 'OPTIONS', '/v1/tenants/t1/permissions/check', undefined, { origin: 'https://app.example' });
    expect(res.status).toBe(501);
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example');
  });
});

describe('Grpc-Timeout request header (grpc-gateway deadline)', () => {
  it('an expired deadline answers 504 / DEADLINE_EXCEEDED, a malformed one 400, a generous one is harmless', async () => {
    const expired = await request(port, 'POST', '/v1/tenants/t1/permissions/check', check(), { 'grpc-timeout': '1n' });
    expect(expired.status, expired.text).toBe(504);
    expect((expired.json as { code: number }).code).toBe(4);
    for (const bad of ['abc', '10', '5x', '-1S']) {
      const res = await request(port, 'POST', '/v1/tenants/t1/permissions/check', check(), { 'grpc-timeout': bad });
      expect([res.status, res.json], bad).toEqual([400, { code: 3, message: `invalid grpc-timeout: ${bad}`, details: [] }]);
    }
    for (const fine of ['30S', '99999999H', '5000m']) {
      const res = await request(port, 'POST', '/v1/tenants/t1/permissions/check', check(), { 'grpc-timeout': fine });
      expect(res.status, fine).toBe(200);
    }
    const stream = await request(
      port,
      'POST',
      '/v1/tenants/t1/permissions/lookup-entity-stream',
      { metadata: md, entity_type: 'doc', permission: 'owner', subject: { type: 'user', id: 'u1' } },
      { 'grpc-timeout': '1n' },
    );
    expect(stream.status).toBe(504);
    expect((JSON.parse(stream.text) as { error: { code: number } }).error.code).toBe(4);
  });
});

describe('Grpc-Timeout on a call that outlives it', () => {
  it('answers 504 when the deadline passes, without waiting for the handler', async () => {
    const real = createMemoryStore();
    let release: (() => void) | undefined;
    const slow: Store = {
      ...real,
      tenants: {
        ...real.tenants,
        listTenants: async (page, signal) => {
          await new Promise<void>((r) => (release = r));
          return real.tenants.listTenants(page, signal);
        },
      },
    };
    const s = await startTestServer({}, { store: slow });
    try {
      const started = Date.now();
      const res = await request(s.ports.http as number, 'POST', '/v1/tenants/list', { page_size: 1 }, { 'grpc-timeout': '100m' });
      expect(res.status, res.text).toBe(504);
      expect((res.json as { code: number }).code).toBe(4);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      release?.();
      await s.close();
    }
  });
});

describe('LookupEntityStream admission failures', () => {
  it('an authentication failure answers the HTTP status with the {"error": ...} line, like any stream failure', async () => {
    const s = await startTestServer({ 'authn.enabled': 'true', 'authn.method': 'preshared', 'authn.preshared.keys': 'k1' });
    try {
      const p = s.ports.http as number;
      const body = { metadata: md, entity_type: 'doc', permission: 'owner', subject: { type: 'user', id: 'u1' } };
      const denied = await request(p, 'POST', '/v1/tenants/t1/permissions/lookup-entity-stream', body);
      expect(denied.status).toBe(401);
      expect(denied.text.endsWith('\n')).toBe(true);
      const line = JSON.parse(denied.text) as { error?: { code: number; message: string; details: unknown[] } };
      expect(line.error).toEqual({ code: 16, message: 'ERROR_CODE_MISSING_BEARER_TOKEN', details: [] });
      // A malformed body is still rejected by the gateway itself, before the call: plain error body.
      const malformed = await request(p, 'POST', '/v1/tenants/t1/permissions/lookup-entity-stream', '{bad');
      expect(malformed.status).toBe(400);
      expect((malformed.json as { code: number }).code).toBe(3);
      const ok = await request(p, 'POST', '/v1/tenants/t1/permissions/lookup-entity-stream', body, { authorization: 'Bearer k1' });
      expect(ok.status).toBe(404); // no schema on this fresh server: still the stream error shape
      expect((JSON.parse(ok.text) as { error: { code: number } }).error.code).toBe(5);
    } finally {
      await s.close();
    }
  });

  it('a rate-limited stream answers 429 with the {"error": ...} line', async () => {
    const s = await startTestServer({ 'server.rate_limit': '1', 'server.rate_limit_burst': '1' });
    try {
      const p = s.ports.http as number;
      const body = { metadata: md, entity_type: 'doc', permission: 'owner', subject: { type: 'user', id: 'u1' } };
      let limited: { status: number; text: string } | undefined;
      for (let i = 0; i < 5 && !limited; i++) {
        const r = await request(p, 'POST', '/v1/tenants/t1/permissions/lookup-entity-stream', body);
        if (r.status === 429) limited = r;
      }
      expect(limited).toBeDefined();
      expect((JSON.parse(limited?.text ?? '') as { error: { code: number } }).error.code).toBe(8);
    } finally {
      await s.close();
    }
  });
});

describe('configured CORS origins', () => {
  it('match case-insensitively and with one * wildcard per entry', async () => {
    const s = await startTestServer({ 'server.http.cors_allowed_origins': 'https://*.example.com,https://Exact.Org' });
    try {
      const p = s.ports.http as number;
      const allowOrigin = async (origin: string): Promise<unknown> =>
        (await request(p, 'GET', '/healthz', undefined, { origin })).headers['access-control-allow-origin'];
      expect(await allowOrigin('https://app.example.com')).toBe('https://app.example.com');
      expect(await allowOrigin('https://a.b.example.com')).toBe('https://a.b.example.com');
      expect(await allowOrigin('https://exact.org')).toBe('https://exact.org');
      expect(await allowOrigin('HTTPS://EXACT.ORG')).toBe('HTTPS://EXACT.ORG');
      expect(await allowOrigin('https://example.com')).toBeUndefined();
      expect(await allowOrigin('https://evil.com')).toBeUndefined();
      expect(await allowOrigin('http://app.example.com')).toBeUndefined();
      const pre = await request(p, 'OPTIONS', '/v1/tenants/list', undefined, {
        origin: 'https://x.example.com',
        'access-control-request-method': 'POST',
      });
      expect([pre.status, pre.headers['access-control-allow-origin']]).toEqual([204, 'https://x.example.com']);
    } finally {
      await s.close();
    }
  });
});

describe('configured CORS request headers', () => {
  it('are compared case-insensitively, Origin is always allowed, anything else unlisted fails the preflight', async () => {
    const s = await startTestServer({ 'server.http.cors_allowed_headers': 'Authorization,content-type' });
    try {
      const p = s.ports.http as number;
      const preflight = (headers: string) =>
        request(p, 'OPTIONS', '/v1/tenants/list', undefined, {
          origin: 'https://app.example',
          'access-control-request-method': 'POST',
          'access-control-request-headers': headers,
        });
      const ok = await preflight('authorization, Content-Type, origin');
      expect([ok.status, ok.headers['access-control-allow-origin']]).toEqual([204, 'https://app.example']);
      const bad = await preflight('authorization, x-custom');
      expect([bad.status, bad.headers['access-control-allow-origin']]).toEqual([204, undefined]);
    } finally {
      await s.close();
    }
  });
});

describe('a client that goes away mid-body', () => {
  it('is counted as a cancellation (499), not as an internal failure (500)', async () => {
    const s = await startTestServer();
    try {
      const p = s.ports.http as number;
      for (let i = 0; i < 3; i++) {
        await new Promise<void>((resolve) => {
          const socket = net.connect(p, '127.0.0.1', () => {
            socket.write('POST /v1/tenants/list HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"page_');
            setTimeout(() => {
              socket.destroy();
              resolve();
            }, 10);
          });
        });
      }
      let text = '';
      for (let i = 0; i < 50 && !text.includes('code="499"} 3'); i++) {
        await new Promise((r) => setTimeout(r, 20));
        text = await s.metrics.render();
      }
      expect(text).toContain('permify_requests_total{transport="rest",rpc="base.v1.Tenancy/List",code="499"} 3');
      expect(text).not.toContain('rpc="base.v1.Tenancy/List",code="500"');
      expect((await request(p, 'POST', '/v1/tenants/list', { page_size: 1 })).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});

describe('quoted numbers', () => {
  it('must be JSON number text inside the quotes (as Go protojson), in requests, lists and Any payloads', async () => {
    for (const depth of ['0x14', '+20', '020', '20.', ' 20', '0b1']) {
      const res = await request(port, 'POST', '/v1/tenants/t1/permissions/check', check({ metadata: { depth } }));
      expect([res.status, (res.json as { code: number }).code], depth).toEqual([400, 3]);
    }
    for (const depth of ['20', '2e1', '20.0', 20]) {
      const res = await request(port, 'POST', '/v1/tenants/t1/permissions/check', check({ metadata: { depth } }));
      expect(res.status, String(depth)).toBe(200);
    }
    const attr = (data: unknown) =>
      request(port, 'POST', '/v1/tenants/t1/permissions/check', check({
        context: { attributes: [{ entity: { type: 'doc', id: 'q' }, attribute: 'level', value: { '@type': 'type.googleapis.com/base.v1.IntegerValue', data } }] },
      }));
    expect((await attr('0x14')).status).toBe(400);
    expect((await attr('11')).status).toBe(200);
    // An entity id that merely looks like hex is a string field: untouched.
    expect((await request(port, 'POST', '/v1/tenants/t1/permissions/check', check({ entity: { type: 'doc', id: '0x14' } }))).status).toBe(200);
  });
});

describe('request body encoding', () => {
  it('a body that is not UTF-8 is 400, not silently repaired', async () => {
    const bytes = Buffer.concat([Buffer.from('{"schema":"entity user {} // caf'), Buffer.from([0xe9]), Buffer.from('"}')]);
    const head = `POST /v1/tenants/t1/schemas/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`;
    const res = await rawHttp(Buffer.concat([Buffer.from(head), bytes]));
    expect(res.statusLine).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(res.body)).toEqual({ code: 3, message: 'invalid JSON body: invalid UTF-8', details: [] });
    const ok = await request(port, 'POST', '/v1/tenants/t1/schemas/read', { metadata: {} });
    expect(ok.status).toBe(200);
  });
});
