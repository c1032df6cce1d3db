/**
 * Negative and random-input tests on both transports: thousands of random and malformed requests must only
 * produce well-formed errors (never a 5xx, never INTERNAL/UNKNOWN), and the server must stay up. An injected
 * storage fault is the one allowed INTERNAL, and its cause never reaches the client. Seeds are fixed, so a failure
 * reproduces; test/e2e/bad-input-fuzz.test.ts adds structured hostile values and the event-loop stall check.
 */
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { services } from '../../src/api/handlers/types.js';
import type { Store } from '../../src/storage/contract.js';
import { createMemoryStore } from '../../src/storage/memory/index.js';
import type { RunningServer } from '../../src/server.js';
import { request, startTestServer } from './rest-support.js';

let server: RunningServer;
let routes: { method: string; path: string }[];

beforeAll(async () => {
  server = await startTestServer();
  const port = server.ports.http as number;
  await request(port, 'POST', '/v1/tenants/t1/schemas/write', {
    schema: 'entity user {}\nentity doc {\n relation owner @user\n attribute open boolean\n permission view = owner or open\n}',
  });
  routes = [];
  for (const s of Object.values(services)) {
    if (s.typeName === 'base.v1.Watch') continue;
    for (const m of s.methods) {
      const { getOption } = await import('@bufbuild/protobuf');
      const { http } = await import('../../src/api/gen/google/api/annotations_pb.js');
      const rule = getOption(m, http);
      if (rule.pattern.case && rule.pattern.case !== 'custom') {
        routes.push({ method: rule.pattern.case.toUpperCase(), path: rule.pattern.value.replace(/\{[a-z_]+\}/, 't1') });
      }
    }
  }
});
afterAll(async () => server.close());

function assertWellFormed(status: number, json: unknown, text: string, context: string): void {
  // A known path with the wrong method is 501 / UNIMPLEMENTED in Permify's gateway (§1.6).
  if (status === 501) expect(json).toEqual({ code: 12, message: 'Method Not Allowed', details: [] });
  else expect(status, `${context}: ${text}`).toBeLessThan(500);
  if (status === 200) return;
  if (typeof json === 'object' && json !== null && 'error' in json) json = (json as { error: unknown }).error;
  expect(json, `${context}: ${text}`).toMatchObject({ code: expect.any(Number), message: expect.any(String), details: expect.any(Array) });
  // details is empty or one google.rpc.ErrorInfo (what was not found, which field was invalid).
  for (const d of (json as { details: { '@type'?: string }[] }).details) expect(d['@type']).toBe('type.googleapis.com/google.rpc.ErrorInfo');
  const code = (json as { code: number }).code;
  expect([2, 13]).not.toContain(code);
}

const jsonValue = fc.jsonValue({ maxDepth: 4 });
/** Plausible request shapes with random leaves, so decoding gets past the first field more often. */
const plausible = fc.record(
  {
    metadata: fc.oneof(fc.record({ depth: fc.oneof(fc.integer({ min: -5, max: 200 }), fc.string()), snap_token: fc.string(), schema_version: fc.string() }), jsonValue),
    entity: fc.oneof(fc.record({ type: fc.constantFrom('doc', 'user', '', 'x y', 'ünï'), id: fc.string({ maxLength: 140 }) }), jsonValue),
    subject: fc.oneof(fc.record({ type: fc.constantFrom('user', 'doc', ''), id: fc.string(), relation: fc.string() }), jsonValue),
    permission: fc.oneof(fc.constantFrom('view', 'owner', 'nope', ''), fc.string()),
    entity_type: fc.constantFrom('doc', 'user', '??'),
    tuples: fc.array(jsonValue, { maxLength: 3 }),
    attributes: fc.array(jsonValue, { maxLength: 3 }),
    page_size: fc.oneof(fc.integer({ min: -3, max: 2000 }), fc.string()),
    continuous_token: fc.string(),
    items: fc.array(jsonValue, { maxLength: 3 }),
    schema: fc.string(),
    name: fc.string(),
    id: fc.string(),
    filter: jsonValue,
  },
  { requiredKeys: [] },
);

describe('REST fuzz', () => {
  it('random bodies on every route produce only well-formed non-5xx answers', async () => {
    const port = server.ports.http as number;
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.oneof(plausible, jsonValue, fc.string()), async (i, body) => {
        const r = routes[i % routes.length] as { method: string; path: string };
        const res = await request(port, r.method, r.path, typeof body === 'string' ? body : JSON.stringify(body));
        assertWellFormed(res.status, res.json, res.text, `${r.method} ${r.path}`);
      }),
      { numRuns: 1500, seed: 1_500 },
    );
  }, 120_000);

  it('random methods, paths and raw bytes never crash the gateway', async () => {
    const port = server.ports.http as number;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'),
        fc.oneof(fc.webPath(), fc.constantFrom('/v1/tenants//permissions/check', '/v1/tenants/%ZZ/schemas/read', '/v1/tenants/t1/permissions/check/extra')),
        fc.uint8Array({ maxLength: 256 }),
        async (method, path, bytes) => {
          const res = await request(port, method, path.startsWith('/') ? path : `/${path}`, Buffer.from(bytes).toString('latin1'));
          if (method === 'HEAD') {
            expect([200, 400, 404, 501]).toContain(res.status);
            return;
          }
          assertWellFormed(res.status, res.json, res.text, `${method} ${path}`);
        },
      ),
      { numRuns: 1000, seed: 1_000 },
    );
    expect((await request(port, 'GET', '/healthz')).status).toBe(200);
  }, 120_000);
});

describe('gRPC fuzz', () => {
  it('random bytes to every method answer a status other than INTERNAL/UNKNOWN, and the server stays up', async () => {
    const client = new grpc.Client(`127.0.0.1:${server.ports.grpc}`, grpc.credentials.createInsecure());
    const paths = Object.values(services).flatMap((s) => s.methods.filter((m) => m.methodKind === 'unary').map((m) => `/${s.typeName}/${m.name}`));
    try {
      await fc.assert(
        fc.asyncProperty(fc.nat(), fc.uint8Array({ maxLength: 128 }), async (i, bytes) => {
          const path = paths[i % paths.length] as string;
          const code = await new Promise<number>((resolve) => {
            client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, Buffer.from(bytes), new grpc.Metadata(), (err) => resolve(err ? err.code : 0));
          });
          expect([grpc.status.INTERNAL, grpc.status.UNKNOWN], `${path}`).not.toContain(code);
        }),
        { numRuns: 1000, seed: 1_001 },
      );
    } finally {
      client.close();
    }
    expect((await request(server.ports.http as number, 'GET', '/healthz')).status).toBe(200);
  }, 120_000);
});

describe('injected internal fault', () => {
  it('answers 500 / INTERNAL with a generic message and keeps serving', async () => {
    const real = createMemoryStore();
    const faulty: Store = {
      ...real,
      reader: new Proxy(real.reader, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver) as unknown;
          return typeof v === 'function'
            ? () => {
                throw new Error('disk on fire at /var/secret/path');
              }
            : v;
        },
      }),
    };
    const s = await startTestServer({}, { store: faulty });
    try {
      const port = s.ports.http as number;
      await request(port, 'POST', '/v1/tenants/t1/schemas/write', { schema: 'entity user {}\nentity doc { relation owner @user }' });
      const res = await request(port, 'POST', '/v1/tenants/t1/data/relationships/read', { metadata: { snap_token: '' }, filter: { entity: { type: 'doc' } } });
      expect(res.status).toBe(500);
      expect(res.json).toEqual({ code: 13, message: 'ERROR_CODE_INTERNAL', details: [] });
      expect(res.text).not.toContain('secret');
      expect((await request(port, 'GET', '/healthz')).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});
