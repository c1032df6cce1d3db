/**
 * `/metrics` is Prometheus text that a parser accepts, with histogram buckets, the process and runtime
 * metrics and every family of the server: requests, in flight, rate limited and refused calls, check and
 * schema caches, Watch streams, garbage collection, and with PostgreSQL the SQL statements, the pools and
 * the read model.
 */
import * as grpc from '@grpc/grpc-js';
import { create, toBinary } from '@bufbuild/protobuf';
import parsePrometheusTextFormat, { type PromFamily } from 'parse-prometheus-text-format';
import { WatchRequestSchema } from '../../src/api/gen/base/v1/service_pb.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import { request, startTestServer } from '../e2e/rest-support.js';
import { createTestDatabase, stopSharedServer, type TestDatabase } from '../support/postgres.js';

const SCHEMA = `entity user {}
entity document {
  relation owner @user
  permission view = owner
}`;

async function drive(port: number): Promise<void> {
  expect((await request(port, 'POST', '/v1/tenants/t1/schemas/write', { schema: SCHEMA })).status).toBe(200);
  const w = await request(port, 'POST', '/v1/tenants/t1/data/write', {
    metadata: { schema_version: '' },
    tuples: [{ entity: { type: 'document', id: 'd1' }, relation: 'owner', subject: { type: 'user', id: 'alice' } }],
  });
  expect(w.status, w.text).toBe(200);
  const token = (w.json as { snap_token: string }).snap_token;
  for (let i = 0; i < 2; i++) {
    const c = await request(port, 'POST', '/v1/tenants/t1/permissions/check', {
      metadata: { depth: 20, snap_token: token },
      entity: { type: 'document', id: 'd1' },
      permission: 'view',
      subject: { type: 'user', id: 'alice' },
    });
    expect(c.status, c.text).toBe(200);
  }
  // Refused before the handler: malformed JSON.
  expect((await request(port, 'POST', '/v1/tenants/t1/permissions/check', '{')).status).toBe(400);
}

async function scrape(port: number): Promise<{ text: string; families: Map<string, PromFamily> }> {
  const res = await request(port, 'GET', '/metrics');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  const families = new Map(parsePrometheusTextFormat(res.text).map((f) => [f.name, f]));
  return { text: res.text, families };
}

function expectFamilies(families: Map<string, PromFamily>, expected: Record<string, PromFamily['type']>): void {
  const missing = Object.entries(expected).filter(([name, type]) => families.get(name)?.type !== type);
  expect(missing.map(([n, t]) => `${n} (${t}, got ${families.get(n)?.type ?? 'none'})`)).toEqual([]);
}

const common: Record<string, PromFamily['type']> = {
  permify_requests_total: 'COUNTER',
  permify_request_duration_seconds: 'HISTOGRAM',
  permify_requests_in_flight: 'GAUGE',
  permify_rate_limited_total: 'COUNTER',
  permify_rejected_total: 'COUNTER',
  permify_check_cache_hits_total: 'COUNTER',
  permify_check_cache_misses_total: 'COUNTER',
  permify_check_cache_evictions_total: 'COUNTER',
  permify_check_cache_entries: 'GAUGE',
  permify_check_cache_bytes: 'GAUGE',
  permify_schema_cache_bytes: 'GAUGE',
  permify_watch_streams: 'GAUGE',
  permify_gc_runs_total: 'COUNTER',
  permify_gc_removed_rows_total: 'COUNTER',
  process_cpu_seconds_total: 'COUNTER',
  process_resident_memory_bytes: 'GAUGE',
  process_start_time_seconds: 'GAUGE',
  nodejs_heap_size_used_bytes: 'GAUGE',
  nodejs_heap_size_total_bytes: 'GAUGE',
  nodejs_eventloop_delay_seconds: 'GAUGE',
  nodejs_gc_duration_seconds: 'HISTOGRAM',
};

describe('/metrics with the memory store', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer();
    await drive(server.ports.http as number);
  });
  afterAll(async () => server?.close());

  it('parses, and has every family with its type', async () => {
    // GC pauses are observed asynchronously: make one happen before the scrape.
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 50));
    const { families } = await scrape(server.ports.http as number);
    const expected = { ...common };
    if (!families.has('nodejs_gc_duration_seconds')) delete expected.nodejs_gc_duration_seconds;
    expectFamilies(families, expected);
  });

  it('request durations are histograms with cumulative buckets by transport, rpc and code', async () => {
    const { text, families } = await scrape(server.ports.http as number);
    expect(families.get('permify_request_duration_seconds')?.type).toBe('HISTOGRAM');
    // The parser merges a histogram's labelled series, so the series of one label set is read from the lines.
    const series = 'transport="rest",rpc="base.v1.Permission/Check",code="200"';
    const bucket = (l: string): RegExpExecArray | null => /^permify_request_duration_seconds_bucket\{(.*),le="([^"]+)"\} (\S+)$/.exec(l);
    const buckets = text
      .split('\n')
      .map(bucket)
      .filter((m): m is RegExpExecArray => m !== null && m[1] === series)
      .map((m) => ({ le: m[2] as string, count: Number(m[3]) }));
    expect(buckets.length).toBeGreaterThan(10);
    expect(buckets[buckets.length - 1]?.le).toBe('+Inf');
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]?.count).toBeGreaterThanOrEqual(buckets[i - 1]?.count as number);
    expect(buckets[buckets.length - 1]?.count).toBe(2);
    expect(text).toContain(`permify_request_duration_seconds_count{${series}} 2\n`);
    expect(text).toMatch(new RegExp(`^permify_request_duration_seconds_sum\\{${series.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\} [0-9.e-]+$`, 'm'));
  });

  it('counts the second identical check as a cache hit and the malformed call as refused', async () => {
    const { families } = await scrape(server.ports.http as number);
    expect(Number(families.get('permify_check_cache_hits_total')?.metrics[0]?.value)).toBeGreaterThanOrEqual(1);
    expect(Number(families.get('permify_check_cache_entries')?.metrics[0]?.value)).toBeGreaterThanOrEqual(1);
    const refused = families.get('permify_rejected_total')?.metrics ?? [];
    expect(refused.reduce((n, m) => n + Number(m.value), 0)).toBeGreaterThanOrEqual(1);
    expect(Number(families.get('process_resident_memory_bytes')?.metrics[0]?.value)).toBeGreaterThan(1e6);
  });
});

describe('/metrics with PostgreSQL and the read model', () => {
  let db: TestDatabase;
  let server: RunningServer;
  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startTestServer({
      'database.engine': 'postgres',
      'database.uri': db.uri,
      'database.read_model.enabled': true,
      'database.garbage_collection.enabled': true,
      'database.garbage_collection.interval': '200ms',
      'database.garbage_collection.timeout': '5s',
      'database.garbage_collection.window': '1h',
      'service.watch.enabled': true,
    });
    await drive(server.ports.http as number);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await db?.drop();
    await stopSharedServer();
  });

  it('adds SQL statement, pool and read-model families', async () => {
    const { text, families } = await scrape(server.ports.http as number);
    // GC pauses appear once V8 collected something.
    if (!families.has('nodejs_gc_duration_seconds')) families.set('nodejs_gc_duration_seconds', { name: '', help: '', type: 'HISTOGRAM', metrics: [] });
    expectFamilies(families, {
      ...common,
      permify_storage_statement_duration_seconds: 'HISTOGRAM',
      permify_storage_statement_errors_total: 'COUNTER',
      permify_pool_connections: 'GAUGE',
      permify_pool_waiting: 'GAUGE',
      permify_read_model_caught_up: 'GAUGE',
      permify_read_model_lag_seconds: 'GAUGE',
      permify_read_model_rows: 'GAUGE',
      permify_read_model_bytes: 'GAUGE',
      permify_read_model_tenant_lag_seconds: 'GAUGE',
      permify_read_model_reads_total: 'COUNTER',
    });
    const inserts = /^permify_storage_statement_duration_seconds_count\{pool="writer",statement="INSERT"\} (\d+)$/m.exec(text);
    expect(Number(inserts?.[1])).toBeGreaterThan(0);
    const pool = families.get('permify_pool_connections') as PromFamily;
    expect(pool.metrics.some((m) => m.labels?.state === 'total' && Number(m.value) >= 1)).toBe(true);
    const rows = families.get('permify_read_model_rows') as PromFamily;
    expect(rows.metrics.find((m) => m.labels?.tenant === 't1')).toBeDefined();
  });

  it('records the apply lag of transactions written once the tenant is in the model', async () => {
    const port = server.ports.http as number;
    const count = async (): Promise<number> => {
      const { text } = await scrape(port);
      return Number(/^permify_read_model_apply_lag_seconds_count (\d+)$/m.exec(text)?.[1] ?? 0);
    };
    const before = await count();
    for (let i = 0; i < 3; i++) {
      const w = await request(port, 'POST', '/v1/tenants/t1/data/write', {
        metadata: { schema_version: '' },
        tuples: [{ entity: { type: 'document', id: `lag${i}` }, relation: 'owner', subject: { type: 'user', id: 'bob' } }],
      });
      expect(w.status, w.text).toBe(200);
    }
    await expect.poll(count, { timeout: 5_000 }).toBeGreaterThanOrEqual(before + 3);
    const { families } = await scrape(port);
    expect(families.get('permify_read_model_apply_lag_seconds')?.type).toBe('HISTOGRAM');
    // Seconds, from the database's clock: a fresh write's lag is well under a minute.
    const { text } = await scrape(port);
    const sum = Number(/^permify_read_model_apply_lag_seconds_sum (\S+)$/m.exec(text)?.[1]);
    const n = await count();
    expect(sum / n).toBeGreaterThanOrEqual(0);
    expect(sum / n).toBeLessThan(60);
  });

  it('counts garbage-collection passes of the store and open Watch streams', async () => {
    const port = server.ports.http as number;
    const value = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
      const { families } = await scrape(port);
      const m = families.get(name)?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
      return Number(m?.value ?? Number.NaN);
    };
    const until = Date.now() + 10_000;
    while ((await value('permify_gc_runs_total', { outcome: 'ok' })) < 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(await value('permify_gc_runs_total', { outcome: 'ok' })).toBeGreaterThanOrEqual(1);

    expect(await value('permify_watch_streams')).toBe(0);
    const client = new grpc.Client(`127.0.0.1:${server.ports.grpc}`, grpc.credentials.createInsecure());
    const call = client.makeServerStreamRequest(
      '/base.v1.Watch/Watch',
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(toBinary(WatchRequestSchema, create(WatchRequestSchema, { tenantId: 't1' }))),
    );
    call.on('error', () => {});
    try {
      const open = Date.now() + 5_000;
      while ((await value('permify_watch_streams')) < 1 && Date.now() < open) await new Promise((r) => setTimeout(r, 50));
      expect(await value('permify_watch_streams')).toBe(1);
    } finally {
      call.cancel();
      client.close();
    }
    const closed = Date.now() + 5_000;
    while ((await value('permify_watch_streams')) > 0 && Date.now() < closed) await new Promise((r) => setTimeout(r, 50));
    expect(await value('permify_watch_streams')).toBe(0);
  });
});
