/**
 * The Check evaluator (spec §5.2-§5.4): `invoke` enforces the depth budget, `evaluate` resolves the requested
 * name and dispatches to permission expressions, direct relations, boolean attributes or rule calls.
 *
 * Contract:
 * - Results are deterministic: unions/intersections follow §5.2.2's deterministic rule (see combine.ts).
 * - Children run concurrently (at most `state.concurrency` per combination); losers of a short-circuit are
 *   cancelled through their Scope and stop before their next read.
 * - Cyclic data or schemas never loop forever: every nested step consumes depth, and exhaustion is the error
 *   ERROR_CODE_DEPTH_NOT_ENOUGH.
 * - Only PermifyError escapes (plus the internal ScopeCancelled, which only cancelled work ever sees).
 * - Explain (explain.ts) runs this same evaluator with a trace node passed down as the last argument (`out`):
 *   each step fills in the node it was given and creates its children's nodes. Without one (Check, BulkCheck,
 *   lookups), tracing costs one `undefined` comparison per step and no allocation.
 */
import type { AttributeValue, Entity, Subject, Tuple } from '../data/types.js';
import { PermifyError } from '../errors.js';
import type { Child, RelationDefinition, RuleDefinition } from '../schema/model.js';
import { printChild } from '../language/printer.js';
import { combine, exclude, Scope, ScopeCancelled, scopeCancelled } from './combine.js';
import {
  attributeJson,
  contextDataUsed,
  firstEvaluation,
  rememberNode,
  settle,
  traceChild,
  traceDepthExhausted,
  traceFailure,
  type TraceNode,
  type TraceRule,
} from './explain-trace.js';
import {
  checkSignal,
  contextualAttribute,
  entityNotFound,
  type EvalState,
  type MemoEntry,
  normRelation,
  readTuples,
  storedAttribute,
  storedAttributes,
  subjectText,
} from './state.js';

export function depthNotEnough(): PermifyError {
  return new PermifyError('ERROR_CODE_DEPTH_NOT_ENOUGH', 'ERROR_CODE_DEPTH_NOT_ENOUGH');
}

/**
 * One nested step: fails with DEPTH_NOT_ENOUGH when `depth < 0`, otherwise evaluates with `depth - 1`.
 * Check and BulkCheck enter here; lookups and SubjectPermission enter {@link evaluate} directly (§5.4).
 */
const allowedPromise = Promise.resolve(true);
const deniedPromise = Promise.resolve(false);

export function invoke(
  st: EvalState,
  entity: Entity,
  permission: string,
  subject: Subject,
  depth: number,
  args: readonly string[] | undefined,
  scope: Scope,
  out?: TraceNode,
): Promise<boolean> {
  if (depth < 0) {
    if (out !== undefined) {
      describe(st, out, entity, permission, args);
      traceDepthExhausted(out);
    }
    return Promise.reject(depthNotEnough());
  }
  const key =
    args === undefined || args.length === 0
      ? `${entity.type}:${entity.id}#${permission}`
      : `${entity.type}:${entity.id}#${permission}(${args.join(',')})`;
  let entry = st.memo.get(key);
  if (entry === undefined) {
    entry = { settled: undefined, settledDepth: 0, depth, promise: undefined, others: undefined };
    st.memo.set(key, entry);
  } else {
    if (entry.settled !== undefined && depth >= entry.settledDepth) {
      if (out !== undefined) traceReused(st, out, entity, permission, args, key, entry.settled);
      return entry.settled ? allowedPromise : deniedPromise;
    }
    const shared = entry.depth === depth ? entry.promise : entry.others?.get(depth);
    if (shared !== undefined) return reuse(st, shared, entity, permission, subject, depth, args, scope, entry, out);
  }
  const result = evaluate(st, entity, permission, subject, depth - 1, args, scope, entry, out);
  if (entry.depth === depth) entry.promise = result;
  else (entry.others ??= new Map()).set(depth, result);
  if (out !== undefined) {
    rememberNode(out, key);
    return settle(out, result);
  }
  return result;
}

/**
 * Joins an identical sub-problem already in flight. If that one failed only because its first requester's
 * combination had decided (cancelled), it is recomputed in our own scope; other failures are the answer.
 */
async function reuse(
  st: EvalState,
  shared: Promise<boolean>,
  entity: Entity,
  permission: string,
  subject: Subject,
  depth: number,
  args: readonly string[] | undefined,
  scope: Scope,
  entry: MemoEntry,
  out: TraceNode | undefined,
): Promise<boolean> {
  try {
    const v = await shared;
    if (out !== undefined) traceReused(st, out, entity, permission, args, undefined, v);
    return v;
  } catch (e) {
    if (!(e instanceof ScopeCancelled)) {
      if (out !== undefined) {
        describe(st, out, entity, permission, args);
        traceFailure(out, e);
      }
      throw e;
    }
    if (scope.dead) throw scopeCancelled;
    const result = evaluate(st, entity, permission, subject, depth - 1, args, scope, entry, out);
    return out === undefined ? result : settle(out, result);
  }
}

/** Fills `out` with what `entity#name` denotes in the schema (kind, name, source text). */
function describe(
  st: EvalState,
  out: TraceNode,
  entity: Entity,
  name: string,
  args: readonly string[] | undefined,
): void {
  out.entity = { type: entity.type, id: entity.id };
  out.name = name;
  const def = st.schema.entities.get(entity.type);
  switch (def?.references.get(name)) {
    case 'permission':
      out.kind = 'permission';
      out.expression = printChild((def?.permissions.get(name) as { child: Child }).child, false);
      break;
    case 'relation': {
      out.kind = 'relation';
      const refs = (def?.relations.get(name) as RelationDefinition).references;
      out.expression = refs.map((r) => (r.relation === '' ? `@${r.type}` : `@${r.type}#${r.relation}`)).join(' ');
      break;
    }
    case 'attribute':
      out.kind = 'attribute';
      out.expression = `${name} ${def?.attributes.get(name)?.type ?? ''}`.trim();
      break;
    default:
      out.kind = 'rule-call';
      out.expression = `${name}(${(args ?? []).join(', ')})`;
  }
}

/** `out` was answered by the same sub-problem evaluated earlier in this request (the per-request memo). */
function traceReused(
  st: EvalState,
  out: TraceNode,
  entity: Entity,
  name: string,
  args: readonly string[] | undefined,
  key: string | undefined,
  result: boolean,
): void {
  describe(st, out, entity, name, args);
  out.outcome = result ? 'allowed' : 'denied';
  const first = key === undefined ? '' : firstEvaluation(out, key);
  out.note = `answered by the same sub-problem evaluated earlier in this request${first === '' ? '' : `: ${first}`}`;
}

/** Evaluates `permission` on `entity` for `subject` with the remaining budget `depth` for nested steps. */
export async function evaluate(
  st: EvalState,
  entity: Entity,
  permission: string,
  subject: Subject,
  depth: number,
  args: readonly string[] | undefined,
  scope: Scope,
  memo?: MemoEntry,
  out?: TraceNode,
): Promise<boolean> {
  if (scope.dead) throw scopeCancelled;
  checkSignal(st);
  const def = st.schema.entities.get(entity.type);
  if (def === undefined) throw entityNotFound(entity.type);
  if (out !== undefined) describe(st, out, entity, permission, args);
  let result: boolean;
  if (
    subject.id === entity.id &&
    subject.type === entity.type &&
    normRelation(subject.relation) === normRelation(permission)
  ) {
    if (out !== undefined) {
      out.kind = 'subject';
      out.note = 'the subject is this subject set itself';
    }
    result = true;
  } else {
    switch (def.references.get(permission)) {
      case 'permission':
        result = await evalChild(
          st,
          (def.permissions.get(permission) as { child: Child }).child,
          entity,
          subject,
          depth,
          scope,
          out === undefined ? undefined : traceChild(out, entity),
        );
        break;
      case 'relation':
        result = await directRelation(
          st,
          entity,
          def.relations.get(permission) as RelationDefinition,
          subject,
          depth,
          scope,
          out,
        );
        break;
      case 'attribute':
        result = await directAttribute(st, entity, permission, out);
        break;
      default:
        result = await directCall(st, entity, permission, args ?? [], out);
    }
  }
  st.count++;
  // Kept with the smallest budget that reached it: a smaller budget might have had to fail.
  if (memo !== undefined && (memo.settled === undefined || depth + 1 < memo.settledDepth)) {
    memo.settled = result;
    memo.settledDepth = depth + 1;
  }
  return result;
}

interface Operands {
  /** Operands in evaluation order: cheap leaves first (see {@link costOf}). */
  readonly children: readonly Child[];
  /** Source position (left to right) of each operand: the error of the leftmost failing operand wins. */
  readonly positions: readonly number[];
}

const flattened = new WeakMap<Child, Operands>();

/**
 * Operands of nested unions (or intersections) flattened into one list: `(a or b) or c` is combined as
 * `any(a, b, c)`. Equivalent under the deterministic rules (any deciding value wins, else the error of the
 * leftmost failing operand) and saves one combination per nesting level. The evaluation order puts cheap
 * operands first, so that a short-circuit (always when children run one at a time) skips the expensive ones;
 * the result does not depend on the order.
 */
function flatOperands(child: Child & { kind: 'rewrite' }): Operands {
  let ops = flattened.get(child);
  if (ops === undefined) {
    const out: Child[] = [];
    const visit = (c: Child): void => {
      if (c.kind === 'rewrite' && c.operation === child.operation) {
        visit(c.children[0]);
        visit(c.children[1]);
      } else out.push(c);
    };
    visit(child);
    const order = out.map((_, i) => i).sort((x, y) => costOf(out[x] as Child) - costOf(out[y] as Child) || x - y);
    ops = { children: order.map((i) => out[i] as Child), positions: order };
    flattened.set(child, ops);
  }
  return ops;
}

/** A rough, static cost rank of an operand: attribute < rule < named member < nested rewrite < walk. */
function costOf(c: Child): number {
  switch (c.kind) {
    case 'computed-attribute':
      return 0;
    case 'call':
      return 1;
    case 'computed-user-set':
      return 2;
    case 'rewrite':
      return 3;
    case 'tuple-to-user-set':
      return 4;
  }
}

function evalChild(
  st: EvalState,
  child: Child,
  entity: Entity,
  subject: Subject,
  depth: number,
  scope: Scope,
  out?: TraceNode,
): Promise<boolean> {
  switch (child.kind) {
    case 'rewrite': {
      if (out !== undefined) return settle(out, tracedRewrite(st, child, entity, subject, depth, scope, out));
      if (child.operation === 'exclusion') {
        const [left, right] = child.children;
        return exclude(
          scope,
          (s) => evalChild(st, left, entity, subject, depth, s),
          (s) => evalChild(st, right, entity, subject, depth, s),
        );
      }
      const operands = flatOperands(child);
      return combine(
        operands.children.length,
        child.operation === 'union',
        scope,
        st.concurrency,
        (i, s) => evalChild(st, operands.children[i] as Child, entity, subject, depth, s),
        operands.positions,
      );
    }
    case 'computed-user-set':
      return invoke(st, entity, child.relation, subject, depth, undefined, scope, out);
    case 'computed-attribute':
      return invoke(st, entity, child.name, subject, depth, undefined, scope, out);
    case 'call':
      return invoke(st, entity, child.ruleName, subject, depth, child.arguments, scope, out);
    case 'tuple-to-user-set':
      if (out === undefined) return walk(st, entity, child.tupleSet, child.computed, subject, depth, scope);
      out.kind = 'walk';
      out.entity = entity;
      out.name = child.tupleSet;
      out.expression = `${child.tupleSet}.${child.computed}`;
      return settle(out, walk(st, entity, child.tupleSet, child.computed, subject, depth, scope, out));
  }
}

/**
 * The rewrite branch of {@link evalChild} with a trace node: the same combinations over the same operands
 * (kept apart so that the untraced branch allocates no closures over trace nodes). Operand nodes are created
 * in source order and stay SKIPPED when the combination decides before running them.
 */
function tracedRewrite(
  st: EvalState,
  child: Child & { kind: 'rewrite' },
  entity: Entity,
  subject: Subject,
  depth: number,
  scope: Scope,
  out: TraceNode,
): Promise<boolean> {
  out.kind = child.operation;
  out.entity = entity;
  out.expression = printChild(child, false);
  if (child.operation === 'exclusion') {
    const [left, right] = child.children;
    const l = describeOperand(st, traceChild(out, entity), left, entity);
    const r = describeOperand(st, traceChild(out, entity), right, entity);
    return exclude(
      scope,
      (s) => evalChild(st, left, entity, subject, depth, s, l),
      (s) => evalChild(st, right, entity, subject, depth, s, r),
    );
  }
  const operands = flatOperands(child);
  const n = operands.children.length;
  for (let i = 0; i < n; i++) traceChild(out, entity);
  const kids = out.children;
  for (let i = 0; i < n; i++) {
    describeOperand(st, kids[operands.positions[i] as number] as TraceNode, operands.children[i] as Child, entity);
  }
  return combine(
    n,
    child.operation === 'union',
    scope,
    st.concurrency,
    (i, s) =>
      evalChild(st, operands.children[i] as Child, entity, subject, depth, s, kids[operands.positions[i] as number]),
    operands.positions,
  );
}

/** `tupleSet.computed`: union of `computed` on every subject entity of `entity#tupleSet` (relation ignored). */
async function walk(
  st: EvalState,
  entity: Entity,
  tupleSet: string,
  computed: string,
  subject: Subject,
  depth: number,
  scope: Scope,
  out?: TraceNode,
): Promise<boolean> {
  const tuples = await readTuples(st, entity, tupleSet);
  if (scope.dead) throw scopeCancelled;
  if (out !== undefined) {
    const kids = traceTuples(st, out, tuples, true);
    for (const k of kids) describe(st, k, k.entity, computed, undefined);
    if (tuples.length === 0) {
      const rel = st.schema.entities.get(entity.type)?.relations.get(tupleSet);
      for (const t of new Set(rel?.references.map((r) => r.type) ?? [])) {
        out.missing.push(`${entity.type}:${entity.id}#${tupleSet}@${t}:<id>`);
      }
    }
    return combine(tuples.length, true, scope, st.concurrency, (i, s) =>
      invoke(st, (tuples[i] as { subject: Subject }).subject, computed, subject, depth, undefined, s, kids[i]),
    );
  }
  return combine(tuples.length, true, scope, st.concurrency, (i, s) =>
    invoke(st, (tuples[i] as { subject: Subject }).subject, computed, subject, depth, undefined, s),
  );
}

/** Describes the node of an operand before it runs, so that an operand never reached still says what it is. */
function describeOperand(st: EvalState, node: TraceNode, child: Child, entity: Entity): TraceNode {
  switch (child.kind) {
    case 'rewrite':
      node.kind = child.operation;
      node.expression = printChild(child, false);
      break;
    case 'computed-user-set':
      describe(st, node, entity, child.relation, undefined);
      break;
    case 'computed-attribute':
      describe(st, node, entity, child.name, undefined);
      break;
    case 'call':
      describe(st, node, entity, child.ruleName, child.arguments);
      break;
    case 'tuple-to-user-set':
      node.kind = 'walk';
      node.name = child.tupleSet;
      node.expression = `${child.tupleSet}.${child.computed}`;
      break;
  }
  return node;
}

/**
 * Records `tuples` as read by `out` (contextual ones recognised by identity: the evaluator passes the request's
 * own objects) and, with `children`, creates one SKIPPED child per tuple for its subject.
 */
function traceTuples(st: EvalState, out: TraceNode, tuples: readonly Tuple[], children: boolean): TraceNode[] {
  const kids: TraceNode[] = [];
  for (const t of tuples) {
    const contextual = st.contextTuples?.get(`${t.entity.type}:${t.entity.id}#${t.relation}`)?.includes(t) ?? false;
    out.tuples.push({ tuple: t, contextual });
    if (children) kids.push(traceChild(out, { type: t.subject.type, id: t.subject.id }));
  }
  return kids;
}

/** The direct hit of a relation: a SUBJECT child holding the tuple that grants it. */
function traceHit(st: EvalState, out: TraceNode, t: Tuple): void {
  const hit = traceChild(out, t.entity, 'subject');
  traceTuples(st, hit, [t], false);
  hit.name = t.relation;
  hit.expression = `${t.entity.type}:${t.entity.id}#${t.relation}@${subjectText(t.subject)}`;
  hit.outcome = 'allowed';
}

const usersetRelationNames = new WeakMap<RelationDefinition, readonly string[]>();

/** Distinct subject relations of the userset types a relation allows (`@group#member` ⇒ "member"). */
function usersetRelations(rel: RelationDefinition): readonly string[] {
  let names = usersetRelationNames.get(rel);
  if (names === undefined) {
    const out: string[] = [];
    for (const ref of rel.references) if (ref.relation !== '' && !out.includes(ref.relation)) out.push(ref.relation);
    names = out;
    usersetRelationNames.set(rel, names);
  }
  return names;
}

/**
 * A relation of the entity (§5.2.1 directRelation). The direct hit is looked up first with an exact subject
 * filter (served from the entity+relation index without materialising every subject of a large relation);
 * only without a hit are the userset subjects read, one query per subject relation the schema allows for this
 * relation (so stored usersets whose subject relation the evaluated schema version does not allow are not
 * followed), then contextual tuples are scanned for both.
 */
async function directRelation(
  st: EvalState,
  entity: Entity,
  rel: RelationDefinition,
  subject: Subject,
  depth: number,
  scope: Scope,
  out?: TraceNode,
): Promise<boolean> {
  const relation = rel.name;
  const sRel = normRelation(subject.relation);
  const exact = await st.reader.queryRelationships(
    st.tenantId,
    {
      entity: { type: entity.type, ids: [entity.id] },
      relation,
      subject: { type: subject.type, ids: [subject.id], relation: sRel },
    },
    st.snapToken,
    st.queryOptions,
  );
  for (const t of exact) {
    if (normRelation(t.subject.relation) === sRel) {
      if (out !== undefined) traceHit(st, out, t);
      return true;
    }
  }
  const contextual = st.contextTuples?.get(`${entity.type}:${entity.id}#${relation}`);
  let pending: Subject[] | undefined;
  if (contextual !== undefined) {
    for (const t of contextual) {
      const ts = t.subject;
      if (ts.id === subject.id && ts.type === subject.type && normRelation(ts.relation) === sRel) {
        if (out !== undefined) traceHit(st, out, t);
        return true;
      }
    }
  }
  let read: Tuple[] | undefined;
  for (const name of usersetRelations(rel)) {
    if (scope.dead) throw scopeCancelled;
    const sets = await st.reader.queryRelationships(
      st.tenantId,
      { entity: { type: entity.type, ids: [entity.id] }, relation, subject: { relation: name } },
      st.snapToken,
      st.queryOptions,
    );
    for (const t of sets) {
      if (t.subject.relation !== name) continue;
      (pending ??= []).push(t.subject);
      if (out !== undefined) (read ??= []).push(t);
    }
  }
  if (contextual !== undefined) {
    for (const t of contextual) {
      const ts = t.subject;
      if (ts.relation === '' || ts.relation === '...') continue;
      if (pending?.some((p) => p.id === ts.id && p.type === ts.type && p.relation === ts.relation) === true) continue;
      (pending ??= []).push(ts);
      if (out !== undefined) (read ??= []).push(t);
    }
  }
  if (pending === undefined) return false;
  if (scope.dead) throw scopeCancelled;
  const sets = pending;
  if (out !== undefined) {
    const kids = traceTuples(st, out, read ?? [], true);
    for (let i = 0; i < kids.length; i++) {
      const k = kids[i] as TraceNode;
      describe(st, k, k.entity, (sets[i] as Subject).relation, undefined);
    }
    return combine(sets.length, true, scope, st.concurrency, (i, s) => {
      const u = sets[i] as Subject;
      return invoke(st, u, u.relation, subject, depth, undefined, s, kids[i]);
    });
  }
  return combine(sets.length, true, scope, st.concurrency, (i, s) => {
    const u = sets[i] as Subject;
    return invoke(st, u, u.relation, subject, depth, undefined, s);
  });
}

/** A bare boolean attribute: contextual value first, then stored; missing ⇒ DENIED; non-boolean ⇒ error. */
export async function directAttribute(st: EvalState, entity: Entity, name: string, out?: TraceNode): Promise<boolean> {
  const c = contextualAttribute(st, entity, name);
  const v = c ?? (await storedAttribute(st, entity, name));
  if (out !== undefined) out.attributes.push({ entity, attribute: name, value: v, contextual: c !== undefined });
  if (v === undefined) return false;
  if (v.type !== 'boolean') {
    throw new PermifyError(
      'ERROR_CODE_TYPE_CONVERSATION',
      `attribute ${entity.type}:${entity.id}$${name} is ${v.type}, not boolean`,
    );
  }
  return v.value;
}

export function ruleNotFound(name: string): PermifyError {
  return new PermifyError('ERROR_CODE_SCHEMA_NOT_FOUND', `rule definition not found: ${name}`, {
    details: { permission: name },
  });
}

/**
 * Argument values of a rule call (§5.3): each argument starts unset (null ⇒ the parameter type's default),
 * the stored value of `entity$arg` wins, else the first contextual value. A value whose type differs from the
 * parameter type is an evaluation error (ERROR_CODE_INVALID_ARGUMENT, like every rule evaluation error).
 */
export async function ruleArguments(
  st: EvalState,
  rule: RuleDefinition,
  entity: Entity,
  args: readonly string[],
  out?: TraceNode,
): Promise<Map<string, AttributeValue | null>> {
  const values = new Map<string, AttributeValue | null>();
  const stored = await storedAttributes(st, entity, args);
  for (const a of args) {
    let v: AttributeValue | undefined;
    for (const s of stored) {
      if (s.attribute === a) {
        v = s.value;
        break;
      }
    }
    if (out !== undefined) {
      const c = v === undefined ? contextualAttribute(st, entity, a) : undefined;
      out.attributes.push({ entity, attribute: a, value: v ?? c, contextual: c !== undefined });
    }
    v ??= contextualAttribute(st, entity, a);
    const type = rule.parameters.get(a);
    if (v !== undefined && type !== undefined && v.type !== type) {
      // The value comes from the store or the request's context: bad input, not a server fault.
      throw new PermifyError(
        'ERROR_CODE_INVALID_ARGUMENT',
        `rule ${rule.name}: argument ${a} has type ${v.type}, parameter expects ${type}`,
        { details: { rule: rule.name } },
      );
    }
    values.set(a, v ?? null);
  }
  return values;
}

/** A rule call on `entity` (§5.3). `P` names a rule; a missing rule is ERROR_CODE_SCHEMA_NOT_FOUND. */
export async function directCall(
  st: EvalState,
  entity: Entity,
  ruleName: string,
  args: readonly string[],
  out?: TraceNode,
): Promise<boolean> {
  const rule = st.schema.rules.get(ruleName);
  if (rule === undefined) throw ruleNotFound(ruleName);
  const values = await ruleArguments(st, rule, entity, args, out);
  let trace: TraceRule | undefined;
  if (out !== undefined) {
    out.expression = rule.expression;
    trace = out.rule = {
      name: rule.name,
      arguments: Object.fromEntries([...values].map(([k, v]) => [k, attributeJson(v)])),
      contextData: contextDataUsed(rule.expression, st.context.data),
      result: false,
      error: '',
    };
  }
  try {
    const r = rule.program.evaluate(values, st.context.data);
    if (trace !== undefined) trace.result = r;
    return r;
  } catch (e) {
    if (trace !== undefined) trace.error = e instanceof Error ? e.message : String(e);
    // Evaluation errors (INVALID_ARGUMENT) name the rule: their text then reaches the client (see toWireError).
    if (e instanceof PermifyError && e.code === 'ERROR_CODE_INVALID_ARGUMENT' && e.details.rule === undefined) {
      throw new PermifyError(e.code, e.message, { cause: e.cause ?? e, details: { ...e.details, rule: rule.name } });
    }
    if (e instanceof PermifyError) throw e;
    throw new PermifyError('ERROR_CODE_INTERNAL', e instanceof Error ? e.message : String(e), { cause: e });
  }
}

/** A top-level check (Check/BulkCheck entry): `invoke` at the request depth in a fresh root scope. */
export function checkRoot(
  st: EvalState,
  entity: Entity,
  permission: string,
  subject: Subject,
  depth: number,
  args: readonly string[] | undefined,
  out?: TraceNode,
): Promise<boolean> {
  return invoke(st, entity, permission, subject, depth, args, new Scope(undefined), out);
}

/** A lookup/SubjectPermission entry: `evaluate` directly (one more nested step than Check, §5.4). */
export function evaluateRoot(
  st: EvalState,
  entity: Entity,
  permission: string,
  subject: Subject,
  depth: number,
): Promise<boolean> {
  return evaluate(st, entity, permission, subject, depth, undefined, new Scope(undefined));
}
