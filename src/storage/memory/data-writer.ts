/**
 * Writes of the memory store. A write is validated structurally first, then applied synchronously (no
 * await between the first and the last change), so concurrent callers are serialised by the event loop and
 * no reader ever observes half of a write. Every write takes a new store-wide transaction id and appends
 * one record to the tenant's transaction log, even when it changes nothing.
 */
import { PermifyError, throwIfAborted } from '../../errors.js';
import type { AttributeValue, Entity, Tuple } from '../../data/types.js';
import type { Attribute } from '../../data/types.js';
import type { DataWriter, WriteStep } from '../contract.js';
import {
  attributeFilterHasCriterion,
  matchAttributeRows,
  matchTupleRows,
  tupleFilterHasCriterion,
  validateAttributeFilter,
  validateTupleFilter,
} from './data-reader.js';
import { encodeSnapToken } from './snap-token.js';
import {
  A_EXPIRED,
  CURRENT,
  LIVE,
  MAX_TX,
  type MemoryState,
  T_EXPIRED,
  type TenantData,
  tenantData,
} from './tables.js';

function invalid(message: string): never {
  throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', message);
}

function isStr(v: unknown): v is string {
  return typeof v === 'string';
}

function validateEntity(e: Entity | undefined, what: string): void {
  if (typeof e !== 'object' || e === null || !isStr(e.type) || !isStr(e.id) || e.type === '' || e.id === '') {
    invalid(`invalid ${what}: entity type and id must be non-empty strings`);
  }
}

function validateTuple(t: Tuple): void {
  if (typeof t !== 'object' || t === null) invalid('invalid tuple');
  validateEntity(t.entity, 'tuple');
  if (!isStr(t.relation)) invalid('invalid tuple: relation must be a string');
  validateEntity(t.subject, 'tuple subject');
  if (t.subject.relation !== undefined && !isStr(t.subject.relation)) {
    invalid('invalid tuple: subject relation must be a string');
  }
}

const elementType: Record<AttributeValue['type'], 'boolean' | 'string' | 'number'> = {
  boolean: 'boolean',
  'boolean[]': 'boolean',
  string: 'string',
  'string[]': 'string',
  integer: 'number',
  'integer[]': 'number',
  double: 'number',
  'double[]': 'number',
};

function validateValue(v: AttributeValue): void {
  if (typeof v !== 'object' || v === null || !(v.type in elementType)) invalid('invalid attribute value type');
  const want = elementType[v.type];
  const isInt = v.type === 'integer' || v.type === 'integer[]';
  const ok = (x: unknown): boolean =>
    typeof x === want &&
    (!isInt || (Number.isInteger(x) && (x as number) >= -2147483648 && (x as number) <= 2147483647));
  if (v.type.endsWith('[]') ? !Array.isArray(v.value) || !v.value.every(ok) : !ok(v.value)) {
    invalid(`invalid attribute value: does not match type ${v.type}`);
  }
}

function validateAttribute(a: Attribute): void {
  if (typeof a !== 'object' || a === null) invalid('invalid attribute');
  validateEntity(a.entity, 'attribute');
  if (!isStr(a.attribute) || a.attribute === '') invalid('invalid attribute: name must be a non-empty string');
  validateValue(a.value);
}

function validateSteps(steps: readonly WriteStep[]): void {
  if (!Array.isArray(steps)) invalid('invalid write: steps must be a list');
  for (const step of steps) {
    if (typeof step !== 'object' || step === null) invalid('invalid write step');
    for (const t of step.writeTuples ?? []) validateTuple(t);
    for (const t of step.deleteTuples ?? []) validateTuple(t);
    for (const a of step.writeAttributes ?? []) validateAttribute(a);
    for (const d of step.deleteAttributes ?? []) {
      validateEntity(d?.entity, 'attribute delete');
      if (!isStr(d.attribute)) invalid('invalid attribute delete: name must be a string');
    }
    for (const f of step.deleteTupleFilters ?? []) validateTupleFilter(f);
    for (const f of step.deleteAttributeFilters ?? []) validateAttributeFilter(f);
  }
}

function normaliseSubjectRelation(r: string | undefined): string {
  return r === undefined || r === '...' ? '' : r;
}

const tupleKey = new Int32Array(6);
const attributeKey = new Int32Array(3);

/**
 * Remembers the last string interned per field: types, relations and attribute names repeat from one
 * tuple to the next, so most lookups become one string comparison instead of a Map probe.
 */
class FieldCache {
  private lastString: string | undefined;
  private lastId = -1;
  constructor(private readonly strings: TenantData['strings']) {}
  intern(s: string): number {
    if (s === this.lastString) return this.lastId;
    this.lastString = s;
    this.lastId = this.strings.intern(s);
    return this.lastId;
  }
}

/** Applies one step to the tenant at transaction `tx`. */
function applyStep(data: TenantData, step: WriteStep, tx: number): void {
  const s = data.strings;
  const t = data.tuples;
  const a = data.attributes;
  const log = data.txLog;

  const writeTuples = step.writeTuples ?? [];
  if (writeTuples.length > 0) {
    const [cET, cEID, cREL, cST, cSID, cSREL] = Array.from({ length: 6 }, () => new FieldCache(s)) as [
      FieldCache,
      FieldCache,
      FieldCache,
      FieldCache,
      FieldCache,
      FieldCache,
    ];
    for (const tuple of writeTuples) {
      tupleKey[0] = cET.intern(tuple.entity.type);
      tupleKey[1] = cEID.intern(tuple.entity.id);
      tupleKey[2] = cREL.intern(tuple.relation);
      tupleKey[3] = cST.intern(tuple.subject.type);
      tupleKey[4] = cSID.intern(tuple.subject.id);
      tupleKey[5] = cSREL.intern(normaliseSubjectRelation(tuple.subject.relation));
      t.appendIfNotLive(tupleKey, tx);
    }
  }

  for (const attribute of step.writeAttributes ?? []) {
    const et = s.intern(attribute.entity.type);
    const eid = s.intern(attribute.entity.id);
    const name = s.intern(attribute.attribute);
    attributeKey[0] = et;
    attributeKey[1] = eid;
    attributeKey[2] = name;
    const last = a.unique.last(attributeKey);
    if (last >= 0 && a.txCol(A_EXPIRED)[last] === LIVE) {
      a.txCol(A_EXPIRED)[last] = tx;
      log.attrExpired.push(last);
    }
    a.append(et, eid, name, freezeValue(attribute.value), tx);
  }

  for (const tuple of step.deleteTuples ?? []) {
    const key = [
      s.lookup(tuple.entity.type),
      s.lookup(tuple.entity.id),
      s.lookup(tuple.relation),
      s.lookup(tuple.subject.type),
      s.lookup(tuple.subject.id),
      s.lookup(normaliseSubjectRelation(tuple.subject.relation)),
    ];
    if (key.some((k) => k < 0)) continue;
    const last = t.unique.last(key);
    if (last >= 0 && t.txCol(T_EXPIRED)[last] === LIVE) {
      t.txCol(T_EXPIRED)[last] = tx;
      log.tupleExpired.push(last);
    }
  }

  for (const d of step.deleteAttributes ?? []) {
    const key = [s.lookup(d.entity.type), s.lookup(d.entity.id), s.lookup(d.attribute)];
    if (key.some((k) => k < 0)) continue;
    const last = a.unique.last(key);
    if (last >= 0 && a.txCol(A_EXPIRED)[last] === LIVE) {
      a.txCol(A_EXPIRED)[last] = tx;
      log.attrExpired.push(last);
    }
  }

  for (const filter of step.deleteTupleFilters ?? []) {
    if (!tupleFilterHasCriterion(filter)) continue;
    const expired = t.txCol(T_EXPIRED);
    for (const row of matchTupleRows(data, filter, CURRENT)) {
      expired[row] = tx;
      log.tupleExpired.push(row);
    }
  }

  for (const filter of step.deleteAttributeFilters ?? []) {
    if (!attributeFilterHasCriterion(filter)) continue;
    const expired = a.txCol(A_EXPIRED);
    for (const row of matchAttributeRows(data, filter, CURRENT)) {
      expired[row] = tx;
      log.attrExpired.push(row);
    }
  }
}

function freezeValue(v: AttributeValue): AttributeValue {
  if (Array.isArray(v.value))
    return Object.freeze({ type: v.type, value: Object.freeze([...v.value]) }) as AttributeValue;
  return Object.freeze({ type: v.type, value: v.value }) as AttributeValue;
}

/**
 * Applies `steps` to the tenant as one transaction and records it in the transaction log.
 * Synchronous on purpose: see the module comment.
 */
export function applyWrite(state: MemoryState, tenantId: string, steps: readonly WriteStep[]): number {
  validateSteps(steps);
  if (state.head >= MAX_TX) {
    // Unreachable in practice (2^53 transactions), but a wrapped or inexact id would corrupt MVCC silently.
    throw new PermifyError(
      'ERROR_CODE_DATASTORE',
      `the memory store has used all ${MAX_TX} transaction ids; restart the server to start over`,
    );
  }
  const data = tenantData(state, tenantId);
  const tx = state.head + 1;
  const log = data.txLog;
  const tupleStart = data.tuples.length;
  const attrStart = data.attributes.length;
  const tupleExpStart = log.tupleExpired.length;
  const attrExpStart = log.attrExpired.length;
  for (const step of steps) applyStep(data, step, tx);
  state.head = tx;
  data.headTx = tx;
  const i = log.length;
  log.ensure(i + 1);
  log.tx[i] = tx;
  log.timeMs[i] = state.now();
  log.tupleStart[i] = tupleStart;
  log.tupleEnd[i] = data.tuples.length;
  log.attrStart[i] = attrStart;
  log.attrEnd[i] = data.attributes.length;
  log.tupleExpStart[i] = tupleExpStart;
  log.tupleExpEnd[i] = log.tupleExpired.length;
  log.attrExpStart[i] = attrExpStart;
  log.attrExpEnd[i] = log.attrExpired.length;
  log.length = i + 1;
  data.wake();
  return tx;
}

export function createMemoryDataWriter(state: MemoryState, afterCommit: () => void): DataWriter {
  return {
    async write(tenantId, steps, signal) {
      throwIfAborted(signal);
      if (state.closed) throw new PermifyError('UNAVAILABLE', 'the memory store is closed');
      const tx = applyWrite(state, tenantId, steps);
      afterCommit();
      return encodeSnapToken(tx);
    },
  };
}
