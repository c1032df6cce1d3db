/**
 * Reads of the memory store. Every read is pinned to a transaction id decoded from its snap token and sees
 * the rows with `created <= T < expired`. Filters are answered from the most selective index that the
 * filter allows (entity+relation, entity, subject, entity type+relation, subject type+relation, entity type,
 * subject type); only a filter naming neither an entity type nor a subject type walks the whole tenant table.
 * Pages (ReadRelationships, ReadAttributes) start at their token's row instead: a type-wide key that is not
 * rare is then read by scanning the table from there (see collectRows).
 */
import { PermifyError, throwIfAborted } from '../../errors.js';
import type { Attribute, Entity, Tuple } from '../../data/types.js';
import type {
  AttributeFilter,
  DataReader,
  Page,
  PageRequest,
  QueryOptions,
  SnapToken,
  TupleFilter,
} from '../contract.js';
import { attributeFilterKey, checkPageSize, decodePageToken, encodePageToken, tupleFilterKey } from '../page-token.js';
import type { ChainIndex, Interner } from './row-index.js';
import { decodeSnapToken, encodeSnapToken } from './snap-token.js';
import {
  A_ATTR,
  A_CREATED,
  A_EID,
  A_ET,
  A_EXPIRED,
  A_ID,
  type AttributeTable,
  INITIAL_TX,
  type MemoryState,
  T_CREATED,
  T_EID,
  T_ET,
  T_EXPIRED,
  T_ID,
  T_REL,
  T_SID,
  T_SREL,
  T_ST,
  type TenantData,
  type TupleTable,
} from './tables.js';

/** -1 = any; -2 = a value never stored (nothing matches). */
const ANY = -1;
const NONE = -2;

function one(strings: Pick<Interner, 'lookup'>, s: string | undefined): number {
  if (s === undefined || s === '') return ANY;
  const id = strings.lookup(s);
  return id < 0 ? NONE : id;
}

/** Interned ids of a non-empty id list (unknown ids dropped); null = any; [] = nothing can match. */
function many(strings: Interner, list: readonly string[] | undefined): number[] | null {
  if (list === undefined || list.length === 0) return null;
  const out: number[] = [];
  const seen = list.length > 8 ? new Set<number>() : undefined;
  for (const s of list) {
    const id = strings.lookup(s);
    if (id < 0) continue;
    if (seen === undefined ? out.includes(id) : seen.has(id)) continue;
    seen?.add(id);
    out.push(id);
  }
  return out;
}

function checkString(v: unknown, what: string): void {
  if (v !== undefined && typeof v !== 'string') {
    throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', `invalid filter: ${what} must be a string`);
  }
}

function checkList(v: unknown, what: string): void {
  if (v !== undefined && (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))) {
    throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', `invalid filter: ${what} must be a list of strings`);
  }
}

export function validateTupleFilter(f: TupleFilter): void {
  if (typeof f !== 'object' || f === null) throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', 'invalid filter');
  checkString(f.entity?.type, 'entity type');
  checkList(f.entity?.ids, 'entity ids');
  checkString(f.relation, 'relation');
  checkString(f.subject?.type, 'subject type');
  checkList(f.subject?.ids, 'subject ids');
  checkString(f.subject?.relation, 'subject relation');
}

export function validateAttributeFilter(f: AttributeFilter): void {
  if (typeof f !== 'object' || f === null) throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', 'invalid filter');
  checkString(f.entity?.type, 'entity type');
  checkList(f.entity?.ids, 'entity ids');
  checkList(f.attributes, 'attributes');
}

/** True when the filter has at least one criterion (used by filter deletes). */
export function tupleFilterHasCriterion(f: TupleFilter): boolean {
  return Boolean(
    f.entity?.type ||
    (f.entity?.ids?.length ?? 0) > 0 ||
    f.relation ||
    f.subject?.type ||
    (f.subject?.ids?.length ?? 0) > 0 ||
    f.subject?.relation,
  );
}

export function attributeFilterHasCriterion(f: AttributeFilter): boolean {
  return Boolean(f.entity?.type || (f.entity?.ids?.length ?? 0) > 0 || (f.attributes?.length ?? 0) > 0);
}

/**
 * Whether a row created at `c` and expired at `e` is visible to a reader at `tx`. `hidden` lists
 * transaction numbers at or below `tx` that the reader must not see (the read model's tokens whose
 * snapshots skip a transaction applied before others they see); without it the test is the scalar
 * `c <= tx < e` of the memory store.
 */
export function rowVisible(c: number, e: number, tx: number, hidden: ReadonlySet<number> | undefined): boolean {
  if (hidden === undefined) return c <= tx && e > tx;
  return c <= tx && !hidden.has(c) && (e > tx || hidden.has(e));
}

function pushChain(index: ChainIndex, key: ArrayLike<number>, out: number[]): void {
  const next = index.next;
  for (let row = index.first(key); row >= 0; row = next[row] as number) out.push(row);
}

/**
 * A page of rows: those with id >= `fromId`, at most `limit` of them. Only for tables whose rows are in id order
 * (the memory store's; the read model's may not be, and pages its reads on PostgreSQL).
 */
export interface RowPage {
  readonly fromId: number;
  readonly limit: number;
}

/** The first row (of rows 0..length-1, ids ascending) whose id is >= `id`. */
function firstRowFrom(ids: Int32Array, length: number, id: number): number {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ids[mid] as number) < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A chain of a counted {@link ChainIndex} (rows of one key, ascending): first row, links, length. */
interface Chain {
  readonly head: number;
  readonly next: Int32Array;
  readonly count: number;
}

function chainOf(index: ChainIndex, key: readonly number[]): Chain {
  return { head: index.first(key), next: index.next, count: index.count(key) };
}

/**
 * Collects the rows `matches` accepts (it tests every criterion of the filter), ascending; with `page`, from
 * its first id and no more than its limit. The rows come from `candidates` (ascending rows) when given, else
 * from `chain` when given, else from the whole table.
 *
 * A continuation page must not cost a pass over everything before it, or reading a whole tenant page by page
 * costs one pass per page. A chain (an index as wide as a type) can only be walked from its start, which costs
 * up to its length; scanning the table from the page's first id costs about limit x rows / chain length (rows
 * of other keys fail `matches`). So a continuation page walks a short chain (length^2 <= limit x rows, a rare
 * key) and scans otherwise; a first page walks (it stops once the page is full).
 */
function collectRows(
  candidates: number[] | undefined,
  chain: Chain | undefined,
  length: number,
  ids: Int32Array,
  page: RowPage | undefined,
  matches: (row: number) => boolean,
): number[] {
  const limit = page?.limit ?? Number.POSITIVE_INFINITY;
  const out: number[] = [];
  if (candidates !== undefined) {
    for (let i = page ? lowerBound(candidates, ids, page.fromId) : 0; i < candidates.length && out.length < limit; i += 1) {
      const row = candidates[i] as number;
      if (matches(row)) out.push(row);
    }
    return out;
  }
  const fromId = page?.fromId ?? 0;
  if (
    chain !== undefined &&
    (page === undefined || fromId === 0 || chain.count <= 4 * page.limit + 256 || chain.count * chain.count <= page.limit * length)
  ) {
    for (let row = chain.head; row >= 0 && out.length < limit; row = chain.next[row] as number) {
      if ((ids[row] as number) >= fromId && matches(row)) out.push(row);
    }
    return out;
  }
  for (let row = fromId > 0 ? firstRowFrom(ids, length, fromId) : 0; row < length && out.length < limit; row += 1) {
    if (matches(row)) out.push(row);
  }
  return out;
}

/**
 * Rows of the tuple table visible at `tx` and matching the filter, ascending (= insertion order).
 * `entityIdFrom` keeps only rows whose entity id is >= it; `page` narrows to one page (see {@link RowPage}).
 */
export function matchTupleRows(
  data: TenantData,
  filter: TupleFilter,
  tx: number,
  entityIdFrom?: string,
  hidden?: ReadonlySet<number>,
  page?: RowPage,
): number[] {
  const s = data.strings;
  const t: TupleTable = data.tuples;
  const et = one(data.entityTypeCache, filter.entity?.type);
  const eids = many(s, filter.entity?.ids);
  const rel = one(data.relationCache, filter.relation);
  const st = one(data.subjectTypeCache, filter.subject?.type);
  const sids = many(s, filter.subject?.ids);
  const srel = one(data.subjectRelationCache, filter.subject?.relation);
  if (et === NONE || rel === NONE || st === NONE || srel === NONE) return [];
  if ((eids !== null && eids.length === 0) || (sids !== null && sids.length === 0)) return [];

  // Candidates from the narrowest index: rows of a few keys (entity or subject ids) as a list, a type-wide
  // key as its chain (walked in collectRows), or nothing narrower than the table.
  let candidates: number[] | undefined;
  let chain: Chain | undefined;
  let sorted = true;
  if (et >= 0 && eids !== null) {
    candidates = [];
    for (const eid of eids) {
      if (rel >= 0) pushChain(t.byEntityRelation, [et, eid, rel], candidates);
      else pushChain(t.byEntity, [et, eid], candidates);
    }
    sorted = eids.length === 1;
  } else if (st >= 0 && sids !== null) {
    candidates = [];
    for (const sid of sids) pushChain(t.bySubject, [st, sid], candidates);
    sorted = sids.length === 1;
  } else if (et >= 0 && rel >= 0) {
    chain = chainOf(t.byTypeRelation, [et, rel]);
  } else if (st >= 0 && srel >= 0) {
    chain = chainOf(t.bySubjectRelation, [st, srel]);
  } else if (et >= 0) {
    chain = chainOf(t.byType, [et]);
  } else if (st >= 0) {
    chain = chainOf(t.bySubjectType, [st]);
  }
  if (!sorted) candidates?.sort((a, b) => a - b);

  const cET = t.col(T_ET);
  const cEID = t.col(T_EID);
  const cREL = t.col(T_REL);
  const cST = t.col(T_ST);
  const cSID = t.col(T_SID);
  const cSREL = t.col(T_SREL);
  const cCreated = t.txCol(T_CREATED);
  const cExpired = t.txCol(T_EXPIRED);
  const eidSet = eids === null ? null : new Set(eids);
  const sidSet = sids === null ? null : new Set(sids);
  const fromEntity = entityIdFrom !== undefined && entityIdFrom !== '' ? entityIdFrom : undefined;
  return collectRows(candidates, chain, t.length, t.col(T_ID), page, (row) => {
    if (!rowVisible(cCreated[row] as number, cExpired[row] as number, tx, hidden)) return false;
    if (et >= 0 && cET[row] !== et) return false;
    if (eidSet !== null && !eidSet.has(cEID[row] as number)) return false;
    if (rel >= 0 && cREL[row] !== rel) return false;
    if (st >= 0 && cST[row] !== st) return false;
    if (sidSet !== null && !sidSet.has(cSID[row] as number)) return false;
    if (srel >= 0 && cSREL[row] !== srel) return false;
    return fromEntity === undefined || s.get(cEID[row] as number) >= fromEntity;
  });
}

/** Reused key of the entity+relation index (reads are synchronous, so one buffer suffices). */
const entityRelationKey = new Int32Array(3);

/**
 * The engine's usual read: one entity (type + a single id) and a relation, optionally narrowed by subject
 * type, a single subject id and subject relation. Walks the entity+relation chain directly (its rows all have
 * that key) and materialises the matches, without the candidate arrays and sets of {@link matchTupleRows}.
 * Answers exactly what `matchTupleRows(...).map(tupleAt)` would; `undefined` = the filter has another shape.
 */
export function queryEntityRelation(
  data: TenantData,
  filter: TupleFilter,
  tx: number,
  entityIdFrom?: string,
  hidden?: ReadonlySet<number>,
): Tuple[] | undefined {
  const e = filter.entity;
  if (e === undefined) return undefined;
  const type = e.type;
  const ids = e.ids;
  const relation = filter.relation;
  if (ids === undefined || ids.length !== 1 || !type || !relation) return undefined;
  if (entityIdFrom !== undefined && entityIdFrom !== '') return undefined;
  const subject = filter.subject;
  const sids = subject?.ids;
  if (sids !== undefined && sids.length > 1) return undefined;
  const s = data.strings;
  const et = data.entityTypeCache.lookup(type);
  const rel = data.relationCache.lookup(relation);
  const eid = data.entityIdCache.lookup(ids[0] as string);
  if (et < 0 || rel < 0 || eid < 0) return [];
  const st = one(data.subjectTypeCache, subject?.type);
  const srel = one(data.subjectRelationCache, subject?.relation);
  if (st === NONE || srel === NONE) return [];
  let sid = ANY;
  if (sids !== undefined && sids.length === 1) {
    sid = data.subjectIdCache.lookup(sids[0] as string);
    if (sid < 0) return [];
  }
  const t = data.tuples;
  const index = t.byEntityRelation;
  entityRelationKey[0] = et;
  entityRelationKey[1] = eid;
  entityRelationKey[2] = rel;
  let row = index.first(entityRelationKey);
  if (row < 0) return [];
  const next = index.next;
  const cST = t.col(T_ST);
  const cSID = t.col(T_SID);
  const cSREL = t.col(T_SREL);
  const cCreated = t.txCol(T_CREATED);
  const cExpired = t.txCol(T_EXPIRED);
  const entityType = s.get(et);
  const entityId = s.get(eid);
  const relationName = s.get(rel);
  const out: Tuple[] = [];
  // Chain rows lie scattered over the columns, so every column read is likely a cache miss: a column is read
  // only when the filter tests it (most selective first: subject id, subject relation, subject type), visibility
  // last, and the subject of a row that passed all of them.
  for (; row >= 0; row = next[row] as number) {
    if (sid >= 0 && cSID[row] !== sid) continue;
    if (srel >= 0 && cSREL[row] !== srel) continue;
    if (st >= 0 && cST[row] !== st) continue;
    if (!rowVisible(cCreated[row] as number, cExpired[row] as number, tx, hidden)) continue;
    out.push({
      entity: { type: entityType, id: entityId },
      relation: relationName,
      subject: { type: s.get(cST[row] as number), id: s.get(cSID[row] as number), relation: s.get(cSREL[row] as number) },
    });
  }
  return out;
}

/** Rows of the attribute table visible at `tx` and matching the filter, ascending. */
export function matchAttributeRows(
  data: TenantData,
  filter: AttributeFilter,
  tx: number,
  entityIdFrom?: string,
  hidden?: ReadonlySet<number>,
  page?: RowPage,
): number[] {
  const s = data.strings;
  const a: AttributeTable = data.attributes;
  const et = one(data.entityTypeCache, filter.entity?.type);
  const eids = many(s, filter.entity?.ids);
  const attrs = many(s, filter.attributes);
  if (et === NONE) return [];
  if ((eids !== null && eids.length === 0) || (attrs !== null && attrs.length === 0)) return [];

  let candidates: number[] | undefined;
  let chain: Chain | undefined;
  let sorted = true;
  if (et >= 0 && eids !== null && attrs !== null) {
    candidates = [];
    for (const eid of eids) for (const attr of attrs) pushChain(a.unique, [et, eid, attr], candidates);
    sorted = eids.length * attrs.length === 1;
  } else if (et >= 0 && eids !== null) {
    candidates = [];
    for (const eid of eids) pushChain(a.byEntity, [et, eid], candidates);
    sorted = eids.length === 1;
  } else if (et >= 0 && attrs !== null && (attrs.length === 1 || page === undefined)) {
    if (attrs.length === 1) chain = chainOf(a.byTypeAttribute, [et, attrs[0] as number]);
    else {
      candidates = [];
      for (const attr of attrs) pushChain(a.byTypeAttribute, [et, attr], candidates);
      sorted = false;
    }
  } else if (et >= 0) {
    chain = chainOf(a.byType, [et]);
  }
  if (!sorted) candidates?.sort((x, y) => x - y);

  const cET = a.col(A_ET);
  const cEID = a.col(A_EID);
  const cATTR = a.col(A_ATTR);
  const cCreated = a.txCol(A_CREATED);
  const cExpired = a.txCol(A_EXPIRED);
  const eidSet = eids === null ? null : new Set(eids);
  const attrSet = attrs === null ? null : new Set(attrs);
  const fromEntity = entityIdFrom !== undefined && entityIdFrom !== '' ? entityIdFrom : undefined;
  return collectRows(candidates, chain, a.length, a.col(A_ID), page, (row) => {
    if (!rowVisible(cCreated[row] as number, cExpired[row] as number, tx, hidden)) return false;
    if (et >= 0 && cET[row] !== et) return false;
    if (eidSet !== null && !eidSet.has(cEID[row] as number)) return false;
    if (attrSet !== null && !attrSet.has(cATTR[row] as number)) return false;
    return fromEntity === undefined || s.get(cEID[row] as number) >= fromEntity;
  });
}

/** The value of one attribute of one entity visible at `tx`, if any. */
export function singleAttribute(
  data: TenantData,
  entity: Entity,
  attribute: string,
  tx: number,
  hidden?: ReadonlySet<number>,
): Attribute | undefined {
  const s = data.strings;
  const key = [s.lookup(entity.type), s.lookup(entity.id), s.lookup(attribute)];
  if (key.some((k) => k < 0)) return undefined;
  const a = data.attributes;
  const created = a.txCol(A_CREATED);
  const expired = a.txCol(A_EXPIRED);
  const next = a.unique.next;
  for (let row = a.unique.first(key); row >= 0; row = next[row] as number) {
    if (rowVisible(created[row] as number, expired[row] as number, tx, hidden)) return attributeAt(data, row);
  }
  return undefined;
}

/** Distinct subject ids (ascending) of tuples with this subject type and exact subject relation visible at `tx`. */
export function uniqueSubjectIds(
  data: TenantData,
  subjectType: string,
  subjectRelation: string,
  tx: number,
  hidden?: ReadonlySet<number>,
): string[] {
  const s = data.strings;
  const st = s.lookup(subjectType);
  const srel = s.lookup(subjectRelation);
  if (st < 0 || srel < 0) return [];
  const t = data.tuples;
  const created = t.txCol(T_CREATED);
  const expired = t.txCol(T_EXPIRED);
  const sid = t.col(T_SID);
  const next = t.bySubjectRelation.next;
  const seen = new Set<number>();
  for (let row = t.bySubjectRelation.first([st, srel]); row >= 0; row = next[row] as number) {
    if (rowVisible(created[row] as number, expired[row] as number, tx, hidden)) seen.add(sid[row] as number);
  }
  // Ids are ASCII by the API's pattern, so UTF-16 order equals byte order.
  return [...seen].map((id) => s.get(id)).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
}

/** Materialises a tuple row. */
export function tupleAt(data: TenantData, row: number): Tuple {
  const s = data.strings;
  const t = data.tuples;
  return {
    entity: { type: s.get(t.col(T_ET)[row] as number), id: s.get(t.col(T_EID)[row] as number) },
    relation: s.get(t.col(T_REL)[row] as number),
    subject: {
      type: s.get(t.col(T_ST)[row] as number),
      id: s.get(t.col(T_SID)[row] as number),
      relation: s.get(t.col(T_SREL)[row] as number),
    },
  };
}

/** Materialises an attribute row. */
export function attributeAt(data: TenantData, row: number): Attribute {
  const s = data.strings;
  const a = data.attributes;
  return {
    entity: { type: s.get(a.col(A_ET)[row] as number), id: s.get(a.col(A_EID)[row] as number) },
    attribute: s.get(a.col(A_ATTR)[row] as number),
    value: a.values[row] as Attribute['value'],
  };
}

/** First index in ascending `rows` whose id column value is >= `id`. */
function lowerBound(rows: readonly number[], ids: Int32Array, id: number): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ids[rows[mid] as number] as number) < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The rows a page request asks for: its size plus one (the next page's first row) from the id its token names
 * (the first row when it has none). A token of another request or kind is refused.
 */
function rowPage(page: PageRequest, kind: string, requestKey: string): RowPage {
  checkPageSize(page.size);
  let fromId = 0;
  if (page.token !== undefined && page.token !== '') {
    const position = decodePageToken(page.token, kind, requestKey);
    if (!/^[1-9][0-9]{0,9}$/.test(position)) {
      throw new PermifyError('ERROR_CODE_INVALID_CONTINUOUS_TOKEN', 'invalid continuous token');
    }
    fromId = Number(position);
  }
  return { fromId, limit: page.size + 1 };
}

/** A page of the rows {@link rowPage} asked for; the row after the page names the next one. */
function pageOf<T>(
  rows: readonly number[],
  ids: Int32Array,
  page: PageRequest,
  kind: string,
  requestKey: string,
  build: (row: number) => T,
): Page<T> {
  const end = Math.min(rows.length, page.size);
  const items: T[] = [];
  for (let i = 0; i < end; i += 1) items.push(build(rows[i] as number));
  const continuousToken = end < rows.length ? encodePageToken(kind, String(ids[rows[end] as number]), requestKey) : '';
  return { items, continuousToken };
}

export function createMemoryDataReader(state: MemoryState): DataReader {
  /** Data of a tenant, or undefined if it never stored anything (reads then answer empty). */
  const dataOf = (tenantId: string): TenantData | undefined => state.tenantData.get(tenantId);

  return {
    async headSnapToken(tenantId, signal) {
      throwIfAborted(signal);
      // The tenant's newest transaction: reading there sees exactly its newest state (every later
      // transaction belongs to another tenant), and the token moves only when this tenant is written.
      return encodeSnapToken(dataOf(tenantId)?.headTx ?? INITIAL_TX);
    },

    async queryRelationships(tenantId, filter, snapToken: SnapToken, options?: QueryOptions) {
      throwIfAborted(options?.signal);
      validateTupleFilter(filter);
      const tx = decodeSnapToken(state, snapToken);
      const data = dataOf(tenantId);
      if (data === undefined) return [];
      return (
        queryEntityRelation(data, filter, tx, options?.entityIdFrom) ??
        matchTupleRows(data, filter, tx, options?.entityIdFrom).map((row) => tupleAt(data, row))
      );
    },

    async readRelationships(tenantId, filter, snapToken, page, signal) {
      throwIfAborted(signal);
      validateTupleFilter(filter);
      const tx = decodeSnapToken(state, snapToken);
      const data = dataOf(tenantId);
      const key = tupleFilterKey(filter);
      const span = rowPage(page, 'tuples', key);
      if (data === undefined) return pageOf([], new Int32Array(0), page, 'tuples', key, () => undefined as never);
      const rows = matchTupleRows(data, filter, tx, undefined, undefined, span);
      return pageOf(rows, data.tuples.col(T_ID), page, 'tuples', key, (row) => tupleAt(data, row));
    },

    async querySingleAttribute(tenantId, entity: Entity, attribute, snapToken, signal) {
      throwIfAborted(signal);
      const tx = decodeSnapToken(state, snapToken);
      const data = dataOf(tenantId);
      if (data === undefined) return undefined;
      return singleAttribute(data, entity, attribute, tx);
    },

    async queryAttributes(tenantId, filter, snapToken, options) {
      throwIfAborted(options?.signal);
      validateAttributeFilter(filter);
      const tx = decodeSnapToken(state, snapToken);
      const data = dataOf(tenantId);
      if (data === undefined) return [];
      return matchAttributeRows(data, filter, tx, options?.entityIdFrom).map((row) => attributeAt(data, row));
    },

    async readAttributes(tenantId, filter, snapToken, page, signal) {
      throwIfAborted(signal);
      validateAttributeFilter(filter);
      const tx = decodeSnapToken(state, snapToken);
      const data = dataOf(tenantId);
      const key = attributeFilterKey(filter);
      const span = rowPage(page, 'attributes', key);
      if (data === undefined) return pageOf([], new Int32Array(0), page, 'attributes', key, () => undefined as never);
      const rows = matchAttributeRows(data, filter, tx, undefined, undefined, span);
      return pageOf(rows, data.attributes.col(A_ID), page, 'attributes', key, (row) => attributeAt(data, row));
    },

    async queryUniqueSubjectIds(tenantId, subjectType, subjectRelation, snapToken, signal) {
      throwIfAborted(signal);
      const tx = decodeSnapToken(state, snapToken);
      const data = dataOf(tenantId);
      if (data === undefined) return [];
      return uniqueSubjectIds(data, subjectType, subjectRelation, tx);
    },
  };
}
