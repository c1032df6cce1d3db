/**
 * The state of the in-memory store: one {@link TenantData} per tenant id (created on first use, dropped
 * entirely when the tenant is deleted), each holding its own interned strings, columnar tuple and
 * attribute tables with their indexes, the transaction log that Watch and GC read, schema versions and
 * bundles.
 *
 * MVCC: every write transaction takes the next number of a store-wide counter (`MemoryState.head`), and
 * remembers it as its tenant's `headTx`: a tenant's head token names the newest transaction that touched
 * that tenant, so writes in other tenants leave it (and caches keyed by it) alone. A row
 * records the transaction that created it and the one that expired it ({@link LIVE} while live). A reader
 * at transaction T sees a row iff `created <= T < expired`. The current state (inside a write) is read at
 * {@link CURRENT}.
 */
import type { AttributeValue } from '../../data/types.js';
import type { DataBundle, SchemaDefinitionRecord, Tenant } from '../contract.js';
import { ChainIndex, Columns, Interner, IntList, growFloat64, growInt32 } from './row-index.js';

/** The store's first transaction id: the empty state every tenant starts from. */
export const INITIAL_TX = 1;

/**
 * `expired` value of a live row. Transaction ids live in `Float64Array` columns, exact up to 2^53, so the
 * counter cannot wrap: {@link MAX_TX} is the last id a write may take.
 */
export const LIVE = Number.MAX_SAFE_INTEGER;
/** Read position that sees exactly the live rows. */
export const CURRENT = LIVE - 1;
/** The greatest transaction id a write may take (below {@link CURRENT}, so every id stays readable). */
export const MAX_TX = CURRENT - 1;

// Tuple columns.
export const T_ET = 0;
export const T_EID = 1;
export const T_REL = 2;
export const T_ST = 3;
export const T_SID = 4;
export const T_SREL = 5;
export const T_ID = 6;
export const T_CREATED = 7;
export const T_EXPIRED = 8;
const TUPLE_COLUMNS = 9;

// Attribute columns.
export const A_ET = 0;
export const A_EID = 1;
export const A_ATTR = 2;
export const A_ID = 3;
export const A_CREATED = 4;
export const A_EXPIRED = 5;
const ATTRIBUTE_COLUMNS = 6;

export class TupleTable {
  readonly rows = new Columns(TUPLE_COLUMNS, [T_CREATED, T_EXPIRED]);
  /** Insertion id (stable across compactions, used by page tokens). */
  nextId = 1;
  /** Full tuple → its versions (the last one may be live). */
  readonly unique = new ChainIndex(this.rows, [T_ET, T_EID, T_REL, T_ST, T_SID, T_SREL]);
  /** (entity type, entity id, relation): Check. */
  readonly byEntityRelation = new ChainIndex(this.rows, [T_ET, T_EID, T_REL]);
  /** (entity type, entity id): filters naming entities without a relation. */
  readonly byEntity = new ChainIndex(this.rows, [T_ET, T_EID]);
  /** (entity type, relation): lookups. */
  readonly byTypeRelation = new ChainIndex(this.rows, [T_ET, T_REL], true);
  /** (entity type). */
  readonly byType = new ChainIndex(this.rows, [T_ET], true);
  /** (subject type, subject id): subject filters. */
  readonly bySubject = new ChainIndex(this.rows, [T_ST, T_SID]);
  /** (subject type, subject relation): LookupSubject's distinct subject ids. */
  readonly bySubjectRelation = new ChainIndex(this.rows, [T_ST, T_SREL], true);
  /** (subject type). */
  readonly bySubjectType = new ChainIndex(this.rows, [T_ST], true);

  get length(): number {
    return this.rows.length;
  }

  col(c: number): Int32Array {
    return this.rows.cols[c] as Int32Array;
  }

  /** A transaction-id column: {@link T_CREATED} or {@link T_EXPIRED}. */
  txCol(c: typeof T_CREATED | typeof T_EXPIRED): Float64Array {
    return this.rows.cols[c] as Float64Array;
  }

  /** Appends a live row created at `tx` and indexes it; returns its row number. */
  append(et: number, eid: number, rel: number, st: number, sid: number, srel: number, tx: number): number {
    return this.insert(et, eid, rel, st, sid, srel, this.nextId++, tx, LIVE);
  }

  /**
   * Appends a live row created at `tx` for the tuple `key` (its six key ids, in column order) unless that
   * tuple is live already; returns the new row, or -1. The unique index is hashed and probed once.
   */
  appendIfNotLive(key: Int32Array, tx: number): number {
    const last = this.unique.probe(key);
    if (last >= 0 && this.txCol(T_EXPIRED)[last] === LIVE) return -1;
    const row = this.fill(
      key[0] as number,
      key[1] as number,
      key[2] as number,
      key[3] as number,
      key[4] as number,
      key[5] as number,
      this.nextId++,
      tx,
      LIVE,
    );
    this.unique.addProbed(row);
    this.indexOthers(row);
    return row;
  }

  /** Appends a row with every column given (compaction) and indexes it. */
  insert(
    et: number,
    eid: number,
    rel: number,
    st: number,
    sid: number,
    srel: number,
    id: number,
    created: number,
    expired: number,
  ): number {
    const row = this.fill(et, eid, rel, st, sid, srel, id, created, expired);
    this.unique.add(row);
    this.indexOthers(row);
    return row;
  }

  private fill(
    et: number,
    eid: number,
    rel: number,
    st: number,
    sid: number,
    srel: number,
    id: number,
    created: number,
    expired: number,
  ): number {
    const row = this.rows.appendRow();
    const c = this.rows.cols;
    (c[T_ET] as Int32Array)[row] = et;
    (c[T_EID] as Int32Array)[row] = eid;
    (c[T_REL] as Int32Array)[row] = rel;
    (c[T_ST] as Int32Array)[row] = st;
    (c[T_SID] as Int32Array)[row] = sid;
    (c[T_SREL] as Int32Array)[row] = srel;
    (c[T_ID] as Int32Array)[row] = id;
    (c[T_CREATED] as Float64Array)[row] = created;
    (c[T_EXPIRED] as Float64Array)[row] = expired;
    return row;
  }

  /** Adds `row` to every index but the unique one. */
  private indexOthers(row: number): void {
    this.byEntityRelation.add(row);
    this.byEntity.add(row);
    this.byTypeRelation.add(row);
    this.byType.add(row);
    this.bySubject.add(row);
    this.bySubjectRelation.add(row);
    this.bySubjectType.add(row);
  }

  get byteSize(): number {
    let n = 0;
    for (const c of this.rows.cols) n += c.byteLength;
    for (const i of [
      this.unique,
      this.byEntityRelation,
      this.byEntity,
      this.byTypeRelation,
      this.byType,
      this.bySubject,
      this.bySubjectRelation,
      this.bySubjectType,
    ]) {
      n += i.byteSize;
    }
    return n;
  }
}

export class AttributeTable {
  readonly rows = new Columns(ATTRIBUTE_COLUMNS, [A_CREATED, A_EXPIRED]);
  readonly values: AttributeValue[] = [];
  nextId = 1;
  /** (entity type, entity id, attribute) → versions. */
  readonly unique = new ChainIndex(this.rows, [A_ET, A_EID, A_ATTR]);
  readonly byEntity = new ChainIndex(this.rows, [A_ET, A_EID]);
  readonly byTypeAttribute = new ChainIndex(this.rows, [A_ET, A_ATTR], true);
  readonly byType = new ChainIndex(this.rows, [A_ET], true);

  get length(): number {
    return this.rows.length;
  }

  col(c: number): Int32Array {
    return this.rows.cols[c] as Int32Array;
  }

  /** A transaction-id column: {@link A_CREATED} or {@link A_EXPIRED}. */
  txCol(c: typeof A_CREATED | typeof A_EXPIRED): Float64Array {
    return this.rows.cols[c] as Float64Array;
  }

  append(et: number, eid: number, attr: number, value: AttributeValue, tx: number): number {
    return this.insert(et, eid, attr, value, this.nextId++, tx, LIVE);
  }

  /** Appends a row with every column given (compaction) and indexes it. */
  insert(
    et: number,
    eid: number,
    attr: number,
    value: AttributeValue,
    id: number,
    created: number,
    expired: number,
  ): number {
    const row = this.rows.appendRow();
    const c = this.rows.cols;
    (c[A_ET] as Int32Array)[row] = et;
    (c[A_EID] as Int32Array)[row] = eid;
    (c[A_ATTR] as Int32Array)[row] = attr;
    (c[A_ID] as Int32Array)[row] = id;
    (c[A_CREATED] as Float64Array)[row] = created;
    (c[A_EXPIRED] as Float64Array)[row] = expired;
    this.values[row] = value;
    this.unique.add(row);
    this.byEntity.add(row);
    this.byTypeAttribute.add(row);
    this.byType.add(row);
    return row;
  }
}

/**
 * One record per committed write transaction of the tenant: its id, commit time, the contiguous ranges of
 * rows it created and the ranges of the expired-row logs holding the rows it expired.
 */
export class TxLog {
  length = 0;
  tx = new Float64Array(0);
  timeMs = new Float64Array(0);
  tupleStart = new Int32Array(0);
  tupleEnd = new Int32Array(0);
  attrStart = new Int32Array(0);
  attrEnd = new Int32Array(0);
  tupleExpStart = new Int32Array(0);
  tupleExpEnd = new Int32Array(0);
  attrExpStart = new Int32Array(0);
  attrExpEnd = new Int32Array(0);
  /** Rows expired by transactions, grouped by transaction. */
  tupleExpired = new IntList();
  attrExpired = new IntList();
  /** The greatest transaction id of this tenant removed by GC (0 = none). Watch cannot resume before it. */
  forgottenUpTo = 0;

  /** Index of the first record whose tx is greater than `tx`. */
  firstAfter(tx: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.tx[mid] as number) <= tx) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  ensure(n: number): void {
    if (this.tx.length >= n) return;
    this.tx = growFloat64(this.tx, n);
    this.timeMs = growFloat64(this.timeMs, n);
    this.tupleStart = growInt32(this.tupleStart, n);
    this.tupleEnd = growInt32(this.tupleEnd, n);
    this.attrStart = growInt32(this.attrStart, n);
    this.attrEnd = growInt32(this.attrEnd, n);
    this.tupleExpStart = growInt32(this.tupleExpStart, n);
    this.tupleExpEnd = growInt32(this.tupleExpEnd, n);
    this.attrExpStart = growInt32(this.attrExpStart, n);
    this.attrExpEnd = growInt32(this.attrExpEnd, n);
  }
}

export interface SchemaVersionRecord {
  readonly version: string;
  readonly createdAt: Date;
  readonly definitions: readonly SchemaDefinitionRecord[];
}

/**
 * A one-entry cache in front of {@link Interner.lookup} for one filter field: entity types, relations and
 * subject types repeat from one query to the next (usually as the very same string object).
 */
export class LookupCache {
  private lastString: string | undefined;
  private lastId = -1;
  constructor(private readonly strings: Interner) {}
  lookup(s: string): number {
    if (s === this.lastString) return this.lastId;
    const id = this.strings.lookup(s);
    // Unknown strings are not cached: they may be interned by a later write.
    if (id >= 0) {
      this.lastString = s;
      this.lastId = id;
    }
    return id;
  }
}

export class TenantData {
  strings = new Interner();
  entityTypeCache = new LookupCache(this.strings);
  relationCache = new LookupCache(this.strings);
  subjectTypeCache = new LookupCache(this.strings);
  subjectRelationCache = new LookupCache(this.strings);
  /** Check reads one entity twice in a row (exact subject, then usersets) and one subject many times. */
  entityIdCache = new LookupCache(this.strings);
  subjectIdCache = new LookupCache(this.strings);

  /** Replaces the string table (after a compaction re-interned the surviving rows). */
  setStrings(strings: Interner): void {
    this.strings = strings;
    this.entityTypeCache = new LookupCache(strings);
    this.relationCache = new LookupCache(strings);
    this.subjectTypeCache = new LookupCache(strings);
    this.subjectRelationCache = new LookupCache(strings);
    this.entityIdCache = new LookupCache(strings);
    this.subjectIdCache = new LookupCache(strings);
  }
  tuples = new TupleTable();
  attributes = new AttributeTable();
  txLog = new TxLog();
  /** Schema versions in creation (= ascending id) order. */
  readonly schemaVersions: SchemaVersionRecord[] = [];
  readonly bundles = new Map<string, DataBundle>();
  /** Wake-up callbacks of waiting Watch streams; called after each commit and when the tenant is dropped. */
  readonly waiters = new Set<() => void>();
  /** Set when the tenant has been deleted (or the store closed): watchers end. */
  dropped = false;
  /**
   * The newest transaction that wrote this tenant's data ({@link INITIAL_TX} before its first write): the
   * tenant's head snap token. Kept here rather than read from the transaction log, which GC trims.
   */
  headTx = INITIAL_TX;

  wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }
}

/** The whole store state, shared by the store's parts. */
export interface MemoryState {
  /** The newest transaction id of the store (tokens are store-wide transaction ids). */
  head: number;
  readonly tenantData: Map<string, TenantData>;
  readonly tenants: Map<string, Tenant>;
  readonly now: () => number;
  closed: boolean;
  /** Snap tokens already decoded (bounded; cleared when full). */
  readonly decodedTokens: Map<string, number>;
  /**
   * Watch streams waiting for a tenant that has no {@link TenantData} yet, by tenant id. Watch does not
   * create a tenant's state (a stream on a tenant that never exists would otherwise leave it behind); the
   * waiter is called with `false` when the state is created and with `true` when the tenant is deleted or
   * the store closes. An entry is removed as soon as its set is empty.
   */
  readonly dataWaiters: Map<string, Set<(dropped: boolean) => void>>;
}

/** Calls and forgets the Watch streams waiting for `tenantId`'s state (see {@link MemoryState.dataWaiters}). */
export function wakeDataWaiters(state: MemoryState, tenantId: string, dropped: boolean): void {
  const waiters = state.dataWaiters.get(tenantId);
  if (waiters === undefined) return;
  state.dataWaiters.delete(tenantId);
  for (const w of waiters) w(dropped);
}

/** The tenant's data, created empty on first use (tenant existence is not enforced outside Tenancy). */
export function tenantData(state: MemoryState, tenantId: string): TenantData {
  let data = state.tenantData.get(tenantId);
  if (data === undefined) {
    data = new TenantData();
    state.tenantData.set(tenantId, data);
    wakeDataWaiters(state, tenantId, false);
  }
  return data;
}
