/**
 * Batched direct reads: a decorator over the PostgreSQL reader that turns the engine's many small
 * `entity#relation` reads into few statements, without the engine knowing.
 *
 * - One fetch per step: the engine reads a relation first with an exact subject, and only without a hit
 *   once more per userset relation (`@group#member`). The first read fetches the exact subject's rows and
 *   every userset row of `entity#relation` together; the userset reads that follow are answered from it.
 * - Coalescing: reads issued in the same event-loop turn (sibling branches of a wave, concurrent requests)
 *   at one tenant and snap token go out as one statement over `unnest`ed keys (relationRows), at most
 *   `maxKeysPerStatement` keys each; identical keys share one fetch.
 *
 * A coalesced statement serves several callers; it runs in the trace context (OpenTelemetry's active context)
 * of the first of them that had one, so a sampled call's trace shows the SQL its reads went out in. Without
 * tracing the active context is always the empty one and this costs one lookup per read.
 *
 * Fetched rows are kept for `prefetchTtlMs` (short by default: they serve the reads of one step and its
 * siblings; with the store's snapshot read cache on they stay until evicted and are that cache); a snap token
 * names a fixed snapshot, so they cannot be stale, and a deleted tenant's are purged with the reader's cache. Each caller's filter is applied to the fetched rows, whose order (by row
 * id) is kept, so results are exactly the direct reader's. Other reads (paginated, lookups with
 * `entityIdFrom`, filters without one entity and relation) go to the direct reader unchanged.
 */
import { context, ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import { LRUCache } from 'lru-cache';
import type { Tuple } from '../../data/types.js';
import type { QueryOptions, SnapToken, TupleFilter } from '../contract.js';
import { raceAbort } from './database.js';
import type { PostgresDataReader, RelationKey } from './data-reader.js';
import { checkTupleFilter } from './validate.js';
import { normaliseRelation } from './values.js';

export interface BatchingReaderOptions {
  /** Keys per statement (default 256). */
  readonly maxKeysPerStatement?: number;
  /**
   * How long fetched rows serve later reads (default 100 ms; 0 = until evicted, for a store whose snapshot
   * read cache is on: then this is that cache for the reads it batches).
   */
  readonly prefetchTtlMs?: number;
  /** Entries of fetched `entity#relation` rows kept (default 20 000). */
  readonly prefetchEntries?: number;
}

export interface BatchingReaderStats {
  /** Statements sent (relationRows calls). */
  statements: number;
  /** Reads answered by a fetch (shared or not). */
  reads: number;
}

interface Fetched {
  /** Every row of the key (else: the exact subject's rows and the userset rows). */
  readonly all: boolean;
  /** `type \0 id` of the exact subject ('' = none: userset rows only). */
  readonly subject: string;
  readonly rows: Promise<readonly Tuple[]>;
}

/** What a read needs of `entity#relation`. */
interface Need {
  readonly all: boolean;
  /** For `all: false`: the exact subject, or undefined when the userset rows suffice. */
  readonly subject: { readonly type: string; readonly id: string } | undefined;
}

interface PendingKey {
  readonly key: RelationKey;
  /** The caller's active trace context. */
  readonly trace: Context;
  resolve(rows: readonly Tuple[]): void;
  reject(e: unknown): void;
}

/** The read's need, or undefined when it is not a single `entity#relation` read. */
function needOf(filter: TupleFilter, options: QueryOptions | undefined): Need | undefined {
  if (options?.entityIdFrom !== undefined && options.entityIdFrom !== '') return undefined;
  if (!filter.entity?.type || filter.entity.ids?.length !== 1 || !filter.relation) return undefined;
  const s = filter.subject;
  if (s === undefined) return { all: true, subject: undefined };
  const ids = s.ids ?? [];
  if (s.type && ids.length === 1) return { all: false, subject: { type: s.type, id: ids[0] as string } };
  // Only userset rows can match a non-empty subject relation.
  if (s.relation && normaliseRelation(s.relation) !== '') return { all: false, subject: undefined };
  return { all: true, subject: undefined };
}

function covers(f: Fetched, need: Need): boolean {
  if (f.all) return true;
  if (need.all) return false;
  return need.subject === undefined || f.subject === `${need.subject.type}\u0000${need.subject.id}`;
}

/** The contract's filter semantics on one tuple of the fetched key (entity and relation already match). */
function subjectMatches(filter: TupleFilter, t: Tuple): boolean {
  const s = filter.subject;
  if (s === undefined) return true;
  if (s.type && t.subject.type !== s.type) return false;
  if (s.ids !== undefined && s.ids.length > 0 && !s.ids.includes(t.subject.id)) return false;
  if (s.relation && normaliseRelation(t.subject.relation) !== normaliseRelation(s.relation)) return false;
  return true;
}

export function createBatchingReader(
  inner: PostgresDataReader,
  options: BatchingReaderOptions = {},
): PostgresDataReader & { readonly batchStats: BatchingReaderStats } {
  const maxKeys = Math.max(1, options.maxKeysPerStatement ?? 256);
  const ttlMs = options.prefetchTtlMs ?? 100;
  const fetched = new LRUCache<string, Fetched>({
    max: Math.max(1, options.prefetchEntries ?? 20_000),
    ...(ttlMs > 0 ? { ttl: ttlMs, ttlAutopurge: false } : {}),
  });
  const stats: BatchingReaderStats = { statements: 0, reads: 0 };
  /** Keys waiting for the end of the turn, per `tenant \0 token`. */
  let pending = new Map<string, { tenantId: string; token: SnapToken; keys: PendingKey[] }>();
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    const groups = pending;
    pending = new Map();
    for (const g of groups.values()) {
      for (let i = 0; i < g.keys.length; i += maxKeys) {
        const chunk = g.keys.slice(i, i + maxKeys);
        stats.statements += 1;
        // Not tied to any one caller's signal (each caller stops waiting on its own); the statement timeout
        // bounds it.
        const read = (): Promise<readonly (readonly Tuple[])[]> =>
          inner.relationRows(
            g.tenantId,
            g.token,
            chunk.map((p) => p.key),
          );
        // Always entered, the empty context included: flush runs in whatever context scheduled it.
        context.with(chunk.find((p) => p.trace !== ROOT_CONTEXT)?.trace ?? ROOT_CONTEXT, read)
          .then(
            (rows) => chunk.forEach((p, j) => p.resolve(rows[j] as Tuple[])),
            (e: unknown) => chunk.forEach((p) => p.reject(e)),
          );
      }
    }
  }

  function enqueue(tenantId: string, token: SnapToken, key: RelationKey): Promise<readonly Tuple[]> {
    const g = `${tenantId}\u0000${token}`;
    let group = pending.get(g);
    if (group === undefined) pending.set(g, (group = { tenantId, token, keys: [] }));
    const keys = group.keys;
    const trace = context.active();
    const p = new Promise<readonly Tuple[]>((resolve, reject) => keys.push({ key, trace, resolve, reject }));
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
    return p;
  }

  async function queryRelationships(
    tenantId: string,
    filter: TupleFilter,
    snapToken: SnapToken,
    options?: QueryOptions,
  ): Promise<readonly Tuple[]> {
    const need = needOf(filter, options);
    if (need === undefined) return inner.queryRelationships(tenantId, filter, snapToken, options);
    checkTupleFilter(filter);
    const entityType = filter.entity?.type as string;
    const entityId = filter.entity?.ids?.[0] as string;
    const relation = filter.relation as string;
    const k = `${tenantId}\u0000${snapToken}\u0000${entityType}\u0000${entityId}\u0000${relation}`;
    let f = fetched.get(k);
    if (f === undefined || !covers(f, need)) {
      const subject = need.all ? undefined : (need.subject ?? { type: '', id: '' });
      const key: RelationKey =
        subject === undefined ? { entityType, entityId, relation } : { entityType, entityId, relation, subject };
      const entry: Fetched = {
        all: need.all,
        subject: subject === undefined ? '' : `${subject.type}\u0000${subject.id}`,
        rows: enqueue(tenantId, snapToken, key),
      };
      f = entry;
      fetched.set(k, entry);
      entry.rows.catch(() => {
        if (fetched.peek(k) === entry) fetched.delete(k);
      });
    }
    stats.reads += 1;
    const rows = await raceAbort(f.rows, options?.signal);
    if (filter.subject === undefined) return rows.slice();
    return rows.filter((t) => subjectMatches(filter, t));
  }

  return {
    batchStats: stats,
    purgeTenant(tenantId) {
      if (tenantId === undefined) fetched.clear();
      else for (const key of [...fetched.keys()]) if (key.startsWith(`${tenantId}\u0000`)) fetched.delete(key);
      inner.purgeTenant(tenantId);
    },
    relationRows: (tenantId, snapToken, keys, signal) => inner.relationRows(tenantId, snapToken, keys, signal),
    headSnapToken: (tenantId, signal) => inner.headSnapToken(tenantId, signal),
    queryRelationships,
    readRelationships: (tenantId, filter, snapToken, page, signal) =>
      inner.readRelationships(tenantId, filter, snapToken, page, signal),
    querySingleAttribute: (tenantId, entity, attribute, snapToken, signal) =>
      inner.querySingleAttribute(tenantId, entity, attribute, snapToken, signal),
    queryAttributes: (tenantId, filter, snapToken, options) =>
      inner.queryAttributes(tenantId, filter, snapToken, options),
    readAttributes: (tenantId, filter, snapToken, page, signal) =>
      inner.readAttributes(tenantId, filter, snapToken, page, signal),
    queryUniqueSubjectIds: (tenantId, subjectType, subjectRelation, snapToken, signal) =>
      inner.queryUniqueSubjectIds(tenantId, subjectType, subjectRelation, snapToken, signal),
  };
}
