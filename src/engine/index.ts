/**
 * The permission engine: `createEngine(options)` implements {@link PermissionEngine} over the storage
 * contract (a DataReader and a SchemaStore), independent of any transport or backend.
 *
 * Request path of every method: resolve the schema version (empty ⇒ head, compiled once per version in a
 * bounded LRU) and the snap token (empty ⇒ reader.headSnapToken), THEN consult the check cache, then evaluate
 * against exactly that snapshot. Everything thrown is a PermifyError.
 *
 * Every request gets one {@link WorkBudget} (read concurrency, candidates, event-loop time slice) that all of
 * its fan-outs draw from. The caches (compiled schemas, check results, lookup candidate sets) are bounded by
 * entries and estimated bytes, and {@link PermissionEngine.purgeTenant} empties a deleted tenant's entries.
 */
import type { Entity, RequestContext, Subject } from '../data/types.js';
import { PermifyError, toPermifyError } from '../errors.js';
import type { DataReader, SchemaStore } from '../storage/contract.js';
import { createWorkBudget, defaultTimeSliceMs, type WorkBudgetOptions } from './budget.js';
import { candidateBytes, candidateCacheKey, createCandidateCache } from './candidate-cache.js';
import { checkCacheKey, createCheckCache, type CheckCache } from './check-cache.js';
import { checkRoot, evaluate } from './check.js';
import { mapBounded, Scope, ScopeCancelled } from './combine.js';
import { decodeToken, encodeToken, hashRequest } from './continuous-token.js';
import { explainCheck } from './explain.js';
import { expandTree } from './expand.js';
import { compareIds, LazySortedIds, sortIds } from './ids.js';
import { collectCandidates } from './lookup-entity.js';
import { allSubjectIds, lookupSubjectSet } from './lookup-subject.js';
import { createPurgeLog } from './purge-log.js';
import { createSchemaResolver, type SchemaResolver } from './schema-resolver.js';
import { contextKey, createEvalState, entityNotFound, type EvalState, forkEvalState, subjectText } from './state.js';
import type {
  BulkCheckRequest,
  BulkCheckResponse,
  CheckRequest,
  CheckResponse,
  CheckResult,
  ExpandRequest,
  ExpandResponse,
  ExplainResponse,
  LookupEntityRequest,
  LookupEntityResponse,
  LookupEntityStreamItem,
  LookupSubjectRequest,
  LookupSubjectResponse,
  PermissionEngine,
  SubjectPermissionRequest,
  SubjectPermissionResponse,
} from './types.js';

export type * from './types.js';

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
  /** Max concurrent sub-problems per combination (and per lookup page); default 100. */
  readonly concurrency?: number;
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
  maxLookupCandidates: 1_000_000,
  maxDepth: 1000,
  maxExplainNodes: 100_000,
  pageSize: 1000,
} as const;

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

/** Extra candidate checks started beyond the ids still needed for the page. */
const lookaheadSlack = 16;

function resultOf(b: boolean): CheckResult {
  return b ? 'allowed' : 'denied';
}

function normalise(e: unknown): PermifyError {
  if (e instanceof ScopeCancelled) return new PermifyError('ERROR_CODE_CANCELLED', 'ERROR_CODE_CANCELLED');
  return toPermifyError(e);
}

function lowerBound(ids: readonly string[], cursor: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareIds(ids[mid] as string, cursor) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function pageSizeOf(n: number | undefined, max: number): number {
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

/** Creates the engine. Options are validated eagerly (ERROR_CODE_VALIDATION naming the option). */
export function createEngine(options: EngineOptions): PermissionEngine {
  const reader = options.reader;
  const concurrency = positiveInteger('concurrency', options.concurrency, engineDefaults.concurrency);
  const maxCandidates = positiveInteger(
    'maxLookupCandidates',
    options.maxLookupCandidates,
    engineDefaults.maxLookupCandidates,
  );
  const maxDepth = positiveInteger('maxDepth', options.maxDepth, engineDefaults.maxDepth);
  const maxExplainNodes = positiveInteger('maxExplainNodes', options.maxExplainNodes, engineDefaults.maxExplainNodes);
  const checkDepth = (depth: number): void => {
    if (!Number.isInteger(depth) || depth > maxDepth) {
      throw new PermifyError('ERROR_CODE_VALIDATION', `depth ${depth} exceeds the engine limit maxDepth=${maxDepth}`, {
        details: { limit: 'maxDepth' },
      });
    }
  };
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
  const cache: CheckCache = createCheckCache(checkCacheEntries, checkCacheBytes);
  const cacheOn = checkCacheEntries > 0 && checkCacheBytes > 0;
  const resolver: SchemaResolver =
    options.schemaResolver ??
    createSchemaResolver(options.schemas, {
      maxEntries: positiveInteger('schemaCacheSize', options.schemaCacheSize, engineDefaults.schemaCacheSize),
      maxBytes: positiveInteger('schemaCacheMaxBytes', options.schemaCacheMaxBytes, engineDefaults.schemaCacheMaxBytes),
    });
  const candidateCache = createCandidateCache(
    engineDefaults.candidateCacheEntries,
    positiveInteger(
      'candidateCacheMaxBytes',
      options.candidateCacheMaxBytes,
      engineDefaults.candidateCacheMaxBytes,
      true,
    ),
  );
  const maxPageSize = positiveInteger('maxPageSize', options.maxPageSize, engineDefaults.maxPageSize);
  const budgetOptions: WorkBudgetOptions = {
    concurrency,
    maxCandidates,
    timeSliceMs: positiveInteger('timeSliceMs', options.timeSliceMs, engineDefaults.timeSliceMs),
  };
  // Results computed across a purge of their tenant are not cached (the purge may have come after their reads).
  const purges = createPurgeLog();
  const cacheable = (st: EvalState): boolean => !purges.purgedSince(st.tenantId, st.generation);

  async function prepare(
    tenantId: string,
    schemaVersion: string | undefined,
    snapToken: string | undefined,
    context: RequestContext | undefined,
    signal: AbortSignal | undefined,
  ): Promise<EvalState> {
    const generation = purges.generation;
    const schemaPromise = resolver.resolve(tenantId, schemaVersion, signal);
    // The schema may fail while the head token is still being read: mark the rejection handled now (it is
    // rethrown by the await below), or Node reports it as unhandled in between.
    schemaPromise.catch(() => {});
    const snap =
      snapToken !== undefined && snapToken !== '' ? snapToken : await reader.headSnapToken(tenantId, signal);
    const schema = await schemaPromise;
    return createEvalState({
      tenantId,
      schema: schema.schema,
      schemaVersion: schema.version,
      snapToken: snap,
      reader,
      budget: createWorkBudget(budgetOptions),
      generation,
      context,
      signal,
      concurrency,
    });
  }

  /** A full Check entering through `invoke` at `depth`, through the cache. */
  async function cachedCheck(
    st: EvalState,
    ctxKey: string,
    entity: Entity,
    permission: string,
    subject: Subject,
    depth: number,
    args: readonly string[] | undefined,
  ): Promise<{ can: CheckResult; count: number }> {
    let key = '';
    if (cacheOn) {
      key = checkCacheKey(st.tenantId, st.schemaVersion, st.snapToken, ctxKey, entity, permission, subject, args);
      const hit = cache.get(key, depth);
      if (hit !== undefined) return { can: hit, count: 0 };
    }
    const before = st.count;
    const can = resultOf(await checkRoot(st, entity, permission, subject, depth, args));
    if (cacheOn && cacheable(st)) cache.set(key, depth, can);
    return { can, count: st.count - before };
  }

  /**
   * Lookup/SubjectPermission verification: enters `evaluate` directly with `depth` (behaves like a Check with
   * depth + 1, §5.4), so it shares cache entries with such Checks.
   */
  async function cachedEvaluate(
    st: EvalState,
    ctxKey: string,
    entity: Entity,
    permission: string,
    subject: Subject,
    depth: number,
    scope: Scope,
  ): Promise<boolean> {
    let key = '';
    if (cacheOn) {
      key = checkCacheKey(st.tenantId, st.schemaVersion, st.snapToken, ctxKey, entity, permission, subject, undefined);
      const hit = cache.get(key, depth + 1);
      if (hit !== undefined) return hit === 'allowed';
    }
    const r = await evaluate(st, entity, permission, subject, depth, undefined, scope);
    if (cacheOn && cacheable(st)) cache.set(key, depth + 1, resultOf(r));
    return r;
  }

  async function* lookupEntityItems(
    req: LookupEntityRequest,
    signal?: AbortSignal,
  ): AsyncGenerator<LookupEntityStreamItem> {
    const pageSize = pageSizeOf(req.pageSize, maxPageSize);
    checkDepth(req.metadata.depth);
    const ctxKey = contextKey(req.context);
    const scopeText =
      req.scope === undefined
        ? ''
        : [...req.scope.entries()]
            .sort((a, b) => compareIds(a[0], b[0]))
            .map(([t, ids]) => `${t}=${[...ids].sort(compareIds).join(',')}`)
            .join(';');
    const hash = hashRequest([
      'lookup-entity',
      req.tenantId,
      req.entityType,
      req.permission,
      subjectText(req.subject),
      ctxKey,
      scopeText,
      String(req.metadata.depth),
    ]);
    let cursor: string | undefined;
    let version = req.metadata.schemaVersion;
    let snap = req.metadata.snapToken;
    if (req.continuousToken !== undefined && req.continuousToken !== '') {
      const t = decodeToken(req.continuousToken, hash);
      cursor = t.next;
      version = t.schemaVersion;
      snap = t.snapToken;
    }
    const prepared = await prepare(req.tenantId, version, snap, req.context, signal);
    // Parallelism is spent across candidates (the window below); inside one candidate's check the children
    // run one at a time, so a candidate allowed by its first branch never pays for the others.
    const st: EvalState = { ...prepared, concurrency: 1 };
    // Continuation pages reuse the candidate set of the first page (same request, snapshot and version).
    const cacheKey = candidateCacheKey(st.tenantId, hash, st.snapToken, st.schemaVersion);
    let candidates = cursor === undefined ? undefined : candidateCache.get(cacheKey);
    if (candidates === undefined) {
      const candidateSet = await collectCandidates(prepared, {
        entityType: req.entityType,
        permission: req.permission,
        subject: req.subject,
        scope: req.scope,
        maxCandidates,
      });
      // Only the ids a page reaches get sorted (a first page of a huge candidate set costs a linear selection).
      // Each step is linear in the candidates: the event loop gets a turn between them when one is due.
      await st.budget.pause();
      const ids = [...candidateSet];
      await st.budget.pause();
      candidates = new LazySortedIds(ids, pageSize + lookaheadSlack + concurrency);
      if (ids.length > pageSize && cacheable(st)) {
        candidateCache.set(cacheKey, st.tenantId, candidates, candidateBytes(ids));
      }
    }
    const sorted = candidates;
    const first = cursor === undefined ? 0 : sorted.lowerBound(cursor);
    const n = sorted.length;
    const tokenAt = (i: number): string =>
      i < n
        ? encodeToken({
            next: sorted.at(i) as string,
            snapToken: st.snapToken,
            schemaVersion: st.schemaVersion,
            requestHash: hash,
          })
        : '';
    const depth = req.metadata.depth;
    const lookupScope = new Scope(undefined);
    type Outcome = { ok: true; allowed: boolean } | { ok: false; error: unknown };
    const window: Promise<Outcome>[] = [];
    let launched = first;
    let emitted = 0;
    // Look ahead no further than the ids still needed (plus a little slack): checks past a full page are waste.
    const launch = (): void => {
      const limit = Math.min(concurrency, pageSize - emitted + lookaheadSlack);
      while (window.length < limit && launched < n) {
        const id = sorted.at(launched++) as string;
        window.push(
          cachedEvaluate(
            st,
            ctxKey,
            { type: req.entityType, id },
            req.permission,
            req.subject,
            depth,
            new Scope(lookupScope),
          ).then(
            (allowed): Outcome => ({ ok: true, allowed }),
            (error: unknown): Outcome => ({ ok: false, error }),
          ),
        );
      }
    };
    try {
      launch();
      for (let i = first; i < n && emitted < pageSize; i++) {
        // Cached verdicts need no reads, so the loop itself gives the event loop its turns.
        const turn = st.budget.pause();
        if (turn !== undefined) await turn;
        const outcome = await (window.shift() as Promise<Outcome>);
        if (!outcome.ok) {
          const e = normalise(outcome.error);
          if (e.code === 'ERROR_CODE_CANCELLED' || e.code === 'DEADLINE_EXCEEDED') throw e;
          throw new PermifyError(
            'ERROR_CODE_INTERNAL',
            `bulk execution failed: failed to get request result: ${e.message}`,
            {
              cause: e,
            },
          );
        }
        if (outcome.allowed) {
          emitted++;
          yield { entityId: sorted.at(i) as string, continuousToken: tokenAt(i + 1) };
        }
        if (emitted < pageSize) launch();
      }
    } finally {
      lookupScope.cancelled = true;
    }
  }

  return {
    purgeTenant(tenantId: string): void {
      purges.purgeTenant(tenantId);
      resolver.purgeTenant(tenantId);
      cache.purgeTenant(tenantId);
      candidateCache.purgeTenant(tenantId);
    },

    purgeAll(): void {
      purges.purgeAll();
      resolver.purgeAll();
      cache.purgeAll();
      candidateCache.purgeAll();
    },

    async check(req: CheckRequest, signal?: AbortSignal): Promise<CheckResponse> {
      try {
        checkDepth(req.metadata.depth);
        const st = await prepare(req.tenantId, req.metadata.schemaVersion, req.metadata.snapToken, req.context, signal);
        const r = await cachedCheck(
          st,
          cacheOn ? contextKey(req.context) : '',
          req.entity,
          req.permission,
          req.subject,
          req.metadata.depth,
          req.arguments,
        );
        return { can: r.can, metadata: { checkCount: r.count } };
      } catch (e) {
        throw normalise(e);
      }
    },

    async explain(req: CheckRequest, signal?: AbortSignal): Promise<ExplainResponse> {
      try {
        checkDepth(req.metadata.depth);
        const st = await prepare(req.tenantId, req.metadata.schemaVersion, req.metadata.snapToken, req.context, signal);
        let cached = false;
        if (cacheOn) {
          const key = checkCacheKey(
            st.tenantId,
            st.schemaVersion,
            st.snapToken,
            contextKey(req.context),
            req.entity,
            req.permission,
            req.subject,
            req.arguments,
          );
          cached = cache.get(key, req.metadata.depth) !== undefined;
        }
        return await explainCheck({ ...st, concurrency: 1 }, req, cached, maxExplainNodes);
      } catch (e) {
        throw normalise(e);
      }
    },

    async bulkCheck(req: BulkCheckRequest, signal?: AbortSignal): Promise<BulkCheckResponse> {
      const failed: CheckResponse = { can: 'denied', metadata: { checkCount: 1 } };
      try {
        checkDepth(req.metadata.depth);
      } catch (e) {
        throw normalise(e);
      }
      let st: EvalState;
      try {
        st = await prepare(req.tenantId, req.metadata.schemaVersion, req.metadata.snapToken, req.context, signal);
      } catch (e) {
        const err = normalise(e);
        if (err.code === 'ERROR_CODE_CANCELLED' || err.code === 'DEADLINE_EXCEEDED') throw err;
        return { results: req.items.map(() => failed) };
      }
      const ctxKey = cacheOn ? contextKey(req.context) : '';
      const base = st;
      const results = await mapBounded(req.items, concurrency, async (item): Promise<CheckResponse> => {
        try {
          const r = await cachedCheck(
            forkEvalState(base),
            ctxKey,
            item.entity,
            item.permission,
            item.subject,
            req.metadata.depth,
            req.arguments,
          );
          return { can: r.can, metadata: { checkCount: r.count } };
        } catch (e) {
          const err = normalise(e);
          if (err.code === 'ERROR_CODE_CANCELLED' || err.code === 'DEADLINE_EXCEEDED') throw err;
          return failed;
        }
      }).catch((e: unknown) => {
        throw normalise(e);
      });
      return { results };
    },

    async expand(req: ExpandRequest, signal?: AbortSignal): Promise<ExpandResponse> {
      try {
        const st = await prepare(req.tenantId, req.metadata.schemaVersion, req.metadata.snapToken, req.context, signal);
        return { tree: await expandTree(st, req.entity, req.permission, req.arguments) };
      } catch (e) {
        throw normalise(e);
      }
    },

    async lookupEntity(req: LookupEntityRequest, signal?: AbortSignal): Promise<LookupEntityResponse> {
      try {
        const entityIds: string[] = [];
        let continuousToken = '';
        for await (const item of lookupEntityItems(req, signal)) {
          entityIds.push(item.entityId);
          continuousToken = item.continuousToken;
        }
        return { entityIds, continuousToken };
      } catch (e) {
        throw normalise(e);
      }
    },

    lookupEntityStream(req: LookupEntityRequest, signal?: AbortSignal): AsyncIterable<LookupEntityStreamItem> {
      return {
        async *[Symbol.asyncIterator]() {
          try {
            yield* lookupEntityItems(req, signal);
          } catch (e) {
            throw normalise(e);
          }
        },
      };
    },

    async lookupSubject(req: LookupSubjectRequest, signal?: AbortSignal): Promise<LookupSubjectResponse> {
      try {
        const pageSize = pageSizeOf(req.pageSize, maxPageSize);
        const hash = hashRequest([
          'lookup-subject',
          req.tenantId,
          req.entity.type,
          req.entity.id,
          req.permission,
          req.subjectReference.type,
          req.subjectReference.relation,
          contextKey(req.context),
        ]);
        let cursor: string | undefined;
        let version = req.metadata.schemaVersion;
        let snap = req.metadata.snapToken;
        if (req.continuousToken !== undefined && req.continuousToken !== '') {
          const t = decodeToken(req.continuousToken, hash);
          cursor = t.next;
          version = t.schemaVersion;
          snap = t.snapToken;
        }
        const st = await prepare(req.tenantId, version, snap, req.context, signal);
        const set = await lookupSubjectSet(st, req.entity, req.permission, req.subjectReference, undefined);
        let ids: string[];
        if (set.all) {
          const every = await allSubjectIds(st, req.subjectReference);
          // Ascending; filtering keeps the order.
          ids = every.filter((id) => !set.ids.has(id));
        } else ids = sortIds([...set.ids]);
        st.budget.charge(ids.length);
        const start = cursor === undefined ? 0 : lowerBound(ids, cursor);
        const end = Math.min(ids.length, start + pageSize);
        const continuousToken =
          end < ids.length
            ? encodeToken({
                next: ids[end] as string,
                snapToken: st.snapToken,
                schemaVersion: st.schemaVersion,
                requestHash: hash,
              })
            : '';
        return { subjectIds: ids.slice(start, end), continuousToken };
      } catch (e) {
        throw normalise(e);
      }
    },

    async subjectPermission(req: SubjectPermissionRequest, signal?: AbortSignal): Promise<SubjectPermissionResponse> {
      try {
        checkDepth(req.metadata.depth);
        const st = await prepare(req.tenantId, req.metadata.schemaVersion, req.metadata.snapToken, req.context, signal);
        const def = st.schema.entities.get(req.entity.type);
        if (def === undefined) throw entityNotFound(req.entity.type);
        const names = def.memberOrder.filter((m) => {
          const k = def.references.get(m);
          return k === 'permission' || (k === 'relation' && req.metadata.onlyPermission !== true);
        });
        const ctxKey = cacheOn ? contextKey(req.context) : '';
        const values = await mapBounded(names, concurrency, (name) =>
          cachedEvaluate(st, ctxKey, req.entity, name, req.subject, req.metadata.depth, new Scope(undefined)),
        );
        const results = new Map<string, CheckResult>();
        names.forEach((n, i) => results.set(n, resultOf(values[i] as boolean)));
        return { results };
      } catch (e) {
        throw normalise(e);
      }
    },
  };
}
