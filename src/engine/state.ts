/**
 * Per-request evaluation state shared by every engine operation: the resolved schema and snapshot, the
 * request context (indexed once), the reader and the cancellation signal. Reading helpers here implement
 * the "stored first, then contextual, de-duplicated" rule of spec §5.1.
 */
import type { Attribute, AttributeValue, Entity, JsonValue, RequestContext, Subject, Tuple } from '../data/types.js';
import { emptyContext } from '../data/types.js';
import { PermifyError, throwIfAborted } from '../errors.js';
import type { Schema } from '../schema/model.js';
import type { DataReader } from '../storage/contract.js';
import { budgetedReader, type WorkBudget } from './budget.js';

export interface EvalState {
  readonly tenantId: string;
  readonly schema: Schema;
  readonly schemaVersion: string;
  readonly snapToken: string;
  /** The store's reader, drawing every read from {@link budget}. */
  readonly reader: DataReader;
  /** The request's one work budget (shared by forks: BulkCheck items, lookup candidates). */
  readonly budget: WorkBudget;
  /** Purge generation when the request started: results are not cached across a purge of the tenant. */
  readonly generation: number;
  readonly context: RequestContext;
  /** Contextual tuples by `type:id#relation` of their entity; undefined when there are none. */
  readonly contextTuples: ReadonlyMap<string, readonly Tuple[]> | undefined;
  readonly signal: AbortSignal | undefined;
  /** Max concurrent sub-problems per combination. */
  readonly concurrency: number;
  /** Options passed to unpaged reader queries (shared to avoid an allocation per read). */
  readonly queryOptions: { readonly signal?: AbortSignal } | undefined;
  /**
   * Sub-problems of this request by node `type:id#name[(args)]` (the subject and context are fixed per
   * state); see {@link MemoEntry}.
   */
  readonly memo: Map<string, MemoEntry>;
  /** Completed evaluation steps (check_count). */
  count: number;
}

export function createEvalState(init: {
  tenantId: string;
  schema: Schema;
  schemaVersion: string;
  snapToken: string;
  reader: DataReader;
  budget: WorkBudget;
  generation: number;
  context: RequestContext | undefined;
  signal: AbortSignal | undefined;
  concurrency: number;
}): EvalState {
  const context = init.context ?? emptyContext;
  let contextTuples: Map<string, Tuple[]> | undefined;
  if (context.tuples.length > 0) {
    contextTuples = new Map();
    for (const t of context.tuples) {
      const k = `${t.entity.type}:${t.entity.id}#${t.relation}`;
      const list = contextTuples.get(k);
      if (list === undefined) contextTuples.set(k, [t]);
      else list.push(t);
    }
  }
  return {
    tenantId: init.tenantId,
    schema: init.schema,
    schemaVersion: init.schemaVersion,
    snapToken: init.snapToken,
    reader: budgetedReader(init.reader, init.budget),
    budget: init.budget,
    generation: init.generation,
    context,
    contextTuples,
    signal: init.signal,
    concurrency: init.concurrency,
    queryOptions: init.signal === undefined ? undefined : { signal: init.signal },
    memo: new Map(),
    count: 0,
  };
}

/**
 * What one node's evaluations left. `settled`: its successful result, reached with the remaining budget
 * `settledDepth`: it answers the node at that budget or more (a result that completed without error does not
 * change with more budget, but a smaller budget might have had to fail with DEPTH_NOT_ENOUGH, and answering it
 * from the memo would make the result depend on which branch finished first). In flight or done by remaining budget
 * (`depth`/`promise` for the first, `others` for further budgets): an identical sub-problem (same node, same
 * budget) reached through another path is evaluated once. Keying by depth keeps waits acyclic (a step only
 * waits for equal or smaller budgets) and bounds the work on cyclic data by nodes × depth.
 */
export interface MemoEntry {
  settled: boolean | undefined;
  settledDepth: number;
  readonly depth: number;
  promise: Promise<boolean> | undefined;
  others: Map<number, Promise<boolean>> | undefined;
}

/** A copy of `st` for another subject: same snapshot and context, fresh memo and counter. */
export function forkEvalState(st: EvalState): EvalState {
  return { ...st, memo: new Map(), count: 0 };
}

/** `...` and "" both mean "no subject relation". */
export function normRelation(r: string): string {
  return r === '...' ? '' : r;
}

function sameTuple(a: Tuple, b: Tuple): boolean {
  return (
    a.relation === b.relation &&
    a.entity.id === b.entity.id &&
    a.entity.type === b.entity.type &&
    a.subject.id === b.subject.id &&
    a.subject.type === b.subject.type &&
    a.subject.relation === b.subject.relation
  );
}

/** Tuples `entity#relation@*` at the snapshot: stored first, then contextual ones not already stored. */
export function readTuples(st: EvalState, entity: Entity, relation: string): Promise<readonly Tuple[]> {
  const stored = st.reader.queryRelationships(
    st.tenantId,
    { entity: { type: entity.type, ids: [entity.id] }, relation },
    st.snapToken,
    st.queryOptions,
  );
  if (st.contextTuples === undefined) return stored;
  return withContextual(st, entity, relation, stored);
}

async function withContextual(
  st: EvalState,
  entity: Entity,
  relation: string,
  storedPromise: Promise<readonly Tuple[]>,
): Promise<readonly Tuple[]> {
  const stored = await storedPromise;
  if (st.contextTuples === undefined) return stored;
  const extra = st.contextTuples.get(`${entity.type}:${entity.id}#${relation}`);
  if (extra === undefined) return stored;
  return mergeTuples(stored, extra);
}

/** Union of stored and contextual tuples, stored first, de-duplicated (contextual duplicates dropped). */
export function mergeTuples(stored: readonly Tuple[], extra: readonly Tuple[]): readonly Tuple[] {
  const out = stored.slice();
  for (const t of extra) {
    let dup = false;
    for (const s of out) {
      if (sameTuple(s, t)) {
        dup = true;
        break;
      }
    }
    if (!dup) out.push(t);
  }
  return out;
}

/** The first contextual attribute `entity$name` in request order. */
export function contextualAttribute(st: EvalState, entity: Entity, name: string): AttributeValue | undefined {
  for (const a of st.context.attributes) {
    if (a.attribute === name && a.entity.id === entity.id && a.entity.type === entity.type) return a.value;
  }
  return undefined;
}

/** Stored value of `entity$name` at the snapshot. */
export async function storedAttribute(
  st: EvalState,
  entity: Entity,
  name: string,
): Promise<AttributeValue | undefined> {
  const a = await st.reader.querySingleAttribute(st.tenantId, entity, name, st.snapToken, st.signal);
  return a?.value;
}

/** Stored values of several attributes of one entity (one read). */
export async function storedAttributes(
  st: EvalState,
  entity: Entity,
  names: readonly string[],
): Promise<readonly Attribute[]> {
  if (names.length === 0) return [];
  return st.reader.queryAttributes(
    st.tenantId,
    { entity: { type: entity.type, ids: [entity.id] }, attributes: names },
    st.snapToken,
    st.signal === undefined ? undefined : { signal: st.signal },
  );
}

export function checkSignal(st: EvalState): void {
  if (st.signal !== undefined) throwIfAborted(st.signal);
}

export function subjectText(s: Subject): string {
  return s.relation === '' ? `${s.type}:${s.id}` : `${s.type}:${s.id}#${s.relation}`;
}

export function entityNotFound(type: string): PermifyError {
  return new PermifyError('ERROR_CODE_SCHEMA_NOT_FOUND', `entity definition not found: ${type}`, {
    details: { entityType: type },
  });
}

/** Deterministic text of a JSON value with object keys sorted (cache keys, token hashes). */
export function canonicalJson(v: JsonValue | undefined): string {
  if (v === undefined || v === null) return 'null';
  if (typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${(v as readonly JsonValue[]).map(canonicalJson).join(',')}]`;
  const o = v as { readonly [k: string]: JsonValue };
  const keys = Object.keys(o).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

function attributeValueText(v: AttributeValue): string {
  return `${v.type}:${JSON.stringify(v.value)}`;
}

/**
 * A deterministic text of a request context ("" for an empty one), used in check-cache keys and lookup token
 * hashes. Order of contextual tuples/attributes matters for attribute precedence, so it is kept.
 */
export function contextKey(context: RequestContext | undefined): string {
  if (context === undefined) return '';
  const { tuples, attributes, data } = context;
  if (tuples.length === 0 && attributes.length === 0 && Object.keys(data).length === 0) return '';
  const parts: string[] = [];
  for (const t of tuples) parts.push(`${t.entity.type}:${t.entity.id}#${t.relation}@${subjectText(t.subject)}`);
  parts.push('|');
  for (const a of attributes)
    parts.push(`${a.entity.type}:${a.entity.id}$${a.attribute}|${attributeValueText(a.value)}`);
  parts.push('|');
  parts.push(canonicalJson(data));
  return parts.join(',');
}
