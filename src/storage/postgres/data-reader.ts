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
import { liveSentinel, query, type Database } from './database.js';
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
  const r = await query<{ id: string; cur: string }>(
    db.reader,
    'SELECT id::text AS id, pg_current_snapshot()::text AS cur FROM transactions WHERE tenant_id = $1 ORDER BY id DESC LIMIT 1',
    [tenantId],
    signal,
  );
  const row = r.rows[0];
  if (!row) return legacyToken(0n);
  const x = BigInt(row.id);
  const cur = parsePgSnapshot(row.cur);
  // The newest committed transaction X is visible in the current snapshot C. Only transactions ≤ X can
  // have tenant rows that are committed now, so C restricted to ids ≤ X decides visibility exactly; the
  // restriction keeps the token stable while the tenant is quiet (other tenants' writes do not change it).
  const xmax = x + 1n;
  const xmin = cur.xmin < xmax ? cur.xmin : xmax;
  const snapshot: PgSnapshot = { xmin, xmax, xip: cur.xip.filter((t) => t >= xmin && t <= x) };
  return encodeToken({ xid: x, snapshot });
}

export function createPostgresDataReader(db: Database): DataReader {
  const legacy = new LRUCache<string, string>({ max: 10_000 });

  async function resolve(tenantId: string, token: SnapToken, signal?: AbortSignal): Promise<ResolvedToken> {
    const decoded = decodeToken(token);
    if (decoded.snapshot) return { xid: decoded.xid.toString(), snapshot: formatPgSnapshot(decoded.snapshot) };
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
    headSnapToken(tenantId, signal) {
      return headToken(db, tenantId, signal);
    },

    async queryRelationships(tenantId, filter, snapToken, options?: QueryOptions): Promise<readonly Tuple[]> {
      const rows = await selectTuples(
        tenantId,
        filter,
        snapToken,
        options?.entityIdFrom !== undefined ? { entityIdFrom: options.entityIdFrom } : {},
        options?.signal,
      );
      return rows.map(tupleFromRow);
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
      const rows = await selectAttributes(
        tenantId,
        { entity: { type: entity.type, ids: [entity.id] }, attributes: [attribute] },
        snapToken,
        { limit: 1 },
        signal,
      );
      return rows[0] ? attributeFromRow(rows[0]) : undefined;
    },

    async queryAttributes(tenantId, filter, snapToken, options?: QueryOptions): Promise<readonly Attribute[]> {
      const rows = await selectAttributes(
        tenantId,
        filter,
        snapToken,
        options?.entityIdFrom !== undefined ? { entityIdFrom: options.entityIdFrom } : {},
        options?.signal,
      );
      return rows.map(attributeFromRow);
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

    async queryUniqueSubjectIds(tenantId, subjectType, subjectRelation, snapToken, signal): Promise<readonly string[]> {
      const t = await resolve(tenantId, snapToken, signal);
      const p = new Params();
      const sql =
        `SELECT DISTINCT subject_id FROM relation_tuples WHERE tenant_id = ${p.add(tenantId)}` +
        ` AND subject_type = ${p.add(subjectType)} AND subject_relation = ${p.add(normaliseRelation(subjectRelation))}` +
        ` AND ${visibility(p, t)} ORDER BY subject_id`;
      const r = await query<{ subject_id: string }>(db.reader, sql, p.values, signal);
      return r.rows.map((row) => row.subject_id);
    },
  };
}
