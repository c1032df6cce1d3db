/**
 * Garbage collection of the memory store's history (the PostgreSQL rule of api-and-operations §11.6,
 * applied to every tenant that holds data). For each tenant, L is its newest transaction committed before
 * `now - window`; rows expired by transactions older than L are removed physically and the log records of
 * those transactions are forgotten. Live rows and everything needed to read at L or later stay, so reads
 * at tokens >= L remain exact; reads at older tokens are still accepted but may miss rows that were live
 * then, and Watch refuses to resume from them. Removal compacts the tenant's tables (rows keep their
 * insertion ids, so continuation tokens stay valid) and its string table (strings only removed rows used are
 * freed). A compaction is O(rows of the tenant) and runs synchronously.
 */
import { throwIfAborted } from '../../errors.js';
import type { GarbageCollector } from '../contract.js';
import { Interner, IntList } from './row-index.js';
import {
  A_ATTR,
  A_CREATED,
  A_EID,
  A_ET,
  A_EXPIRED,
  A_ID,
  AttributeTable,
  LIVE,
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
  TupleTable,
  TxLog,
} from './tables.js';

/** newPos[old] = number of kept rows before `old` (length + 1 entries). */
function positions(expired: Float64Array, length: number, horizon: number): { newPos: Int32Array; removed: number } {
  const newPos = new Int32Array(length + 1);
  let kept = 0;
  for (let row = 0; row < length; row += 1) {
    newPos[row] = kept;
    const e = expired[row] as number;
    if (e === LIVE || e >= horizon) kept += 1;
  }
  newPos[length] = kept;
  return { newPos, removed: length - kept };
}

/** Re-interns strings of surviving rows into a fresh table, so strings of removed rows are freed. */
class Reinterner {
  readonly strings = new Interner();
  private readonly map: Int32Array;
  constructor(private readonly old: Interner) {
    this.map = new Int32Array(old.strings.length).fill(-1);
  }
  id(oldId: number): number {
    let id = this.map[oldId] as number;
    if (id < 0) {
      id = this.strings.intern(this.old.get(oldId));
      this.map[oldId] = id;
    }
    return id;
  }
}

function compactTuples(old: TupleTable, horizon: number, r: Reinterner): TupleTable {
  const t = new TupleTable();
  t.nextId = old.nextId;
  const [et, eid, rel, st, sid, srel, id] = [
    old.col(T_ET),
    old.col(T_EID),
    old.col(T_REL),
    old.col(T_ST),
    old.col(T_SID),
    old.col(T_SREL),
    old.col(T_ID),
  ] as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];
  const created = old.txCol(T_CREATED);
  const expired = old.txCol(T_EXPIRED);
  for (let row = 0; row < old.length; row += 1) {
    const e = expired[row] as number;
    if (e !== LIVE && e < horizon) continue;
    t.insert(
      r.id(et[row] as number),
      r.id(eid[row] as number),
      r.id(rel[row] as number),
      r.id(st[row] as number),
      r.id(sid[row] as number),
      r.id(srel[row] as number),
      id[row] as number,
      created[row] as number,
      e,
    );
  }
  return t;
}

function compactAttributes(old: AttributeTable, horizon: number, r: Reinterner): AttributeTable {
  const a = new AttributeTable();
  a.nextId = old.nextId;
  const et = old.col(A_ET);
  const eid = old.col(A_EID);
  const attr = old.col(A_ATTR);
  const id = old.col(A_ID);
  const created = old.txCol(A_CREATED);
  const expired = old.txCol(A_EXPIRED);
  for (let row = 0; row < old.length; row += 1) {
    const e = expired[row] as number;
    if (e !== LIVE && e < horizon) continue;
    a.insert(
      r.id(et[row] as number),
      r.id(eid[row] as number),
      r.id(attr[row] as number),
      old.values[row] as AttributeTable['values'][number],
      id[row] as number,
      created[row] as number,
      e,
    );
  }
  return a;
}

/** Drops log records [0, first) and renumbers rows through the position maps. */
function rebuildLog(old: TxLog, first: number, tuplePos: Int32Array, attrPos: Int32Array): TxLog {
  const log = new TxLog();
  log.forgottenUpTo = first > 0 ? Math.max(old.forgottenUpTo, old.tx[first - 1] as number) : old.forgottenUpTo;
  const n = old.length - first;
  log.ensure(n);
  log.tupleExpired = new IntList();
  log.attrExpired = new IntList();
  for (let k = 0; k < n; k += 1) {
    const i = first + k;
    log.tx[k] = old.tx[i] as number;
    log.timeMs[k] = old.timeMs[i] as number;
    log.tupleStart[k] = tuplePos[old.tupleStart[i] as number] as number;
    log.tupleEnd[k] = tuplePos[old.tupleEnd[i] as number] as number;
    log.attrStart[k] = attrPos[old.attrStart[i] as number] as number;
    log.attrEnd[k] = attrPos[old.attrEnd[i] as number] as number;
    log.tupleExpStart[k] = log.tupleExpired.length;
    for (let j = old.tupleExpStart[i] as number; j < (old.tupleExpEnd[i] as number); j += 1) {
      log.tupleExpired.push(tuplePos[old.tupleExpired.data[j] as number] as number);
    }
    log.tupleExpEnd[k] = log.tupleExpired.length;
    log.attrExpStart[k] = log.attrExpired.length;
    for (let j = old.attrExpStart[i] as number; j < (old.attrExpEnd[i] as number); j += 1) {
      log.attrExpired.push(attrPos[old.attrExpired.data[j] as number] as number);
    }
    log.attrExpEnd[k] = log.attrExpired.length;
  }
  log.length = n;
  return log;
}

/**
 * Collects one tenant; returns the number of rows removed. With `minGarbageFraction` > 0 (automatic
 * collection) the tables are compacted only when at least that fraction of their rows is removable, so the
 * O(rows) compaction is amortised over the garbage it frees; the transaction log is trimmed either way.
 */
export function collectTenant(data: TenantData, cutoffMs: number, minGarbageFraction = 0): number {
  const log = data.txLog;
  // k = index of the newest record committed before the cutoff.
  let k = -1;
  for (let i = log.length - 1; i >= 0; i -= 1) {
    if ((log.timeMs[i] as number) < cutoffMs) {
      k = i;
      break;
    }
  }
  if (k < 0) return 0;
  const horizon = log.tx[k] as number;
  let t = positions(data.tuples.txCol(T_EXPIRED), data.tuples.length, horizon);
  let a = positions(data.attributes.txCol(A_EXPIRED), data.attributes.length, horizon);
  const removable = t.removed + a.removed;
  const compact = removable > 0 && removable >= minGarbageFraction * (data.tuples.length + data.attributes.length);
  if (compact) {
    // Compact both tables (they share the string table, which is rebuilt from the surviving rows).
    const r = new Reinterner(data.strings);
    data.tuples = compactTuples(data.tuples, horizon, r);
    data.attributes = compactAttributes(data.attributes, horizon, r);
    data.setStrings(r.strings);
  } else if (removable > 0) {
    // Rows stay where they are: identity position maps.
    t = positions(data.tuples.txCol(T_EXPIRED), data.tuples.length, 0);
    a = positions(data.attributes.txCol(A_EXPIRED), data.attributes.length, 0);
  }
  if (k > 0 || compact) data.txLog = rebuildLog(log, k, t.newPos, a.newPos);
  return compact ? removable : 0;
}

export function createMemoryGarbageCollector(state: MemoryState): GarbageCollector {
  return {
    async collect(windowMs, signal) {
      throwIfAborted(signal);
      const cutoffMs = state.now() - windowMs;
      let removedRows = 0;
      for (const data of state.tenantData.values()) removedRows += collectTenant(data, cutoffMs);
      return { removedRows };
    },
  };
}
