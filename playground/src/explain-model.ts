/**
 * The explain view's model: the Explain API's proof tree (docs/explain.md, `POST .../permissions/explain`)
 * turned into what the tree view shows for each node (a title, the outcome, and detail lines for the tuples,
 * attributes, rule evaluation, missing leaves and notes it carries). Pure, so it is unit-tested without a DOM.
 */
import { formatAttributeValue, formatTuple, type AnyValue, type Entity, type Tuple } from './notation.js';

export type ExplainNodeKind =
  | 'EXPLAIN_NODE_KIND_UNSPECIFIED'
  | 'EXPLAIN_NODE_KIND_PERMISSION'
  | 'EXPLAIN_NODE_KIND_RELATION'
  | 'EXPLAIN_NODE_KIND_WALK'
  | 'EXPLAIN_NODE_KIND_ATTRIBUTE'
  | 'EXPLAIN_NODE_KIND_RULE_CALL'
  | 'EXPLAIN_NODE_KIND_UNION'
  | 'EXPLAIN_NODE_KIND_INTERSECTION'
  | 'EXPLAIN_NODE_KIND_EXCLUSION'
  | 'EXPLAIN_NODE_KIND_SUBJECT';

export type ExplainOutcome =
  | 'EXPLAIN_OUTCOME_UNSPECIFIED'
  | 'EXPLAIN_OUTCOME_ALLOWED'
  | 'EXPLAIN_OUTCOME_DENIED'
  | 'EXPLAIN_OUTCOME_SKIPPED'
  | 'EXPLAIN_OUTCOME_DEPTH_EXHAUSTED'
  | 'EXPLAIN_OUTCOME_CYCLE'
  | 'EXPLAIN_OUTCOME_ERROR';

export interface ExplainTuple {
  tuple?: Tuple;
  contextual?: boolean;
}
export interface ExplainAttribute {
  entity?: Entity;
  attribute?: string;
  value?: AnyValue | null;
  contextual?: boolean;
}
export interface ExplainRule {
  name?: string;
  arguments?: Record<string, unknown> | null;
  context_data?: Record<string, unknown> | null;
  result?: boolean;
  error?: string;
}
/** One node as the REST gateway encodes it (proto field names; zero values may be absent). */
export interface ExplainNode {
  kind?: ExplainNodeKind;
  entity?: Entity | null;
  name?: string;
  expression?: string;
  outcome?: ExplainOutcome;
  cached?: boolean;
  tuples?: ExplainTuple[];
  attributes?: ExplainAttribute[];
  rule?: ExplainRule | null;
  missing?: string[];
  note?: string;
  children?: ExplainNode[];
}
export interface ExplainResponse {
  can?: string;
  metadata?: { snap_token?: string; schema_version?: string; check_count?: number; depth?: number } | null;
  root?: ExplainNode | null;
  /** Set when Check itself would fail (depth exhausted, rule error, unknown definition): the tree shows where. */
  error?: { code?: string; message?: string } | null;
}

export type OutcomeClass = 'allowed' | 'denied' | 'skipped' | 'depth' | 'cycle' | 'error' | 'unknown';

const OUTCOMES: Readonly<Record<ExplainOutcome, { label: string; cls: OutcomeClass }>> = {
  EXPLAIN_OUTCOME_UNSPECIFIED: { label: '?', cls: 'unknown' },
  EXPLAIN_OUTCOME_ALLOWED: { label: 'allowed', cls: 'allowed' },
  EXPLAIN_OUTCOME_DENIED: { label: 'denied', cls: 'denied' },
  EXPLAIN_OUTCOME_SKIPPED: { label: 'skipped', cls: 'skipped' },
  EXPLAIN_OUTCOME_DEPTH_EXHAUSTED: { label: 'depth exhausted', cls: 'depth' },
  EXPLAIN_OUTCOME_CYCLE: { label: 'cycle', cls: 'cycle' },
  EXPLAIN_OUTCOME_ERROR: { label: 'error', cls: 'error' },
};

const KINDS: Readonly<Record<ExplainNodeKind, string>> = {
  EXPLAIN_NODE_KIND_UNSPECIFIED: 'node',
  EXPLAIN_NODE_KIND_PERMISSION: 'permission',
  EXPLAIN_NODE_KIND_RELATION: 'relation',
  EXPLAIN_NODE_KIND_WALK: 'walk',
  EXPLAIN_NODE_KIND_ATTRIBUTE: 'attribute',
  EXPLAIN_NODE_KIND_RULE_CALL: 'rule',
  EXPLAIN_NODE_KIND_UNION: 'or',
  EXPLAIN_NODE_KIND_INTERSECTION: 'and',
  EXPLAIN_NODE_KIND_EXCLUSION: 'not',
  EXPLAIN_NODE_KIND_SUBJECT: 'subject',
};

/** What the tree view shows for one node. */
export interface NodeView {
  kind: string;
  title: string;
  outcome: string;
  outcomeClass: OutcomeClass;
  cached: boolean;
  details: string[];
}

const entityText = (e: Entity | null | undefined): string => (e ? `${e.type}:${e.id}` : '');

function jsonText(v: unknown): string {
  return JSON.stringify(v ?? {});
}

export function describeNode(node: ExplainNode): NodeView {
  const kind = KINDS[node.kind ?? 'EXPLAIN_NODE_KIND_UNSPECIFIED'] ?? 'node';
  const outcome = OUTCOMES[node.outcome ?? 'EXPLAIN_OUTCOME_UNSPECIFIED'] ?? OUTCOMES.EXPLAIN_OUTCOME_UNSPECIFIED;
  const e = entityText(node.entity);
  const name = node.name ?? '';
  const expr = node.expression ?? '';
  let title: string;
  switch (node.kind) {
    case 'EXPLAIN_NODE_KIND_PERMISSION':
      title = `${e}#${name}${expr ? ` = ${expr}` : ''}`;
      break;
    case 'EXPLAIN_NODE_KIND_RELATION':
      title = `${e}#${name}`;
      break;
    case 'EXPLAIN_NODE_KIND_WALK':
      title = `${e} ${expr || name}`;
      break;
    case 'EXPLAIN_NODE_KIND_ATTRIBUTE':
      title = `${e}$${name}`;
      break;
    case 'EXPLAIN_NODE_KIND_RULE_CALL':
      title = expr || `${node.rule?.name ?? name}(...)`;
      break;
    case 'EXPLAIN_NODE_KIND_SUBJECT':
      title = expr || name || e;
      break;
    default:
      title = expr || kind;
  }
  const details: string[] = [];
  for (const t of node.tuples ?? []) {
    if (t.tuple) details.push(`tuple ${formatTuple(t.tuple)}${t.contextual ? ' (contextual)' : ''}`);
  }
  for (const a of node.attributes ?? []) {
    const value = a.value ? formatAttributeValue(a.value) : '(no value: default)';
    details.push(
      `attribute ${entityText(a.entity)}$${a.attribute ?? ''} = ${value}${a.contextual ? ' (contextual)' : ''}`,
    );
  }
  if (node.rule) {
    const r = node.rule;
    details.push(
      `rule ${r.name ?? name}: arguments ${jsonText(r.arguments)}, context data ${jsonText(r.context_data)} -> ${r.result === true}`,
    );
    if (r.error) details.push(`rule error: ${r.error}`);
  }
  for (const m of node.missing ?? []) details.push(`missing ${m}`);
  if (node.note) details.push(`note: ${node.note}`);
  return { kind, title, outcome: outcome.label, outcomeClass: outcome.cls, cached: node.cached === true, details };
}

/** The tree as indented text lines (two spaces a level): the copyable form of the view. */
export function explainText(root: ExplainNode): string[] {
  const out: string[] = [];
  const walk = (n: ExplainNode, depth: number): void => {
    const v = describeNode(n);
    const pad = '  '.repeat(depth);
    out.push(`${pad}[${v.outcome}] ${v.kind} ${v.title}${v.cached ? ' (cached)' : ''}`);
    for (const d of v.details) out.push(`${pad}    ${d}`);
    for (const c of n.children ?? []) walk(c, depth + 1);
  };
  walk(root, 0);
  return out;
}
