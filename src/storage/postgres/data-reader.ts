/**
 * Snapshot reads (api-and-operations.md §11.4). Every query runs on the reader pool as a named prepared
 * statement, restricted to one tenant and to the rows visible at the token's (X, S):
 *
 *   (pg_visible_in_snapshot(created_tx_id, S) OR created_tx_id = X)
 *   AND (expired_tx_id = sentinel OR NOT pg_visible_in_snapshot(expired_tx_id, S))
 *   AND expired_tx_id <> X
 *
 * The engine's access patterns hit the indexes: entity type+id(+relation) -> idx_tuples_entity, subject ->
 * idx_tuples_subject, entity type (+ entityIdFrom range) -> idx_tuples_entity, attributes ->
 * uq_attribute_not_expired. Results are ordered by row id (insertion order).
 */
import { LRUCache } from 'lru-cache';
import type { Attribute, Entity, Tuple } from '../../data/types.js';
import { PermifyError } from '../../errors.js';
import type {
  AttributeFilter,
  DataReader,
  Page,
  PageRequest,
  QueryOptions,
  SnapToken,
  TupleFilter,
} from '../contract.js';
import { liveSentinel, query, raceAbort, type Database } from './database.js';
import {
  decodeToken,
  encodeToken,
  formatPgSnapshot,
  legacyToken,
  parsePgSnapshot,
  type PgSnapshot,
} from './snap-token.js';
import { checkAttributeFilter, checkTupleFilter } from './validate.js';
import {
  attributeFromRow,
  decodePageToken,
  encodePageToken,
  normaliseRelation,
  tupleFromRow,
  type AttributeRow,
  type TupleRow,
} from './values.js';

/** A token resolved to its transaction id and snapshot (both as SQL text parameters). */
export interface ResolvedToken {
  readonly xid: string;
  readonly snapshot: string;
}

const nothingVisible = '1:1:';

/** SQL parameters collector. */
class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

function visibility(p: Params, t: ResolvedToken): string {
  const x = p.add(t.xid);
  const s = p.add(t.snapshot);
  return (
    `(pg_visible_in_snapshot(created_tx_id, ${s}::pg_snapshot) OR created_tx_id = ${x}::xid8)` +
    ` AND (expired_tx_id = '${liveSentinel}'::xid8 OR NOT pg_visible_in_snapshot(expired_tx_id, ${s}::pg_snapshot))` +
    ` AND expired_tx_id <> ${x}::xid8`
  );
}

function idCondition(column: string, ids: readonly string[] | undefined, p: Params): string | undefined {
  if (!ids || ids.length === 0) return undefined;
  if (ids.length === 1) return `${column} = ${p.add(ids[0])}`;
  return `${column} = ANY(${p.add(ids)}::text[])`;
}

/** WHERE conditions of a tuple filter (without tenant and visibility). */
export function tupleFilterConditions(filter: TupleFilter, p: Params): string[] {
  const c: string[] = [];
  if (filter.entity?.type) c.push(`entity_type = ${p.add(filter.entity.type)}`);
  const eid = idCondition('entity_id', filter.entity?.ids, p);
  if (eid) c.push(eid);
  if (filter.relation) c.push(`relation = ${p.add(filter.relation)}`);
  if (filter.subject?.type) c.push(`subject_type = ${p.add(filter.subject.type)}`);
  const sid = idCondition('subject_id', filter.subject?.ids, p);
  if (sid) c.push(sid);
  if (filter.subject?.relation) c.push(`subject_relation = ${p.add(normaliseRelation(filter.subject.relation))}`);
  return c;
}

export function attributeFilterConditions(filter: AttributeFilter, p: Params): string[] {
  const c: string[] = [];
  if (filter.entity?.type) c.push(`entity_type = ${p.add(filter.entity.type)}`);
  const eid = idCondition('entity_id', filter.entity?.ids, p);
  if (eid) c.push(eid);
  const names = filter.attributes ?? [];
  if (names.length === 1) c.push(`attribute = ${p.add(names[0])}`);
  else if (names.length > 1) c.push(`attribute = ANY(${p.add(names)}::text[])`);
  return c;
}

export { Params };

const tupleColumns = 'id, entity_type, entity_id, relation, subject_type, subject_id, subject_relation';
const attributeColumns = 'id, entity_type, entity_id, attribute, value';

function pageSize(page: PageRequest): number {
  if (!Number.isSafeInteger(page.size) || page.size < 1) {
    throw new PermifyError('ERROR_CODE_VALIDATION', 'page size must be at least 1', {
      details: { limit: 'page_size' },
    });
  }
  return page.size;
}

/** Head token of a tenant (see {@link DataReader.headSnapToken}); exported for the Watch and the tests. */
export async function headToken(db: Database, tenantId: string, signal?: AbortSignal): Promise<SnapToken> {
  // The alias must differ from the column: `ORDER BY id` would otherwise sort the text alias, and '9999'
  // sorts after '10000' (every power of ten would make the head fall back to an old transaction).
  const r = await query<{ xid: string; cur: string }>(
    db.reader,
    'SELECT t.id::text AS xid, pg_current_snapshot()::text AS cur FROM transactions t WHERE t.tenant_id = $1 ORDER BY t.id DESC LIMIT 1',
    [tenantId],
    signal,
  );
  const row = r.rows[0];
  if (!row) return legacyToken(0n);
  const x = BigInt(row.xid);
  const cur = parsePgSnapshot(row.cur);
  // The newest committed transaction X is visible in the current snapshot C. Only transactions ≤ X can
  // have tenant rows that are committed now, so C restricted to ids ≤ X decides visibility exactly; the
  // restriction keeps the token stable while the tenant is quiet (other tenants' writes do not change it).
  const xmax = x + 1n;
  const xmin = cur.xmin < xmax ? cur.xmin : xmax;
  const snapshot: PgSnapshot = { xmin, xmax, xip: cur.xip.filter((t) => t >= xmin && t <= x) };
  return encodeToken({ xid: x, snapshot });
}

export interface PostgresReaderOptions {
  /**
   * Entries of the snapshot read cache (0 disables it). Default {@link DEFAULT_READ_CACHE_ENTRIES}.
   */
  readonly readCacheEntries?: number;
  /** Results with more rows than this are not kept. Default {@link DEFAULT_READ_CACHE_MAX_ROWS}. */
  readonly readCacheMaxRows?: number;
}

export const DEFAULT_READ_CACHE_ENTRIES = 10_000;
export const DEFAULT_READ_CACHE_MAX_ROWS = 1_000;

/** A load shared by the callers of one cache key. */
interface SharedLoad {
  readonly promise: Promise<readonly unknown[]>;
  /** Aborts the load's statement; used when every caller still waiting has given up. */
  readonly controller: AbortController;
  /** Callers waiting for the load to settle. */
  waiters: number;
  settled: boolean;
}

/**
 * The snapshot read cache: results of the engine's query calls keyed by (tenant, snap token, call,
 * arguments). A snap token names a fixed snapshot, so a result read at it never changes and needs no
 * invalidation. Entries hold the pending load, so concurrent identical reads share one round trip; a
 * failed read is dropped, and so is a result too large to be worth keeping.
 */
class SnapshotReadCache {
  private readonly lru: LRUCache<string, SharedLoad> | undefined;
  constructor(
    entries: number,
    private readonly maxRows: number,
  ) {
    this.lru = entries > 0 ? new LRUCache({ max: entries }) : undefined;
  }

  /**
   * The cached result of `key`, else `load`'s. A shared load is not tied to any one caller's signal (one
   * caller giving up must not fail the others): each caller stops waiting when its own signal aborts, and
   * once every caller still waiting has given up, the load itself is aborted (its statement is cancelled
   * on the server) and forgotten.
   */
  get<T>(
    key: string,
    load: (signal?: AbortSignal) => Promise<readonly T[]>,
    signal: AbortSignal | undefined,
  ): Promise<readonly T[]> {
    const lru = this.lru;
    if (lru === undefined) return load(signal);
    let shared = lru.get(key);
    if (shared === undefined) {
      const controller = new AbortController();
      const promise = load(controller.signal).then((rows) => Object.freeze(rows));
      const entry: SharedLoad = { promise, controller, waiters: 0, settled: false };
      shared = entry;
      lru.set(key, entry);
      promise.then(
        (rows) => {
          entry.settled = true;
          if (rows.length > this.maxRows && lru.peek(key) === entry) lru.delete(key);
        },
        () => {
          entry.settled = true;
          if (lru.peek(key) === entry) lru.delete(key);
        },
      );
    }
    if (shared.settled) return raceAbort(shared.promise as Promise<readonly T[]>, signal);
    const entry = shared;
    entry.waiters += 1;
    const release = () => {
      entry.waiters -= 1;
      if (entry.waiters > 0 || entry.settled) return;
      if (lru.peek(key) === entry) lru.delete(key);
      entry.controller.abort();
    };
    return raceAbort(entry.promise as Promise<readonly T[]>, signal).finally(release);
  }

  /** Forgets a tenant's entries (undefined: all). Keys start with `kind sep tenantId sep`. */
  purge(tenantId: string | undefined): void {
    const lru = this.lru;
    if (lru === undefined) return;
    if (tenantId === undefined) return lru.clear();
    for (const key of [...lru.keys()]) if (key.split(sep, 2)[1] === tenantId) lru.delete(key);
  }
}

const sep = '\u0000';
const idsKey = (ids: readonly string[] | undefined): string => (ids === undefined ? '' : ids.join('\u0001'));

function tupleFilterKey(f: TupleFilter): string {
  return [
    f.entity?.type ?? '',
    idsKey(f.entity?.ids),
    f.relation ?? '',
    f.subject?.type ?? '',
    idsKey(f.subject?.ids),
    normaliseRelation(f.subject?.relation),
  ].join(sep);
}

function attributeFilterKey(f: AttributeFilter): string {
  return [f.entity?.type ?? '', idsKey(f.entity?.ids), idsKey(f.attributes)].join(sep);
}

/**
 * The PostgreSQL reader, plus `purgeTenant`: a snap token is fixed only while its tenant lives. Deleting a tenant
 * deletes its rows outright, so answers cached at an old token would show the old incarnation after re-creation.
 */
export interface PostgresDataReader extends DataReader {
  /** Forgets what was cached for a deleted tenant (undefined: for every tenant, when deletions were missed). */
  purgeTenant(tenantId: string | undefined): void;
  /**
   * Tuples of several `entity#relation` keys at one token in one statement (the batching reader's fetch).
   * A key with a `subject` yields the rows of that subject (type and id, any subject relation) and every
   * userset row (subject relation not empty): together, everything a Check step reads of the relation.
   * A key without one yields every row. Rows per key in ascending id order; one array per key, in order.
   */
  relationRows(
    tenantId: string,
    snapToken: SnapToken,
    keys: readonly RelationKey[],
    signal?: AbortSignal,
  ): Promise<Tuple[][]>;
}

export interface RelationKey {
  readonly entityType: string;
  readonly entityId: string;
  readonly relation: string;
  readonly subject?: { readonly type: string; readonly id: string };
}

export function createPostgresDataReader(db: Database, options: PostgresReaderOptions = {}): PostgresDataReader {
  const legacy = new LRUCache<string, string>({ max: 10_000 });
  const cache = new SnapshotReadCache(
    options.readCacheEntries ?? DEFAULT_READ_CACHE_ENTRIES,
    options.readCacheMaxRows ?? DEFAULT_READ_CACHE_MAX_ROWS,
  );

  // A request's reads all carry its token: decode it once (tokens are immutable; bad ones are not kept).
  const parsed = new LRUCache<string, ResolvedToken>({ max: 4_096 });

  async function resolve(tenantId: string, token: SnapToken, signal?: AbortSignal): Promise<ResolvedToken> {
    const hit = parsed.get(token);
    if (hit !== undefined) return hit;
    const decoded = decodeToken(token);
    if (decoded.snapshot) {
      const r = { xid: decoded.xid.toString(), snapshot: formatPgSnapshot(decoded.snapshot) };
      parsed.set(token, r);
      return r;
    }
    if (decoded.xid === 0n) return { xid: '0', snapshot: nothingVisible };
    const key = `${tenantId}\u0000${decoded.xid}`;
    const cached = legacy.get(key);
    if (cached !== undefined) return { xid: decoded.xid.toString(), snapshot: cached };
    const r = await query<{ snapshot: string }>(
      db.reader,
      'SELECT snapshot::text AS snapshot FROM transactions WHERE id = $1::xid8',
      [decoded.xid.toString()],
      signal,
    );
    // A collected transaction: everything up to and including it is treated as visible.
    const snapshot = r.rows[0]?.snapshot ?? `${decoded.xid + 1n}:${decoded.xid + 1n}:`;
    legacy.set(key, snapshot);
    return { xid: decoded.xid.toString(), snapshot };
  }

  async function selectTuples(
    tenantId: string,
    filter: TupleFilter,
    token: SnapToken,
    extra: { afterId?: number; limit?: number; entityIdFrom?: string },
    signal?: AbortSignal,
  ): Promise<TupleRow[]> {
    checkTupleFilter(filter);
    const t = await resolve(tenantId, token, signal);
    const p = new Params();
    const where = [`tenant_id = ${p.add(tenantId)}`, ...tupleFilterConditions(filter, p)];
    if (extra.entityIdFrom !== undefined && extra.entityIdFrom !== '')
      where.push(`entity_id >= ${p.add(extra.entityIdFrom)}`);
    if (extra.afterId !== undefined && extra.afterId > 0) where.push(`id > ${p.add(extra.afterId)}`);
    where.push(visibility(p, t));
    const limit = extra.limit !== undefined ? ` LIMIT ${p.add(extra.limit)}` : '';
    const sql = `SELECT ${tupleColumns} FROM relation_tuples WHERE ${where.join(' AND ')} ORDER BY id${limit}`;
    return (await query<TupleRow>(db.reader, sql, p.values, signal)).rows;
  }

  async function selectAttributes(
    tenantId: string,
    filter: AttributeFilter,
    token: SnapToken,
    extra: { afterId?: number; limit?: number; entityIdFrom?: string },
    signal?: AbortSignal,
  ): Promise<AttributeRow[]> {
    checkAttributeFilter(filter);
    const t = await resolve(tenantId, token, signal);
    const p = new Params();
    const where = [`tenant_id = ${p.add(tenantId)}`, ...attributeFilterConditions(filter, p)];
    if (extra.entityIdFrom !== undefined && extra.entityIdFrom !== '')
      where.push(`entity_id >= ${p.add(extra.entityIdFrom)}`);
    if (extra.afterId !== undefined && extra.afterId > 0) where.push(`id > ${p.add(extra.afterId)}`);
    where.push(visibility(p, t));
    const limit = extra.limit !== undefined ? ` LIMIT ${p.add(extra.limit)}` : '';
    const sql = `SELECT ${attributeColumns} FROM attributes WHERE ${where.join(' AND ')} ORDER BY id${limit}`;
    return (await query<AttributeRow>(db.reader, sql, p.values, signal)).rows;
  }

  return {
    purgeTenant(tenantId) {
      cache.purge(tenantId);
      if (tenantId === undefined) return legacy.clear();
      for (const key of [...legacy.keys()]) if (key.startsWith(`${tenantId}\u0000`)) legacy.delete(key);
    },

    headSnapToken(tenantId, signal) {
      return headToken(db, tenantId, signal);
    },

    queryRelationships(tenantId, filter, snapToken, options?: QueryOptions): Promise<readonly Tuple[]> {
      checkTupleFilter(filter);
      const from = options?.entityIdFrom;
      const key = ['r', tenantId, snapToken, from ?? '', tupleFilterKey(filter)].join(sep);
      return cache.get(
        key,
        async (signal) => {
          const rows = await selectTuples(
            tenantId,
            filter,
            snapToken,
            from !== undefined ? { entityIdFrom: from } : {},
            signal,
          );
          return rows.map(tupleFromRow);
        },
        options?.signal,
      );
    },

    async readRelationships(tenantId, filter, snapToken, page, signal): Promise<Page<Tuple>> {
      const size = pageSize(page);
      const afterId = decodePageToken('tuples', filter, page.token);
      const rows = await selectTuples(tenantId, filter, snapToken, { afterId, limit: size + 1 }, signal);
      const items = rows.slice(0, size);
      const last = items[items.length - 1];
      const more = rows.length > size && last !== undefined;
      return {
        items: items.map(tupleFromRow),
        continuousToken: more ? encodePageToken('tuples', filter, last.id) : '',
      };
    },

    async querySingleAttribute(tenantId, entity: Entity, attribute, snapToken, signal): Promise<Attribute | undefined> {
      const filter: AttributeFilter = { entity: { type: entity.type, ids: [entity.id] }, attributes: [attribute] };
      checkAttributeFilter(filter);
      const key = ['s', tenantId, snapToken, entity.type, entity.id, attribute].join(sep);
      const found = await cache.get(
        key,
        async (s) => (await selectAttributes(tenantId, filter, snapToken, { limit: 1 }, s)).map(attributeFromRow),
        signal,
      );
      return found[0];
    },

    queryAttributes(tenantId, filter, snapToken, options?: QueryOptions): Promise<readonly Attribute[]> {
      checkAttributeFilter(filter);
      const from = options?.entityIdFrom;
      const key = ['a', tenantId, snapToken, from ?? '', attributeFilterKey(filter)].join(sep);
      return cache.get(
        key,
        async (signal) => {
          const rows = await selectAttributes(
            tenantId,
            filter,
            snapToken,
            from !== undefined ? { entityIdFrom: from } : {},
            signal,
          );
          return rows.map(attributeFromRow);
        },
        options?.signal,
      );
    },

    async readAttributes(tenantId, filter, snapToken, page, signal): Promise<Page<Attribute>> {
      const size = pageSize(page);
      const afterId = decodePageToken('attributes', filter, page.token);
      const rows = await selectAttributes(tenantId, filter, snapToken, { afterId, limit: size + 1 }, signal);
      const items = rows.slice(0, size);
      const last = items[items.length - 1];
      const more = rows.length > size && last !== undefined;
      return {
        items: items.map(attributeFromRow),
        continuousToken: more ? encodePageToken('attributes', filter, last.id) : '',
      };
    },

    async relationRows(tenantId, snapToken, keys, signal): Promise<Tuple[][]> {
      const out: Tuple[][] = keys.map(() => []);
      if (keys.length === 0) return out;
      const t = await resolve(tenantId, snapToken, signal);
      const p = new Params();
      const k = {
        et: p.add(keys.map((x) => x.entityType)),
        eid: p.add(keys.map((x) => x.entityId)),
        rel: p.add(keys.map((x) => x.relation)),
        st: p.add(keys.map((x) => x.subject?.type ?? null)),
        sid: p.add(keys.map((x) => x.subject?.id ?? null)),
      };
      // One index probe (idx_tuples_entity) per key: a nested loop over the unnested keys.
      const sql =
        `SELECT k.i::int AS i, r.${tupleColumns.split(', ').join(', r.')}` +
        ` FROM unnest(${k.et}::text[], ${k.eid}::text[], ${k.rel}::text[], ${k.st}::text[], ${k.sid}::text[])` +
        ` WITH ORDINALITY AS k(et, eid, rel, st, sid, i)` +
        ` JOIN relation_tuples r ON r.tenant_id = ${p.add(tenantId)} AND r.entity_type = k.et` +
        ` AND r.entity_id = k.eid AND r.relation = k.rel` +
        ` WHERE (k.st IS NULL OR r.subject_relation <> '' OR (r.subject_type = k.st AND r.subject_id = k.sid))` +
        ` AND ${visibility(p, t).replace(/(created_tx_id|expired_tx_id)/g, 'r.$1')} ORDER BY k.i, r.id`;
      const r = await query<TupleRow & { i: number }>(db.reader, sql, p.values, signal);
      for (const row of r.rows) (out[row.i - 1] as Tuple[]).push(tupleFromRow(row));
      return out;
    },

    queryUniqueSubjectIds(tenantId, subjectType, subjectRelation, snapToken, signal): Promise<readonly string[]> {
      const key = ['u', tenantId, snapToken, subjectType, normaliseRelation(subjectRelation)].join(sep);
      return cache.get(key, (s) => uniqueSubjectIds(tenantId, subjectType, subjectRelation, snapToken, s), signal);
    },
  };

  async function uniqueSubjectIds(
    tenantId: string,
    subjectType: string,
    subjectRelation: string | undefined,
    snapToken: SnapToken,
    signal?: AbortSignal,
  ): Promise<string[]> {
    const t = await resolve(tenantId, snapToken, signal);
    const p = new Params();
    const sql =
      `SELECT DISTINCT subject_id FROM relation_tuples WHERE tenant_id = ${p.add(tenantId)}` +
      ` AND subject_type = ${p.add(subjectType)} AND subject_relation = ${p.add(normaliseRelation(subjectRelation))}` +
      ` AND ${visibility(p, t)} ORDER BY subject_id`;
    const r = await query<{ subject_id: string }>(db.reader, sql, p.values, signal);
    return r.rows.map((row) => row.subject_id);
  }
}
