/**
 * Which trace a PostgreSQL statement lands in, on the real PostgreSQL store with its pools observed
 * (instrumentPgPools): reads coalesced by the batching reader in one event-loop turn go out as one statement
 * per tenant and snap token, and each statement belongs to the trace of a sampled caller among its own
 * callers only, never to that of a sampled call whose statement happened to be issued in the same turn.
 */
import { context, trace, type Context } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installContextManager, runInContext } from '../../src/observability/context.js';
import { instrumentPgPools } from '../../src/observability/instrument.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { createPostgresStore, type PostgresStore } from '../../src/storage/postgres/index.js';
import { createTestDatabase, stopSharedServer, type TestDatabase } from '../support/postgres.js';

describe('pg statements in the trace of their own callers', () => {
  let db: TestDatabase;
  let store: PostgresStore;
  let metrics: Metrics;
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const tokens = new Map<string, string>();

  beforeAll(async () => {
    installContextManager();
    db = await createTestDatabase();
    store = await createPostgresStore({ uri: db.uri, maxOpenConnections: 4 });
    await store.ready();
    metrics = createMetrics({ runtime: false });
    instrumentPgPools(store.database, { tracer: provider.getTracer('test'), tracing: true, metrics });
    for (const tenant of ['a', 'b']) {
      await store.tenants.createTenant(tenant, tenant);
      const token = await store.writer.write(tenant, [
        { writeTuples: [{ entity: { type: 'document', id: 'd1' }, relation: 'owner', subject: { type: 'user', id: 'u1', relation: '' } }] },
      ]);
      tokens.set(tenant, token);
    }
  }, 60_000);

  afterAll(async () => {
    await store?.close();
    await db?.drop();
    await metrics?.shutdown();
    await provider.shutdown();
    await stopSharedServer();
  });

  it('a sampled read and an unsampled read of another tenant in one turn: one statement each, only its own in the trace', async () => {
    exporter.reset();
    const tracer = provider.getTracer('test');
    const parent = tracer.startSpan('storage.reader.queryRelationships');
    const sampled: Context = trace.setSpan(context.active(), parent);
    const read = (tenant: string): Promise<unknown> =>
      store.reader.queryRelationships(
        tenant,
        { entity: { type: 'document', ids: ['d1'] }, relation: 'owner', subject: { type: 'user', ids: ['u1'] } },
        tokens.get(tenant) as string,
      );
    // The sampled read first, so that the flush is scheduled from its context.
    const rows = await Promise.all([runInContext(sampled, () => read('a')), read('b')]);
    parent.end();
    expect(rows.map((r) => (r as unknown[]).length)).toEqual([1, 1]);
    const statements = exporter.getFinishedSpans().filter((s) => s.name === 'pg.query');
    expect(statements.map((s) => s.parentSpanContext?.spanId)).toEqual([
      parent.spanContext().spanId,
    ]);
  });
});
