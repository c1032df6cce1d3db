/**
 * Text rendering of an Explain answer for `permify explain`: a header with the answer and the snapshot, then
 * the proof tree, one node per line with what it read, its rule evaluation, notes and missing leaves beneath.
 */
import { toJson } from '@bufbuild/protobuf';
import { anyToAttributeValue } from '../api/convert/attribute-value.js';
import { jsonRegistry } from '../api/rest/json.js';
import { CheckResult } from '../api/gen/base/v1/base_pb.js';
import {
  ExplainNodeKind,
  ExplainOutcome,
  ExplainResponseSchema,
  type ExplainNode,
  type ExplainResponse,
} from '../api/gen/permifyts/v1/explain_pb.js';
import { attributeValueToString, subjectToString } from '../data/notation.js';

const outcomeWord: Readonly<Record<ExplainOutcome, string>> = {
  [ExplainOutcome.UNSPECIFIED]: '?',
  [ExplainOutcome.ALLOWED]: 'ALLOWED',
  [ExplainOutcome.DENIED]: 'DENIED',
  [ExplainOutcome.SKIPPED]: 'SKIPPED',
  [ExplainOutcome.DEPTH_EXHAUSTED]: 'DEPTH EXHAUSTED',
  [ExplainOutcome.CYCLE]: 'CYCLE',
  [ExplainOutcome.ERROR]: 'ERROR',
};

function entity(n: ExplainNode): string {
  return `${n.entity?.type ?? ''}:${n.entity?.id ?? ''}`;
}

function label(n: ExplainNode): string {
  const head = `${outcomeWord[n.outcome]}${n.cached ? ' (check cache)' : ''}`;
  switch (n.kind) {
    case ExplainNodeKind.PERMISSION:
      return `${head} permission ${entity(n)}#${n.name} = ${n.expression}`;
    case ExplainNodeKind.RELATION:
      return `${head} relation ${entity(n)}#${n.name} ${n.expression}`;
    case ExplainNodeKind.WALK:
      return `${head} walk ${entity(n)} ${n.expression}`;
    case ExplainNodeKind.ATTRIBUTE:
      return `${head} attribute ${entity(n)}$${n.name}`;
    case ExplainNodeKind.RULE_CALL:
      return `${head} rule ${entity(n)} ${n.name}: ${n.expression}`;
    case ExplainNodeKind.UNION:
      return `${head} or: ${n.expression}`;
    case ExplainNodeKind.INTERSECTION:
      return `${head} and: ${n.expression}`;
    case ExplainNodeKind.EXCLUSION:
      return `${head} not: ${n.expression}`;
    case ExplainNodeKind.SUBJECT:
      return `${head} subject ${n.expression === '' ? `${entity(n)}#${n.name}` : n.expression}`;
    default:
      return `${head} ${entity(n)}#${n.name}`;
  }
}

function details(n: ExplainNode): string[] {
  const out: string[] = [];
  for (const t of n.tuples) {
    const tu = t.tuple;
    if (tu === undefined) continue;
    const s = tu.subject;
    const text = `${tu.entity?.type}:${tu.entity?.id}#${tu.relation}@${subjectToString({ type: s?.type ?? '', id: s?.id ?? '', relation: s?.relation ?? '' })}`;
    out.push(`read ${text}${t.contextual ? ' (contextual)' : ''}`);
  }
  for (const a of n.attributes) {
    const av = a.value === undefined ? undefined : anyToAttributeValue(a.value);
    const v = av === undefined ? 'no value (default)' : `${av.type}:${attributeValueToString(av)}`;
    out.push(`read ${a.entity?.type}:${a.entity?.id}$${a.attribute} = ${v}${a.contextual ? ' (contextual)' : ''}`);
  }
  if (n.rule !== undefined) {
    const args = Object.entries(n.rule.arguments ?? {})
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(', ');
    const data =
      Object.keys(n.rule.contextData ?? {}).length === 0 ? '' : ` context.data ${JSON.stringify(n.rule.contextData)}`;
    out.push(
      `rule ${n.rule.name}(${args})${data} -> ${n.rule.error === '' ? String(n.rule.result) : `error: ${n.rule.error}`}`,
    );
  }
  if (n.note !== '') out.push(n.note);
  if (n.missing.length > 0 && n.children.length === 0) out.push(`missing: ${n.missing.join(', ')}`);
  return out;
}

/** The answer as lines of text (iterative: trees on cyclic data are as deep as the depth limit). */
export function renderExplain(r: ExplainResponse): string[] {
  const md = r.metadata;
  const answer =
    r.can === CheckResult.ALLOWED
      ? 'ALLOWED'
      : r.can === CheckResult.DENIED
        ? 'DENIED'
        : `ERROR ${r.error?.code ?? ''}`;
  const lines = [
    `${answer}${r.error !== undefined ? `: ${r.error.message}` : ''}`,
    `snap token ${md?.snapToken ?? ''}, schema version ${md?.schemaVersion ?? ''}, depth ${md?.depth ?? 0}, ${md?.checkCount ?? 0} checks`,
    '',
  ];
  if (r.root === undefined) return lines;
  const stack: { node: ExplainNode; prefix: string; last: boolean; top: boolean }[] = [
    { node: r.root, prefix: '', last: true, top: true },
  ];
  for (let e = stack.pop(); e !== undefined; e = stack.pop()) {
    const { node, prefix, last, top } = e;
    lines.push(`${prefix}${top ? '' : last ? '└─ ' : '├─ '}${label(node)}`);
    const inner = top ? '' : `${prefix}${last ? '   ' : '│  '}`;
    const bar = node.children.length > 0 ? '│ ' : '  ';
    for (const d of details(node)) lines.push(`${inner}${bar}  ${d}`);
    for (let i = node.children.length - 1; i >= 0; i--) {
      stack.push({
        node: node.children[i] as ExplainNode,
        prefix: inner,
        last: i === node.children.length - 1,
        top: false,
      });
    }
  }
  if (r.can === CheckResult.DENIED && r.root.missing.length > 0) {
    lines.push('', 'missing (leaves that would have had to hold):', ...r.root.missing.map((m) => `  ${m}`));
  }
  return lines;
}

/** The answer as the REST route's JSON (proto field names, enum names). */
export function explainJson(r: ExplainResponse): string {
  return JSON.stringify(
    toJson(ExplainResponseSchema, r, { useProtoFieldName: true, alwaysEmitImplicit: true, registry: jsonRegistry }),
    null,
    2,
  );
}
