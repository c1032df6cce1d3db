/**
 * The proof tree of an Explain request: what the Check evaluator (check.ts) records while it evaluates, when
 * (and only when) a trace node is passed down to it. Check itself never passes one, so its hot path pays one
 * `undefined` comparison per step and allocates nothing for tracing.
 *
 * The tree mirrors the evaluation: a node for each entity#name the evaluator resolved (permission, relation,
 * attribute, rule call), one for each operator and walk of a permission expression, and a subject node for the
 * tuple that matched the subject directly. Operands a combination never ran (it decided first) stay SKIPPED.
 */
import type { AttributeValue, Entity, JsonValue, Subject, Tuple } from '../data/types.js';
import { PermifyError } from '../errors.js';
import { ScopeCancelled } from './combine.js';

export type TraceKind =
  'permission' | 'relation' | 'walk' | 'attribute' | 'rule-call' | 'union' | 'intersection' | 'exclusion' | 'subject';

export type TraceOutcome = 'allowed' | 'denied' | 'skipped' | 'depth-exhausted' | 'cycle' | 'error';

export interface TraceTuple {
  readonly tuple: Tuple;
  /** From the request's `context.tuples`, not the store. */
  readonly contextual: boolean;
}

export interface TraceAttribute {
  readonly entity: Entity;
  readonly attribute: string;
  /** Undefined when the attribute has no value (the type's default, or DENIED for a bare boolean). */
  readonly value: AttributeValue | undefined;
  readonly contextual: boolean;
}

export interface TraceRule {
  readonly name: string;
  /** Parameter name -> the value bound (null: unset, the parameter type's default). */
  readonly arguments: Record<string, JsonValue>;
  /** The `context.data` entries the rule body refers to. */
  readonly contextData: Record<string, JsonValue>;
  result: boolean;
  error: string;
}

/** One node of the proof tree. Mutable while the evaluation runs; read only after it settled. */
export interface TraceNode {
  kind: TraceKind;
  entity: Entity;
  name: string;
  expression: string;
  outcome: TraceOutcome;
  /** Check would have answered this node from the check cache (only the root of a request is cached). */
  cached: boolean;
  readonly tuples: TraceTuple[];
  readonly attributes: TraceAttribute[];
  rule: TraceRule | undefined;
  /** For a denial: leaves that would have had to hold, in Permify notation. */
  missing: string[];
  note: string;
  readonly children: TraceNode[];
  /** The node this one was created under (undefined for the root); not part of the answer. */
  readonly parent: TraceNode | undefined;
  /** State shared by every node of the tree; not part of the answer. */
  readonly tree: TraceTree;
}

/** What a whole tree shares: its size and limit, and the first node of each sub-problem. */
export interface TraceTree {
  nodes: number;
  readonly maxNodes: number;
  /** Set once a node was dropped because the tree had reached {@link maxNodes}. */
  exceeded: boolean;
  readonly first: Map<string, TraceNode>;
}

/** The root of a new tree of at most `maxNodes` nodes. */
export function traceRoot(entity: Entity, maxNodes: number): TraceNode {
  return newNode(undefined, entity, 'permission', { nodes: 1, maxNodes, exceeded: false, first: new Map() });
}

/**
 * A new node under `parent` (appended to its children), SKIPPED until the evaluator reaches it. Past the
 * tree's node limit the node is still returned (the evaluation goes on unchanged) but not attached, and the
 * tree is marked exceeded: the caller fails the request naming the limit instead of answering with part of it.
 */
export function traceChild(parent: TraceNode, entity: Entity, kind: TraceKind = 'permission'): TraceNode {
  const tree = parent.tree;
  const node = newNode(parent, entity, kind, tree);
  if (tree.nodes >= tree.maxNodes) tree.exceeded = true;
  else {
    tree.nodes++;
    parent.children.push(node);
  }
  return node;
}

function newNode(parent: TraceNode | undefined, entity: Entity, kind: TraceKind, tree: TraceTree): TraceNode {
  return {
    kind,
    entity,
    name: '',
    expression: '',
    outcome: 'skipped',
    cached: false,
    tuples: [],
    attributes: [],
    rule: undefined,
    missing: [],
    note: '',
    children: [],
    parent,
    tree,
  };
}

/** `type:id`. */
export function entityText(e: Entity): string {
  return `${e.type}:${e.id}`;
}

/** `type:id` or `type:id#relation` ("..." counts as no relation). */
export function subjectNotation(s: Subject): string {
  return s.relation === '' || s.relation === '...' ? `${s.type}:${s.id}` : `${s.type}:${s.id}#${s.relation}`;
}

/** Node name as written in a path: `document:1#view`. */
function pathStep(n: TraceNode): string {
  return `${entityText(n.entity)}#${n.name}`;
}

/** Whether a node stands for an entity#name the evaluator resolved (the steps of a path). */
function isStep(n: TraceNode): boolean {
  return n.kind === 'permission' || n.kind === 'relation' || n.kind === 'attribute' || n.kind === 'rule-call';
}

/**
 * The steps from the root to `node` (inclusive) as `a#p -> b#q -> ...`. When the last step repeats an earlier
 * one, the path starts at that earlier occurrence and `cycle` is true.
 */
export function pathTo(node: TraceNode, last: string): { text: string; cycle: boolean } {
  const steps: string[] = [last];
  for (let n = node.parent; n !== undefined; n = n.parent) if (isStep(n)) steps.push(pathStep(n));
  steps.reverse();
  const first = steps.indexOf(last);
  if (first < steps.length - 1) return { text: steps.slice(first).join(' -> '), cycle: true };
  return { text: steps.join(' -> '), cycle: false };
}

/** Remembers `node` as the first evaluation of sub-problem `key` in its tree (for "reused" notes). */
export function rememberNode(node: TraceNode, key: string): void {
  if (!node.tree.first.has(key)) node.tree.first.set(key, node);
}

/** Path text of the node that first evaluated `key` in `node`'s tree, or "" when none. */
export function firstEvaluation(node: TraceNode, key: string): string {
  const first = node.tree.first.get(key);
  return first === undefined ? '' : pathTo(first, pathStep(first)).text;
}

/** Appends `items` to `node.missing`, without duplicates. */
export function addMissing(node: TraceNode, items: readonly string[]): void {
  for (const m of items) if (!node.missing.includes(m)) node.missing.push(m);
}

/** Attribute notation of a leaf that would have to hold: `document:1$public|boolean:true`. */
export function attributeNotation(e: Entity, name: string, v: AttributeValue): string {
  return `${entityText(e)}$${name}|${v.type}:${Array.isArray(v.value) ? v.value.join(',') : String(v.value)}`;
}

/** A JSON rendering of an attribute value (for rule arguments). */
export function attributeJson(v: AttributeValue | null): JsonValue {
  return v === null ? null : (v.value as JsonValue);
}

/**
 * The `context.data` entries a rule body refers to: every `context.data.<key>` / `context.data["key"]`
 * selection; a body that uses `context.data` as a whole gets all of it.
 */
export function contextDataUsed(
  expression: string,
  data: { readonly [k: string]: JsonValue },
): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  const re = /context\s*\.\s*data(?:\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)|\s*\[\s*(?:"([^"]*)"|'([^']*)')\s*\])?/g;
  let whole = false;
  for (const m of expression.matchAll(re)) {
    const key = m[1] ?? m[2] ?? m[3];
    if (key === undefined) whole = true;
    else if (Object.hasOwn(data, key)) out[key] = data[key] as JsonValue;
  }
  return whole ? { ...data } : out;
}

/** Records the outcome of `p` on `out` (operators and walks, whose promise is not an entity#name step). */
export function settle(out: TraceNode, p: Promise<boolean>): Promise<boolean> {
  return p.then(
    (v) => {
      out.outcome = v ? 'allowed' : 'denied';
      return v;
    },
    (e: unknown) => {
      traceFailure(out, e);
      throw e;
    },
  );
}

/**
 * Records a failed evaluation: cancelled work stays SKIPPED (a sibling decided first), depth exhaustion is
 * DEPTH_EXHAUSTED on every node it reached through, other errors are ERROR with the message on the node
 * where they started.
 */
export function traceFailure(out: TraceNode, e: unknown): void {
  if (e instanceof ScopeCancelled) {
    if (out.note === '') out.note = 'cancelled: the enclosing combination had already decided';
    return;
  }
  if (e instanceof PermifyError && e.code === 'ERROR_CODE_DEPTH_NOT_ENOUGH') {
    if (out.outcome !== 'cycle') out.outcome = 'depth-exhausted';
    return;
  }
  out.outcome = 'error';
  if (out.note === '' && !out.children.some((c) => c.outcome === 'error')) {
    out.note = e instanceof Error ? e.message : String(e);
  }
}

/** Longest path printed in full in a depth-exhaustion note; longer ones keep their ends. */
const maxPathSteps = 24;

/**
 * Marks `out` (entity#name) as the step that found the depth budget spent. When the path to it repeats a step,
 * the outcome is CYCLE and the note names the innermost cycle.
 */
export function traceDepthExhausted(out: TraceNode): void {
  const last = pathStep(out);
  const steps: string[] = [last];
  for (let n = out.parent; n !== undefined; n = n.parent) if (isStep(n)) steps.push(pathStep(n));
  steps.reverse();
  for (let end = steps.length - 1; end > 0; end--) {
    const start = steps.lastIndexOf(steps[end] as string, end - 1);
    if (start >= 0) {
      out.outcome = 'cycle';
      out.note = `cycle: ${steps.slice(start, end + 1).join(' -> ')} (depth exhausted after ${steps.length - 1} steps)`;
      return;
    }
  }
  out.outcome = 'depth-exhausted';
  const shown =
    steps.length <= maxPathSteps
      ? steps
      : [...steps.slice(0, 4), `... ${steps.length - maxPathSteps} more ...`, ...steps.slice(4 - maxPathSteps)];
  out.note = `depth exhausted: ${shown.join(' -> ')}`;
}
