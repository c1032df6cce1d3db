/**
 * Over both transports: a rule evaluation error is INVALID_ARGUMENT (gRPC 3, HTTP 400), never INTERNAL (deliberate
 * difference from Permify); `service.permission.max_pattern_length` refuses longer matches() patterns naming
 * the limit; and a request echoing a huge value (an 80 KB schema version) is answered promptly with a bounded
 * status (message and google.rpc.Status details), not a header list the client cannot take.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as s from '../../src/api/gen/base/v1/service_pb.js';
import { configureMatches, defaultMaxPatternLength } from '../../src/language/re2.js';
import type { RunningServer } from '../../src/server.js';
import { request, startTestServer } from './rest-support.js';

const SCHEMA = `
entity user {}
entity doc {
    relation owner @user
    attribute title string
    permission view = owner and min_ok(title)
    permission titled = owner and title_ok(title)
}
rule min_ok(title string) {
    context.data.level >= 3
}
rule title_ok(title string) {
    'quarterly report'.matches(context.data.pattern)
}`;

let server: RunningServer;
let ch: grpc.Client;
let version = '';

beforeAll(async () => {
  server = await startTestServer({ 'service.permission.max_pattern_length': 12 });
  const port = server.ports.http as number;
  expect((await request(port, 'POST', '/v1/tenants/create', { id: 'r', name: 'r' })).status).toBe(200);
  const w = await request(port, 'POST', '/v1/tenants/r/schemas/write', { schema: SCHEMA });
  expect(w.status, w.text).toBe(200);
  version = (w.json as { schema_version: string }).schema_version;
  const d = await request(port, 'POST', '/v1/tenants/r/data/write', {
    metadata: { schema_version: version },
    tuples: [{ entity: { type: 'doc', id: '1' }, relation: 'owner', subject: { type: 'user', id: 'u' } }],
  });
  expect(d.status).toBe(200);
  ch = new grpc.Client(`127.0.0.1:${server.ports.grpc}`, grpc.credentials.createInsecure());
});

afterAll(async () => {
  ch?.close();
  await server?.close();
  configureMatches({ maxPatternLength: defaultMaxPatternLength });
});

const identity = (b: Buffer): Buffer => b;

interface Outcome {
  code: number;
  details: string;
  statusBytes: number;
  ms: number;
}

function unary(path: string, bytes: Uint8Array): Promise<Outcome> {
  const start = performance.now();
  return new Promise((resolve) => {
    ch.makeUnaryRequest(path, identity, identity, Buffer.from(bytes), { deadline: Date.now() + 10_000 }, (err) => {
      const bin = err?.metadata?.get('grpc-status-details-bin') ?? [];
      resolve({
        code: err?.code ?? 0,
        details: err?.details ?? '',
        statusBytes: bin.reduce((n, v) => n + (typeof v === 'string' ? v.length : v.byteLength), 0),
        ms: performance.now() - start,
      });
    });
  });
}

const checkBytes = (data: Record<string, unknown>, schemaVersion = '', permission = 'view') =>
  toBinary(
    s.PermissionCheckRequestSchema,
    create(s.PermissionCheckRequestSchema, {
      tenantId: 'r',
      metadata: { schemaVersion, depth: 20 },
      entity: { type: 'doc', id: '1' },
      permission,
      subject: { type: 'user', id: 'u' },
      context: { data: data as never },
    }),
  );

const restCheck = (data: Record<string, unknown>, permission = 'view') =>
  request(server.ports.http as number, 'POST', '/v1/tenants/r/permissions/check', {
    metadata: { depth: 20 },
    entity: { type: 'doc', id: '1' },
    permission,
    subject: { type: 'user', id: 'u' },
    context: { data },
  });

describe('rule evaluation errors over the wire', () => {
  it('a missing context.data key and a value of another type: gRPC 3 and HTTP 400, never INTERNAL', async () => {
    for (const data of [{}, { level: 'high' }]) {
      const g = await unary('/base.v1.Permission/Check', checkBytes(data));
      expect(g.code).toBe(grpc.status.INVALID_ARGUMENT);
      const r = await restCheck(data);
      expect(r.status).toBe(400);
      expect(r.json).toMatchObject({ code: 3 });
      // The evaluation error's text reaches the caller (it names what to fix).
      expect((r.json as { message: string }).message).toMatch(/^(no such key: level|no such overload: dyn<string> >= int)$/i);
      expect(g.details).toBe((r.json as { message: string }).message);
    }
    // LookupEntity keeps the code through its "bulk execution failed" wrapper.
    const l = await request(server.ports.http as number, 'POST', '/v1/tenants/r/permissions/lookup-entity', {
      metadata: { depth: 20 },
      entity_type: 'doc',
      permission: 'view',
      subject: { type: 'user', id: 'u' },
      context: { data: {} },
    });
    expect(l.status).toBe(400);
    expect((l.json as { message: string }).message).toMatch(/^bulk execution failed: failed to get request result: /);
    expect((await restCheck({ level: 4 })).json).toMatchObject({ can: 'CHECK_RESULT_ALLOWED' });
  });

  it('service.permission.max_pattern_length: a longer pattern is refused naming the limit and the length', async () => {
    expect((await restCheck({ pattern: 'report$' }, 'titled')).json).toMatchObject({ can: 'CHECK_RESULT_ALLOWED' });
    const r = await restCheck({ pattern: '(quarterly) report' }, 'titled');
    expect(r.status).toBe(400);
    expect((r.json as { message: string }).message).toBe(
      'matches: a pattern of 18 characters exceeds service.permission.max_pattern_length=12',
    );
  });
});

describe('huge values in errors', () => {
  it('an 80 KB schema version: answered promptly with the right code and a bounded status', async () => {
    const huge = 'v'.repeat(80 * 1024);
    const g = await unary('/base.v1.Permission/Check', checkBytes({ level: 4 }, huge));
    expect(g.ms).toBeLessThan(2_000);
    expect(g.code).not.toBe(grpc.status.INTERNAL);
    expect(g.code).not.toBe(grpc.status.DEADLINE_EXCEEDED);
    expect([grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND]).toContain(g.code);
    expect(g.details.length).toBeLessThan(1024);
    expect(g.statusBytes).toBeGreaterThan(0);
    expect(g.statusBytes).toBeLessThan(2048);
    const r = await request(server.ports.http as number, 'POST', '/v1/tenants/r/permissions/check', {
      metadata: { schema_version: huge, depth: 20 },
      entity: { type: 'doc', id: '1' },
      permission: 'view',
      subject: { type: 'user', id: 'u' },
    });
    expect([400, 404]).toContain(r.status);
    expect(r.text.length).toBeLessThan(2048);
  });
});
