/**
 * Decorators that observe the layers below the handlers without those layers knowing, composed in
 * server.ts:
 *
 * - {@link traceEngine} and {@link traceSchemaResolver}: one span per engine operation (check, bulk check,
 *   lookups, expand, subject permission) and per schema resolution, never one per sub-problem of a deep
 *   check: the check count and result are attributes of the operation's span (and of the RPC span);
 * - {@link instrumentStore}: one span per storage-contract call (the read model's waits included: they
 *   happen inside its reader calls), Watch streams open, garbage-collection runs and rows removed;
 * - {@link instrumentPgPools}: a span and a duration per SQL statement, errors per statement kind, and the
 *   pools' size and waiting clients (the `pg` driver is not patched globally: under ESM that is unreliable;
 *   the store's own pools are observed instead).
 *
 * Spans are only started for a sampled call: its trace context is found from the signal the decorated method
 * is passed (observability/context.ts), so an unsampled call costs one comparison per decorated call while
 * no sampled call is in flight, and nothing (attributes, closures, span names) is built before that lookup.
 * A `pg` statement has no signal: it finds its parent through the active context, which a sampled storage
 * call of the PostgreSQL store sets for what it awaits. Metrics are recorded for every statement (each costs
 * far more than a record).
 */
import { context, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type pg from 'pg';
import type { PermissionEngine } from '../engine/index.js';
import type { SchemaResolver } from '../engine/schema-resolver.js';
import { checkCacheCounters, checkCacheOccupancy } from '../engine/check-cache.js';
import type { Store } from '../storage/contract.js';
import { toPermifyError } from '../errors.js';
import type { Metrics } from './metrics.js';
import { narrowCallScope, rpcSpan, runInContext, scopeOf, scopeOfArgs, widenCallScope } from './context.js';

/** The recording span of `ctx`, or undefined. */
function recordingSpan(ctx: Context | undefined): Span | undefined {
  const s = ctx === undefined ? undefined : trace.getSpan(ctx);
  return s !== undefined && s.isRecording() ? s : undefined;
}

function fail(span: Span, e: unknown): void {
  const err = toPermifyError(e);
  span.setStatus({ code: SpanStatusCode.ERROR, message: String(err.code) });
  span.setAttribute('permify.code', String(err.code));
}

/**
 * Runs `fn(spanContext)` in a child span of `parent`'s span; `onResult` may add attributes from the result.
 * `spanContext` is `parent` with the new span current, for what `fn` starts below it.
 */
function inSpan<R>(
  tracer: Tracer,
  name: string,
  attrs: Attributes,
  parent: Context,
  fn: (spanContext: Context) => R,
  onResult?: (span: Span, r: Awaited<R>) => void,
): R {
  const span = tracer.startSpan(name, { attributes: attrs }, parent);
  let r: R;
  try {
    r = fn(trace.setSpan(parent, span));
  } catch (e) {
    fail(span, e);
    span.end();
    throw e;
  }
  if (r !== null && typeof r === 'object' && typeof (r as { then?: unknown }).then === 'function') {
    return (r as unknown as Promise<Awaited<R>>).then(
      (v) => {
        onResult?.(span, v);
        span.end();
        return v;
      },
      (e: unknown) => {
        fail(span, e);
        span.end();
        throw e;
      },
    ) as R;
  }
  span.end();
  return r;
}

type Req = { tenantId?: string; entity?: { type?: string }; permission?: string; subject?: { type?: string }; entityType?: string };

function engineAttrs(req: Req): Attributes {
  const a: Attributes = {};
  if (req.tenantId) a['permify.tenant_id'] = req.tenantId;
  if (req.entity?.type) a['permify.entity_type'] = req.entity.type;
  if (req.entityType) a['permify.entity_type'] = req.entityType;
  if (req.permission) a['permify.permission'] = req.permission;
  if (req.subject?.type) a['permify.subject_type'] = req.subject.type;
  return a;
}

function engineResult(rpc: Span | undefined): (span: Span, r: unknown) => void {
  return (span, r) => {
    const res = r as { can?: unknown; metadata?: { checkCount?: unknown }; results?: readonly { metadata?: { checkCount?: unknown } }[] };
    let count = typeof res?.metadata?.checkCount === 'number' ? res.metadata.checkCount : undefined;
    if (count === undefined && Array.isArray(res?.results)) {
      count = res.results.reduce((n, x) => n + (typeof x?.metadata?.checkCount === 'number' ? x.metadata.checkCount : 0), 0);
    }
    if (count !== undefined) {
      span.setAttribute('permify.check_count', count);
      rpc?.setAttribute('permify.check_count', count);
    }
    if (typeof res?.can === 'string') {
      span.setAttribute('permify.result', res.can);
      rpc?.setAttribute('permify.result', res.can);
    }
  };
}

const ENGINE_OPS = ['check', 'explain', 'bulkCheck', 'expand', 'lookupEntity', 'lookupSubject', 'subjectPermission'] as const;

/**
 * Spans `engine.<operation>` around the engine's operations (streams and purges pass through). While an
 * operation runs, its span is the parent of what the engine calls with the same signal (schema, storage).
 */
export function traceEngine(engine: PermissionEngine, tracer: Tracer): PermissionEngine {
  const out: Record<string, unknown> = { ...engine };
  for (const op of ENGINE_OPS) {
    const fn = engine[op] as (req: Req, signal?: AbortSignal) => Promise<unknown>;
    const name = `engine.${op}`;
    // Outside a sampled call nothing is built: no attributes, no closure, no span.
    out[op] = (req: Req, signal?: AbortSignal) => {
      const parent = scopeOf(signal);
      if (parent === undefined || signal === undefined || recordingSpan(parent) === undefined) return fn(req, signal);
      return inSpan(
        tracer,
        name,
        engineAttrs(req),
        parent,
        (inner) => {
          narrowCallScope(signal, inner);
          const widen = (): void => widenCallScope(signal);
          let p: Promise<unknown>;
          try {
            p = fn(req, signal);
          } catch (e) {
            widen();
            throw e;
          }
          p.then(widen, widen);
          return p;
        },
        engineResult(rpcSpan(parent)),
      );
    };
  }
  return out as unknown as PermissionEngine;
}

/** A span `schema.resolve` per resolution; the version used is set on it and on the RPC span. */
export function traceSchemaResolver(resolver: SchemaResolver, tracer: Tracer): SchemaResolver {
  return {
    resolve: (tenantId, version, signal) => {
      const parent = scopeOf(signal);
      if (parent === undefined || recordingSpan(parent) === undefined) return resolver.resolve(tenantId, version, signal);
      return inSpan(
        tracer,
        'schema.resolve',
        { 'permify.tenant_id': tenantId, ...(version ? { 'permify.schema_version': version } : {}) },
        parent,
        () => resolver.resolve(tenantId, version, signal),
        (span, r) => {
          span.setAttribute('permify.schema_version', r.version);
          rpcSpan(parent)?.setAttribute('permify.schema_version', r.version);
        },
      );
    },
    purgeTenant: (tenantId) => resolver.purgeTenant(tenantId),
    purgeAll: () => resolver.purgeAll(),
    get cachedBytes() {
      return resolver.cachedBytes;
    },
  };
}

/**
 * Cache metrics, read at collection: the check cache's `permify_check_cache_hits_total`, `_misses_total`,
 * `_evictions_total`, `permify_check_cache_entries` and `permify_check_cache_bytes`, and
 * `permify_schema_cache_bytes` (compiled schema versions kept by the resolver).
 */
export function registerCacheMetrics(metrics: Metrics, caches: { readonly schemaResolver: SchemaResolver }): void {
  const meter = metrics.meter;
  const hits = meter.createObservableCounter('permify_check_cache_hits', { description: 'Check cache lookups answered from the cache.' });
  const misses = meter.createObservableCounter('permify_check_cache_misses', { description: 'Check cache lookups that found no usable entry.' });
  const evictions = meter.createObservableCounter('permify_check_cache_evictions', { description: 'Check cache entries pushed out by the entry or byte bound.' });
  const entries = meter.createObservableGauge('permify_check_cache_entries', { description: 'Entries in the check cache.' });
  const bytes = meter.createObservableGauge('permify_check_cache_bytes', { description: 'Estimated bytes held by the check cache.' });
  const schemaBytes = meter.createObservableGauge('permify_schema_cache_bytes', { description: 'Estimated bytes of the compiled schema versions cached.' });
  meter.addBatchObservableCallback(
    (r) => {
      r.observe(hits, checkCacheCounters.hits);
      r.observe(misses, checkCacheCounters.misses);
      r.observe(evictions, checkCacheCounters.evictions);
      const o = checkCacheOccupancy();
      r.observe(entries, o.entries);
      r.observe(bytes, o.bytes);
      r.observe(schemaBytes, caches.schemaResolver.cachedBytes);
    },
    [hits, misses, evictions, entries, bytes, schemaBytes],
  );
}

const STORE_METHODS = {
  reader: ['headSnapToken', 'queryRelationships', 'readRelationships', 'querySingleAttribute', 'queryAttributes', 'readAttributes', 'queryUniqueSubjectIds'],
  writer: ['write'],
  bulk: ['importBatch', 'exportPage'],
  schemas: ['writeSchema', 'readSchema', 'headVersion', 'listVersions'],
  tenants: ['createTenant', 'deleteTenant', 'listTenants'],
  bundles: ['writeBundles', 'readBundle', 'deleteBundle'],
} as const;

/**
 * `section` with a span per call of `methods` made for a sampled call. `issuesSql(method)`: the method issues
 * `pg` statements, which find their parent through the active context; the call then runs in its span's
 * context.
 */
function traceSection<T extends object>(section: T, prefix: string, methods: readonly string[], tracer: Tracer, issuesSql: (method: string) => boolean): T {
  const wrapped = new Map<PropertyKey, unknown>();
  for (const name of methods) {
    const fn = (section as Record<string, unknown>)[name];
    if (typeof fn !== 'function') continue;
    const spanName = `storage.${prefix}.${name}`;
    const call = fn as (...a: unknown[]) => unknown;
    const sql = issuesSql(name);
    wrapped.set(name, (...args: unknown[]) => {
      const parent = scopeOfArgs(args);
      if (parent === undefined || recordingSpan(parent) === undefined) return call.apply(section, args);
      const attrs = typeof args[0] === 'string' ? { 'permify.tenant_id': args[0] } : {};
      const onResult =
        name === 'headSnapToken'
          ? (_span: Span, token: unknown): void => {
              if (typeof token === 'string') rpcSpan(parent)?.setAttribute('permify.snap_token', token);
            }
          : undefined;
      return inSpan(
        tracer,
        spanName,
        attrs,
        parent,
        (inner) => (sql ? runInContext(inner, () => call.apply(section, args)) : call.apply(section, args)),
        onResult,
      );
    });
  }
  // A proxy keeps every other member (getters, helpers such as purgeTenant) as it is.
  return new Proxy(section, {
    get: (target, p) => (wrapped.has(p) ? wrapped.get(p) : Reflect.get(target, p, target)),
  });
}

export interface InstrumentStoreOptions {
  readonly tracer: Tracer;
  readonly tracing: boolean;
  readonly metrics: Metrics;
}

/**
 * The store seen through spans (when tracing), with Watch streams and garbage-collection passes counted.
 * Every other member of the store (its read model, its database) is kept. The store's `gc.collect` is
 * replaced in place so that its own timer's passes are counted too.
 */
export function instrumentStore<S extends Store>(store: S, options: InstrumentStoreOptions): S {
  const { tracer, tracing, metrics } = options;
  const meter = metrics.meter;
  const watchOpen = meter.createUpDownCounter('permify_watch_streams', { description: 'Watch streams open.' });
  watchOpen.add(0);
  const gcRuns = meter.createCounter('permify_gc_runs', { description: 'Garbage-collection passes, by outcome.' });
  const gcRows = meter.createCounter('permify_gc_removed_rows', { description: 'Rows removed by garbage collection.' });
  const gcDuration = meter.createHistogram('permify_gc_duration_seconds', {
    description: 'Duration of garbage-collection passes, seconds.',
    advice: { explicitBucketBoundaries: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300] },
  });
  gcRuns.add(0, { outcome: 'ok' });
  gcRows.add(0);

  const gc = store.gc;
  const collect = gc.collect.bind(gc);
  (gc as { collect: typeof gc.collect }).collect = async (windowMs, signal) => {
    const started = performance.now();
    try {
      const r = await collect(windowMs, signal);
      gcRuns.add(1, { outcome: 'ok' });
      gcRows.add(r.removedRows);
      return r;
    } catch (e) {
      gcRuns.add(1, { outcome: 'error' });
      throw e;
    } finally {
      gcDuration.record((performance.now() - started) / 1000);
    }
  };

  const watcher = store.watcher;
  const watch = watcher.watch.bind(watcher);
  const countedWatcher = new Proxy(watcher, {
    get: (target, p) =>
      p === 'watch'
        ? async function* (tenantId: string, snapToken: string, signal: AbortSignal) {
            watchOpen.add(1);
            try {
              yield* watch(tenantId, snapToken, signal);
            } finally {
              watchOpen.add(-1);
            }
          }
        : Reflect.get(target, p, target),
  });

  const out: Record<string, unknown> = { ...(store as object), watcher: countedWatcher };
  if (tracing) {
    // Which sections issue SQL, so that their sampled calls propagate a context to the pg statements (see
    // observability/context.ts for what that costs the process): all of the PostgreSQL store's; with the
    // read model in front, not its reads (the reader, readSchema and headVersion are answered from memory; a
    // read that falls through to PostgreSQL is timed, but its statements have no span).
    const database = (store as { readonly database?: unknown }).database !== undefined;
    const modelReads = (store as { readonly readModel?: unknown }).readModel !== undefined;
    const sql = (section: string, method: string): boolean =>
      database && !(modelReads && (section === 'reader' || (section === 'schemas' && (method === 'readSchema' || method === 'headVersion'))));
    for (const [section, methods] of Object.entries(STORE_METHODS)) {
      out[section] = traceSection((store as unknown as Record<string, object>)[section] as object, section, methods, tracer, (m) => sql(section, m));
    }
  }
  return out as unknown as S;
}

const STATEMENT_KIND = /^\s*([a-z]+)/i;
const INSTRUMENTED = Symbol('permify.instrumented');

/**
 * Observes every statement of the PostgreSQL store's pools: `permify_storage_statement_duration_seconds`
 * and `permify_storage_statement_errors_total` by pool and statement kind (SELECT, INSERT, ...), a span
 * `pg.query` (with the statement text, never its values) under a recording parent (the active context of
 * the caller), and the pools' size, idle and waiting clients. Clients are instrumented when first checked
 * out; `pool.query` is observed at the pool.
 */
export function instrumentPgPools(pools: { readonly writer: pg.Pool; readonly reader: pg.Pool }, options: InstrumentStoreOptions): void {
  const { tracer, metrics } = options;
  const meter = metrics.meter;
  const duration = meter.createHistogram('permify_storage_statement_duration_seconds', {
    description: 'SQL statement durations by pool and statement kind, seconds.',
    advice: { explicitBucketBoundaries: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] },
  });
  const errors = meter.createCounter('permify_storage_statement_errors', { description: 'Failed SQL statements by pool and statement kind.' });
  const size = meter.createObservableGauge('permify_pool_connections', { description: 'Pool connections by pool and state (total, idle).' });
  const waiting = meter.createObservableGauge('permify_pool_waiting', { description: 'Callers waiting for a pool connection.' });
  const named = [
    ['writer', pools.writer],
    ...(pools.reader !== pools.writer ? [['reader', pools.reader] as const] : []),
  ] as const;
  meter.addBatchObservableCallback(
    (r) => {
      for (const [name, pool] of named) {
        r.observe(size, pool.totalCount, { pool: name, state: 'total' });
        r.observe(size, pool.idleCount, { pool: name, state: 'idle' });
        r.observe(waiting, pool.waitingCount, { pool: name });
      }
    },
    [size, waiting],
  );
  errors.add(0, { pool: 'writer', statement: 'SELECT' });

  const attrCache = new Map<string, Attributes>();
  const attrsOf = (pool: string, text: string): Attributes => {
    const kind = (STATEMENT_KIND.exec(text)?.[1] ?? 'OTHER').toUpperCase();
    const key = `${pool} ${kind}`;
    let a = attrCache.get(key);
    if (a === undefined) attrCache.set(key, (a = { pool, statement: kind }));
    return a;
  };

  /** A statement's text, or undefined for what is not observed (callback forms, submittables such as COPY streams). */
  const textOf = (args: readonly unknown[]): string | undefined => {
    const first = args[0];
    const text = typeof first === 'string' ? first : (first as { text?: unknown } | null)?.text;
    if (typeof text !== 'string' || typeof (first as { submit?: unknown })?.submit === 'function') return undefined;
    return typeof args[args.length - 1] === 'function' ? undefined : text;
  };
  /** Times `run` and, under a recording parent, traces it. */
  const observe = (pool: string, text: string, parent: Context, run: () => Promise<unknown>): Promise<unknown> => {
    const attrs = attrsOf(pool, text);
    const started = performance.now();
    const span =
      recordingSpan(parent) === undefined
        ? undefined
        : tracer.startSpan('pg.query', { attributes: { 'db.system': 'postgresql', 'db.statement': text, 'permify.pool': pool } }, parent);
    const settle = (e: unknown): void => {
      duration.record((performance.now() - started) / 1000, attrs);
      if (e !== undefined) {
        errors.add(1, attrs);
        if (span !== undefined) fail(span, e);
      }
      span?.end();
    };
    return run().then(
      (v) => {
        settle(undefined);
        return v;
      },
      (e: unknown) => {
        settle(e);
        throw e;
      },
    );
  };

  for (const [name, pool] of named) {
    // `pool.query` (a connection is checked out for the one statement): observed here, with the parent of
    // the caller taken now, because pg-pool runs a queued statement inside whichever call releases the
    // connection it gets (and then through the client's callback form, which is not observed again). The
    // duration includes the wait for a connection.
    const poolQuery = pool.query.bind(pool) as (...a: unknown[]) => unknown;
    (pool as unknown as { query: (...a: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const text = textOf(args);
      if (text === undefined) return poolQuery(...args);
      return observe(name, text, context.active(), () => poolQuery(...args) as Promise<unknown>);
    };
    // Statements on a checked-out client (transactions, COPY's surroundings): observed per statement.
    pool.on('acquire', (client: pg.PoolClient & { [INSTRUMENTED]?: true }) => {
      if (client[INSTRUMENTED]) return;
      client[INSTRUMENTED] = true;
      const query = client.query.bind(client) as (...a: unknown[]) => unknown;
      (client as unknown as { query: (...a: unknown[]) => unknown }).query = (...args: unknown[]) => {
        const text = textOf(args);
        if (text === undefined) return query(...args);
        return observe(name, text, context.active(), () => query(...args) as Promise<unknown>);
      };
    });
  }
}
