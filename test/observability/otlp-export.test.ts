/**
 * Traces, metrics and logs reach an OTLP receiver (HTTP/protobuf and gRPC) for a Check, a Write and a failing
 * call: span names and attributes, parent/child links (the caller's W3C traceparent honoured on gRPC
 * metadata and REST headers), status codes; metric data points with histogram buckets; log records with the
 * trace context of the call they were logged in; on PostgreSQL, the statements of a sampled call under its
 * storage spans while unsampled calls run next to it. The server is closed before the assertions: closing
 * flushes every exporter, so nothing depends on export intervals.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { create, toBinary } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermissionCheckRequestSchema } from '../../src/api/gen/base/v1/service_pb.js';
import { request, startTestServer } from '../e2e/rest-support.js';
import { createTestDatabase, stopSharedServer, type TestDatabase } from '../support/postgres.js';
import { startOtlpGrpcReceiver, startOtlpHttpReceiver, type OtlpReceiver, type SpanRecord } from './otlp-receiver.js';

const SCHEMA = `entity user {}
entity document {
  relation owner @user
  relation viewer @user
  permission view = owner or viewer
}`;

const SERVER = 2;
const ERROR = 2;

function grpcCheck(port: number, traceparent: string, tenantId: string, documentId = 'd1'): Promise<grpc.ServiceError | null> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set('traceparent', traceparent);
  const req = create(PermissionCheckRequestSchema, {
    tenantId,
    metadata: { depth: 20 },
    entity: { type: 'document', id: documentId },
    permission: 'view',
    subject: { type: 'user', id: 'alice' },
  });
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      '/base.v1.Permission/Check',
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(toBinary(PermissionCheckRequestSchema, req)),
      md,
      (err) => {
        client.close();
        resolve(err);
      },
    );
  });
}

interface Ran {
  receiver: OtlpReceiver;
  localLines: Record<string, unknown>[];
  grpcTrace: { traceId: string; parentId: string };
  restTrace: { traceId: string; parentId: string };
}

async function runScenario(protocol: 'http' | 'grpc'): Promise<Ran> {
  const receiver = protocol === 'http' ? await startOtlpHttpReceiver() : await startOtlpGrpcReceiver();
  const localLines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') localLines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const exporter = (section: string): Record<string, unknown> => ({
    [`${section}.enabled`]: true,
    [`${section}.exporter`]: 'otlp',
    [`${section}.protocol`]: protocol,
    [`${section}.endpoint`]: `127.0.0.1:${receiver.port}`,
    [`${section}.insecure`]: true,
    [`${section}.headers`]: 'x-team:authz',
  });
  const server = await startTestServer(
    { ...exporter('tracer'), ...exporter('meter'), ...exporter('logger'), 'meter.interval': 60, 'logger.level': 'debug', 'logger.output': 'json' },
    { logger: undefined, logDestination: sink },
  );
  const http = server.ports.http as number;
  const grpcTrace = { traceId: randomBytes(16).toString('hex'), parentId: randomBytes(8).toString('hex') };
  const restTrace = { traceId: randomBytes(16).toString('hex'), parentId: randomBytes(8).toString('hex') };
  try {
    expect((await request(http, 'POST', '/v1/tenants/t1/schemas/write', { schema: SCHEMA })).status).toBe(200);
    const write = await request(http, 'POST', '/v1/tenants/t1/data/write', {
      metadata: { schema_version: '' },
      tuples: [{ entity: { type: 'document', id: 'd1' }, relation: 'owner', subject: { type: 'user', id: 'alice' } }],
    });
    expect(write.status, write.text).toBe(200);
    expect(await grpcCheck(server.ports.grpc, `00-${grpcTrace.traceId}-${grpcTrace.parentId}-01`, 't1')).toBeNull();
    const rest = await request(
      http,
      'POST',
      '/v1/tenants/t1/permissions/check',
      { metadata: { depth: 20 }, entity: { type: 'document', id: 'd1' }, permission: 'view', subject: { type: 'user', id: 'bob' } },
      { traceparent: `00-${restTrace.traceId}-${restTrace.parentId}-01` },
    );
    expect(rest.status, rest.text).toBe(200);
    // A failing call: the entity type is not in the schema.
    const bad = await request(http, 'POST', '/v1/tenants/t1/permissions/check', {
      metadata: { depth: 20 },
      entity: { type: 'folder', id: 'f1' },
      permission: 'view',
      subject: { type: 'user', id: 'bob' },
    });
    expect(bad.status).toBeGreaterThanOrEqual(400);
  } finally {
    await server.close();
  }
  return { receiver, localLines, grpcTrace, restTrace };
}

describe.each(['http', 'grpc'] as const)('OTLP export over %s', (protocol) => {
  let ran: Ran;
  beforeAll(async () => {
    ran = await runScenario(protocol);
  }, 30_000);
  afterAll(async () => ran?.receiver.close());

  const spans = (): SpanRecord[] => ran.receiver.sink.spans;
  const childrenOf = (s: SpanRecord): SpanRecord[] => spans().filter((c) => c.parentSpanId === s.spanId && c.traceId === s.traceId);

  it('a gRPC Check: server span under the caller traceparent, with engine, schema and storage children', () => {
    const { traceId, parentId } = ran.grpcTrace;
    const server = spans().find((s) => s.traceId === traceId && s.kind === SERVER);
    expect(server, 'server span of the gRPC check').toBeDefined();
    const s = server as SpanRecord;
    expect(s.name).toBe('base.v1.Permission/Check');
    expect(s.parentSpanId).toBe(parentId);
    expect(s.attributes).toMatchObject({
      'rpc.system': 'grpc',
      'rpc.service': 'base.v1.Permission',
      'rpc.method': 'Check',
      'permify.tenant_id': 't1',
      'permify.result': 'allowed',
      'rpc.grpc.status_code': 0,
    });
    expect(s.attributes['permify.check_count']).toBeTypeOf('number');
    expect(s.attributes['permify.schema_version']).toMatch(/\S/);
    expect(s.attributes['permify.snap_token']).toMatch(/\S/);
    expect(s.statusCode).not.toBe(ERROR);
    expect(s.resource['service.name']).toBe('permify');

    const engine = childrenOf(s).find((c) => c.name === 'engine.check');
    expect(engine, 'engine.check child').toBeDefined();
    expect(engine?.attributes).toMatchObject({ 'permify.entity_type': 'document', 'permify.permission': 'view', 'permify.subject_type': 'user' });
    const inTrace = spans().filter((x) => x.traceId === traceId);
    expect(inTrace.some((x) => x.name === 'schema.resolve')).toBe(true);
    const storage = inTrace.filter((x) => x.name.startsWith('storage.reader.'));
    expect(storage.length).toBeGreaterThan(0);
    // Every span of the trace hangs off another span of the trace (or the caller's parent).
    const ids = new Set(inTrace.map((x) => x.spanId).concat(parentId));
    for (const x of inTrace) expect(ids.has(x.parentSpanId), x.name).toBe(true);
    // Aggregated, not one span per sub-problem.
    expect(inTrace.filter((x) => x.name === 'engine.check')).toHaveLength(1);
  });

  it('a REST Check honours the traceparent header', () => {
    const { traceId, parentId } = ran.restTrace;
    const s = spans().find((x) => x.traceId === traceId && x.kind === SERVER);
    expect(s?.parentSpanId).toBe(parentId);
    expect(s?.attributes).toMatchObject({ 'rpc.system': 'http', 'permify.transport': 'rest', 'http.response.status_code': 200, 'permify.result': 'denied' });
  });

  it('a Write: server span with the storage write as a child', () => {
    const w = spans().find((x) => x.name === 'base.v1.Data/Write' && x.kind === SERVER);
    expect(w).toBeDefined();
    expect(w?.parentSpanId).toBe('');
    const all = spans().filter((x) => x.traceId === w?.traceId);
    expect(all.some((x) => x.name === 'storage.writer.write')).toBe(true);
    expect(w?.attributes['permify.tenant_id']).toBe('t1');
  });

  it('a failing call: status ERROR, its gRPC and HTTP codes and the Permify error code', () => {
    const failed = spans().filter((x) => x.kind === SERVER && x.statusCode === ERROR);
    expect(failed).toHaveLength(1);
    const f = failed[0] as SpanRecord;
    expect(f.name).toBe('base.v1.Permission/Check');
    expect(f.attributes['rpc.grpc.status_code']).not.toBe(0);
    expect(f.attributes['http.response.status_code']).toBeGreaterThanOrEqual(400);
    expect(String(f.attributes['permify.code'])).toMatch(/^ERROR_CODE_/);
    expect(f.statusMessage).toContain(String(f.attributes['permify.code']));
  });

  it('metrics: request counts by rpc/code, a duration histogram with buckets, runtime metrics', () => {
    const metrics = ran.receiver.sink.metrics;
    const requests = metrics.filter((m) => m.name === 'permify_requests').flatMap((m) => m.points);
    expect(requests.find((p) => p.attributes.rpc === 'base.v1.Permission/Check' && p.attributes.transport === 'grpc' && p.attributes.code === 'OK')?.value).toBe(1);
    expect(requests.find((p) => p.attributes.rpc === 'base.v1.Data/Write' && p.attributes.transport === 'rest' && p.attributes.code === '200')?.value).toBe(1);
    expect(requests.some((p) => p.attributes.rpc === 'base.v1.Permission/Check' && p.attributes.transport === 'rest' && Number(p.attributes.code) >= 400)).toBe(true);
    const hist = metrics.find((m) => m.name === 'permify_request_duration_seconds');
    expect(hist?.kind).toBe('histogram');
    const p = hist?.points.find((x) => x.attributes.transport === 'grpc' && x.attributes.rpc === 'base.v1.Permission/Check');
    expect(p?.count).toBe(1);
    expect(p?.bounds?.length).toBeGreaterThan(5);
    expect(p?.bucketCounts?.reduce((a, b) => a + b, 0)).toBe(1);
    for (const name of ['process_cpu_seconds', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes']) {
      expect(metrics.some((m) => m.name === name), name).toBe(true);
    }
  });

  it('logs: records carry the trace of the call they were logged in; local lines too', () => {
    const { traceId } = ran.grpcTrace;
    const logs = ran.receiver.sink.logs;
    const finished = logs.find((l) => l.body === 'call finished' && l.traceId === traceId);
    expect(finished, 'the gRPC check line').toBeDefined();
    expect(finished?.severityText).toBe('DEBUG');
    expect(finished?.attributes.rpc).toBe('base.v1.Permission/Check');
    const server = spans().find((s) => s.traceId === traceId && s.kind === SERVER);
    expect(finished?.spanId).toBe(server?.spanId);
    expect(ran.localLines.some((l) => l.msg === 'call finished' && l.trace_id === traceId)).toBe(true);
  });

  it('collector headers are sent with every export', () => {
    for (const signal of ['traces', 'metrics', 'logs'] as const) expect(ran.receiver.sink.headers[signal]?.['x-team']).toBe('authz');
  });
});

describe('tracer.sample_rate', () => {
  it('0 traces no new call, yet a caller traceparent with the sampled flag is followed', async () => {
    const receiver = await startOtlpHttpReceiver();
    try {
      const server = await startTestServer({
        'tracer.enabled': true,
        'tracer.exporter': 'otlp',
        'tracer.endpoint': `127.0.0.1:${receiver.port}`,
        'tracer.insecure': true,
        'tracer.sample_rate': 0,
      });
      const traceId = randomBytes(16).toString('hex');
      try {
        const http = server.ports.http as number;
        for (let i = 0; i < 3; i++) expect((await request(http, 'POST', '/v1/tenants/list', { page_size: 1 })).status).toBe(200);
        expect((await request(http, 'POST', '/v1/tenants/list', { page_size: 1 }, { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` })).status).toBe(200);
        // Not sampled by the caller: followed as not sampled.
        expect((await request(http, 'POST', '/v1/tenants/list', { page_size: 1 }, { traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-00` })).status).toBe(200);
      } finally {
        await server.close();
      }
      const servers = receiver.sink.spans.filter((s) => s.kind === SERVER);
      expect(servers.map((s) => s.traceId)).toEqual([traceId]);
    } finally {
      await receiver.close();
    }
  });
});

describe('traces on PostgreSQL (direct reads)', () => {
  let db: TestDatabase;
  let receiver: OtlpReceiver;
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  beforeAll(async () => {
    db = await createTestDatabase();
    receiver = await startOtlpHttpReceiver();
    const server = await startTestServer({
      'database.engine': 'postgres',
      'database.uri': db.uri,
      'database.read_model.enabled': false,
      'service.permission.cache.number_of_counters': 0,
      'tracer.enabled': true,
      'tracer.exporter': 'otlp',
      'tracer.endpoint': `127.0.0.1:${receiver.port}`,
      'tracer.insecure': true,
      'tracer.sample_rate': 0,
    });
    try {
      const http = server.ports.http as number;
      for (const tenant of ['t1', 't2']) {
        if (tenant !== 't1') expect((await request(http, 'POST', '/v1/tenants/create', { id: tenant, name: tenant })).status).toBe(200);
        expect((await request(http, 'POST', `/v1/tenants/${tenant}/schemas/write`, { schema: SCHEMA })).status).toBe(200);
        const write = await request(http, 'POST', `/v1/tenants/${tenant}/data/write`, {
          metadata: { schema_version: '' },
          tuples: [{ entity: { type: 'document', id: 'd1' }, relation: 'owner', subject: { type: 'user', id: 'alice' } }],
        });
        expect(write.status, write.text).toBe(200);
      }
      // One call sampled by its caller among unsampled ones running at the same time: some on the same tenant
      // (their reads may go out in the same statements as its own), some on another (their statements are
      // theirs, even when issued in the same turn).
      const calls = Array.from({ length: 12 }, (_, i) =>
        i === 5
          ? grpcCheck(server.ports.grpc, `00-${traceId}-${parentId}-01`, 't1', 'd2')
          : grpcCheck(server.ports.grpc, `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-00`, i % 2 === 0 ? 't1' : 't2'),
      );
      for (const err of await Promise.all(calls)) expect(err).toBeNull();
    } finally {
      await server.close();
    }
  }, 60_000);
  afterAll(async () => {
    await receiver?.close();
    await db?.drop();
    await stopSharedServer();
  });

  it('the sampled call has engine, schema, storage and SQL spans in one tree; the calls next to it have none', () => {
    const spans = receiver.sink.spans;
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([traceId]));
    const byId = new Map(spans.map((s) => [s.spanId, s] as const));
    const server = spans.find((s) => s.kind === SERVER);
    expect(server?.parentSpanId).toBe(parentId);
    const engine = spans.filter((s) => s.name === 'engine.check');
    expect(engine).toHaveLength(1);
    expect(engine[0]?.parentSpanId).toBe(server?.spanId);
    // What the engine calls hangs off the engine span; statements hang off the storage call that issued them.
    const storage = spans.filter((s) => s.name.startsWith('storage.reader.'));
    expect(storage.length).toBeGreaterThan(0);
    for (const s of storage) expect(s.parentSpanId, s.name).toBe(engine[0]?.spanId);
    const resolve = spans.find((s) => s.name === 'schema.resolve');
    expect(resolve?.parentSpanId).toBe(engine[0]?.spanId);
    const statements = spans.filter((s) => s.name === 'pg.query');
    expect(statements.length).toBeGreaterThan(0);
    // A storage read of the sampled call waits for one statement; another tenant's statement is not in it.
    for (const s of storage) expect(statements.filter((q) => q.parentSpanId === s.spanId).length, s.name).toBeLessThanOrEqual(1);
    for (const q of statements) {
      const parent = byId.get(q.parentSpanId);
      expect(parent?.name, 'parent of pg.query').toMatch(/^(storage|schema)\./);
      expect(q.attributes['db.system']).toBe('postgresql');
      expect(String(q.attributes['db.statement'])).toMatch(/\S/);
    }
  });
});
