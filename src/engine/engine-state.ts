/**
 * What every engine operation shares: validated options, the caches (compiled schemas, check results, lookup
 * candidate sets), the purge log, and the steps every request takes (resolve the schema version and snap
 * token, then consult the check cache). One `EngineState` is created per engine by {@link createEngineState};
 * the operations in `operations/` are plain functions over it, and `createEngine` only wires them.
 *
 * Request path: resolve the schema version (empty ⇒ head, compiled once per version in a bounded LRU) and the
 * snap token (empty ⇒ reader.headSnapToken), THEN consult the check cache, then evaluate against exactly that
 * snapshot. Every request gets one {@link WorkBudget} (read concurrency, candidates, event-loop time slice)
 * that all of its fan-outs draw from.
 */
import type { Entity, RequestContext, Subject } from '../data/types.js';
import { PermifyError, toPermifyError } from '../errors.js';
import type { Schema } from '../schema/model.js';
import type { DataReader, SchemaStore } from '../storage/contract.js';
import { createWorkBudget, defaultTimeSliceMs, type WorkBudgetOptions } from './budget.js';
import { type CandidateCache, createCandidateCache } from './candidate-cache.js';
import { type CheckCache, type CheckCacheView, createCheckCache } from './check-cache.js';
import { checkRoot, evaluate } from './check.js';
import { type Scope, ScopeCancelled } from './combine.js';
import { createPurgeLog, type PurgeLog } from './purge-log.js';
import { createSchemaResolver, type SchemaResolver } from './schema-resolver.js';
import { contextKey, createEvalState, type EvalState } from './state.js';
import type { CheckResult } from './types.js';

export interface EngineOptions {
  readonly reader: DataReader;
  readonly schemas: SchemaStore;
  /** Check-cache entries; default 100_000; 0 disables the cache. */
  readonly checkCacheSize?: number;
  /** Estimated bytes of the check cache (`service.permission.cache.max_cost`); default 10 MiB; 0 disables it. */
  readonly checkCacheMaxBytes?: number;
  /** Compiled schema versions kept; default 1000. Ignored when `schemaResolver` is given. */
  readonly schemaCacheSize?: number;
  /**
   * Estimated heap bytes of the compiled schemas kept (`service.schema.cache.max_cost`); default 64 MiB.
   * Ignored when `schemaResolver` is given.
   */
  readonly schemaCacheMaxBytes?: number;
  /** A resolver shared with the API handlers (one compiled copy per version, one purge). */
  readonly schemaResolver?: SchemaResolver;
  /** Estimated bytes of lookup candidate sets kept for continuation pages; default 32 MiB; 0 disables it. */
  readonly candidateCacheMaxBytes?: number;
  /**
   * Largest LookupEntity/LookupSubject page size (`service.permission.max_page_size`); a larger request is
   * rejected naming the limit. Default 10_000 (the wire default page size is 1000).
   */
  readonly maxPageSize?: number;
  /** Longest run, in ms, of one request without giving the event loop a turn; default 10. */
  readonly timeSliceMs?: number;
  /** Max concurrent sub-problems per combination; default 100. */
  readonly concurrency?: number;
  /**
   * Candidate checks of one LookupEntity(Stream) page in flight at once (`service.permission.bulk_limit`, Permify's
   * bulk checker concurrency); default 100. LookupSubject computes its answer as a set, with no check per
   * candidate, so this does not apply to it.
   */
  readonly bulkLimit?: number;
  /** Max candidates of one LookupEntity; exceeding it is an error naming the limit. Default 1_000_000. */
  readonly maxLookupCandidates?: number;
  /**
   * Largest accepted request depth; a larger one is rejected (ERROR_CODE_VALIDATION naming the limit) because
   * work on cyclic data grows with the budget. Default 1000.
   */
  readonly maxDepth?: number;
  /**
   * Most nodes of one Explain proof tree (`service.permission.max_explain_nodes`); a larger tree fails the
   * request naming the limit (the tree grows with the work, up to nodes × depth on cyclic data). Default 100_000.
   */
  readonly maxExplainNodes?: number;
}

export const engineDefaults = {
  checkCacheSize: 100_000,
  checkCacheMaxBytes: 10 * 1024 * 1024,
  schemaCacheSize: 1000,
  schemaCacheMaxBytes: 64 * 1024 * 1024,
  candidateCacheEntries: 1000,
  candidateCacheMaxBytes: 32 * 1024 * 1024,
  maxPageSize: 10_000,
  timeSliceMs: defaultTimeSliceMs,
  concurrency: 100,
  bulkLimit: 100,
  maxLookupCandidates: 1_000_000,
  maxDepth: 1000,
  maxExplainNodes: 100_000,
  pageSize: 1000,
} as const;

/** The state shared by every operation of one engine. */
export interface EngineState {
  readonly reader: DataReader;
  readonly resolver: SchemaResolver;
  readonly checkCache: CheckCache;
  /** False when the check cache is disabled (no key is built then). */
  readonly cacheOn: boolean;
  readonly candidateCache: CandidateCache;
  /** Results computed across a purge of their tenant are not cached (the purge may have come after their reads). */
  readonly purges: PurgeLog;
  readonly concurrency: number;
  /** Candidate checks of one LookupEntity page in flight at once. */
  readonly bulkLimit: number;
  readonly maxCandidates: number;
  readonly maxDepth: number;
  readonly maxPageSize: number;
  readonly maxExplainNodes: number;
  readonly budgetOptions: WorkBudgetOptions;
}

function positiveInteger(name: string, v: number | undefined, def: number, allowZero = false): number {
  if (v === undefined) return def;
  if (!Number.isInteger(v) || v < (allowZero ? 0 : 1)) {
    throw new PermifyError(
      'ERROR_CODE_VALIDATION',
      `engine option ${name} must be an integer ≥ ${allowZero ? 0 : 1}, got ${v}`,
      {
        details: { limit: name },
      },
    );
  }
  return v;
}

/** Validates `options` eagerly (ERROR_CODE_VALIDATION naming the option) and creates the shared state. */
export function createEngineState(options: EngineOptions): EngineState {
  const checkCacheEntries = positiveInteger(
    'checkCacheSize',
    options.checkCacheSize,
    engineDefaults.checkCacheSize,
    true,
  );
  const checkCacheBytes = positiveInteger(
    'checkCacheMaxBytes',
    options.checkCacheMaxBytes,
    engineDefaults.checkCacheMaxBytes,
    true,
  );
  const concurrency = positiveInteger('concurrency', options.concurrency, engineDefaults.concurrency);
  const maxCandidates = positiveInteger(
    'maxLookupCandidates',
    options.maxLookupCandidates,
    engineDefaults.maxLookupCandidates,
  );
  return {
    reader: options.reader,
    concurrency,
    bulkLimit: positiveInteger('bulkLimit', options.bulkLimit, engineDefaults.bulkLimit),
    maxCandidates,
    maxDepth: positiveInteger('maxDepth', options.maxDepth, engineDefaults.maxDepth),
    maxExplainNodes: positiveInteger('maxExplainNodes', options.maxExplainNodes, engineDefaults.maxExplainNodes),
    checkCache: createCheckCache(checkCacheEntries, checkCacheBytes),
    cacheOn: checkCacheEntries > 0 && checkCacheBytes > 0,
    resolver:
      options.schemaResolver ??
      createSchemaResolver(options.schemas, {
        maxEntries: positiveInteger('schemaCacheSize', options.schemaCacheSize, engineDefaults.schemaCacheSize),
        maxBytes: positiveInteger(
          'schemaCacheMaxBytes',
          options.schemaCacheMaxBytes,
          engineDefaults.schemaCacheMaxBytes,
        ),
      }),
    candidateCache: createCandidateCache(
      engineDefaults.candidateCacheEntries,
      positiveInteger(
        'candidateCacheMaxBytes',
        options.candidateCacheMaxBytes,
        engineDefaults.candidateCacheMaxBytes,
        true,
      ),
    ),
    maxPageSize: positiveInteger('maxPageSize', options.maxPageSize, engineDefaults.maxPageSize),
    budgetOptions: {
      concurrency,
      maxCandidates,
      timeSliceMs: positiveInteger('timeSliceMs', options.timeSliceMs, engineDefaults.timeSliceMs),
    },
    purges: createPurgeLog(),
  };
}

/** Drops the cached entries of a deleted tenant; work in flight across the purge does not put them back. */
export function purgeTenant(es: EngineState, tenantId: string): void {
  es.purges.purgeTenant(tenantId);
  es.resolver.purgeTenant(tenantId);
  es.checkCache.purgeTenant(tenantId);
  es.candidateCache.purgeTenant(tenantId);
}

export function purgeAll(es: EngineState): void {
  es.purges.purgeAll();
  es.resolver.purgeAll();
  es.checkCache.purgeAll();
  es.candidateCache.purgeAll();
}

/** Rejects a request depth above the engine limit (work on cyclic data grows with the budget). */
export function checkDepth(es: EngineState, depth: number): void {
  if (!Number.isInteger(depth) || depth > es.maxDepth) {
    throw new PermifyError('ERROR_CODE_VALIDATION', `depth ${depth} exceeds the engine limit maxDepth=${es.maxDepth}`, {
      details: { limit: 'maxDepth' },
    });
  }
}

/** The page size of a lookup: the wire default for 0/absent, else validated against maxPageSize. */
export function pageSizeOf(es: EngineState, n: number | undefined): number {
  const max = es.maxPageSize;
  if (n === undefined || n === 0) return Math.min(engineDefaults.pageSize, max);
  if (!Number.isInteger(n) || n < 1) throw new PermifyError('ERROR_CODE_VALIDATION', `page size must be ≥ 1, got ${n}`);
  if (n > max) {
    throw new PermifyError(
      'ERROR_CODE_VALIDATION',
      `page size ${n} exceeds the limit service.permission.max_page_size=${max}`,
      { details: { limit: 'maxPageSize' } },
    );
  }
  return n;
}

/** Anything an operation throws, as the PermifyError its caller receives. */
export function normalise(e: unknown): PermifyError {
  if (e instanceof ScopeCancelled) return new PermifyError('ERROR_CODE_CANCELLED', 'ERROR_CODE_CANCELLED');
  return toPermifyError(e);
}

/** Cancellation and deadlines end a whole request, even where item failures are answered per item. */
export function endsRequest(e: PermifyError): boolean {
  return e.code === 'ERROR_CODE_CANCELLED' || e.code === 'DEADLINE_EXCEEDED';
}

export function resultOf(b: boolean): CheckResult {
  return b ? 'allowed' : 'denied';
}

/** Whether results of a request may enter a cache (its tenant was not purged since it started). */
export function cacheable(es: EngineState, at: { readonly tenantId: string; readonly generation: number }): boolean {
  return !es.purges.purgedSince(at.tenantId, at.generation);
}

/** What a request reads: its tenant, the compiled schema of the resolved version, and the resolved snapshot. */
export interface ResolvedRequest {
  readonly tenantId: string;
  readonly schema: Schema;
  readonly schemaVersion: string;
  readonly snapToken: string;
  /** Purge generation when the request started. */
  readonly generation: number;
}

/** Resolves the request's schema version and snap token (read concurrently; empty means head). */
export async function resolveRequest(
  es: EngineState,
  tenantId: string,
  schemaVersion: string | undefined,
  snapToken: string | undefined,
  signal: AbortSignal | undefined,
): Promise<ResolvedRequest> {
  const generation = es.purges.generation;
  const schemaPromise = es.resolver.resolve(tenantId, schemaVersion, signal);
  // The schema may fail while the head token is still being read: mark the rejection handled now (it is
  // rethrown by the await below), or Node reports it as unhandled in between.
  schemaPromise.catch(() => {});
  const snap =
    snapToken !== undefined && snapToken !== '' ? snapToken : await es.reader.headSnapToken(tenantId, signal);
  const schema = await schemaPromise;
  return { tenantId, schema: schema.schema, schemaVersion: schema.version, snapToken: snap, generation };
}

/**
 * The evaluation state of a resolved request (a fresh work budget, memo and reader). Made only when something
 * is evaluated: a Check answered from the cache never builds one.
 */
export function evalStateOf(
  es: EngineState,
  at: ResolvedRequest,
  context: RequestContext | undefined,
  signal: AbortSignal | undefined,
): EvalState {
  return createEvalState({
    tenantId: at.tenantId,
    schema: at.schema,
    schemaVersion: at.schemaVersion,
    snapToken: at.snapToken,
    reader: es.reader,
    budget: createWorkBudget(es.budgetOptions),
    generation: at.generation,
    context,
    signal,
    concurrency: es.concurrency,
  });
}

/** {@link resolveRequest}, then {@link evalStateOf}: for operations that always evaluate. */
export async function prepare(
  es: EngineState,
  tenantId: string,
  schemaVersion: string | undefined,
  snapToken: string | undefined,
  context: RequestContext | undefined,
  signal: AbortSignal | undefined,
): Promise<EvalState> {
  return evalStateOf(es, await resolveRequest(es, tenantId, schemaVersion, snapToken, signal), context, signal);
}

/**
 * The check-cache view of a prepared request (its tenant, version, snapshot and context), made once per
 * request; undefined when the cache is off or the context is too large to be cached.
 */
export function cacheView(
  es: EngineState,
  at: { readonly tenantId: string; readonly schemaVersion: string; readonly snapToken: string },
  context: RequestContext | undefined,
): CheckCacheView | undefined {
  if (!es.cacheOn) return undefined;
  return es.checkCache.view(at.tenantId, at.schemaVersion, at.snapToken, contextKey(context));
}

/**
 * A full Check entering through `invoke` at `depth`, through the cache when `view` is given. `state` makes
 * the evaluation state, only on a miss.
 */
export async function cachedCheck(
  es: EngineState,
  view: CheckCacheView | undefined,
  state: () => EvalState,
  entity: Entity,
  permission: string,
  subject: Subject,
  depth: number,
  args: readonly string[] | undefined,
): Promise<{ can: CheckResult; count: number }> {
  if (view !== undefined) {
    const hit = es.checkCache.get(view, entity, permission, subject, args, depth);
    if (hit !== undefined) return { can: hit, count: 0 };
  }
  const st = state();
  const before = st.count;
  const can = resultOf(await checkRoot(st, entity, permission, subject, depth, args));
  if (view !== undefined && cacheable(es, st)) es.checkCache.set(view, entity, permission, subject, args, depth, can);
  return { can, count: st.count - before };
}

/**
 * Lookup/SubjectPermission verification: enters `evaluate` directly with `depth` (behaves like a Check with
 * depth + 1, §5.4), so it shares cache entries with such Checks.
 */
export async function cachedEvaluate(
  es: EngineState,
  st: EvalState,
  view: CheckCacheView | undefined,
  entity: Entity,
  permission: string,
  subject: Subject,
  depth: number,
  scope: Scope,
): Promise<boolean> {
  if (view !== undefined) {
    const hit = es.checkCache.get(view, entity, permission, subject, undefined, depth + 1);
    if (hit !== undefined) return hit === 'allowed';
  }
  const r = await evaluate(st, entity, permission, subject, depth, undefined, scope);
  if (view !== undefined && cacheable(es, st)) {
    es.checkCache.set(view, entity, permission, subject, undefined, depth + 1, resultOf(r));
  }
  return r;
}
