/**
 * The expand view: Permission.Expand's tree (`{entity, permission, expand: {operation, children}}` or a
 * `leaf` of subjects, an attribute value or a rule call's values) as indented text lines.
 */
import { formatAttributeValue, formatSubject, type AnyValue, type Entity, type Subject } from './notation.js';

export interface ExpandTreeNode {
  entity?: Entity | null;
  permission?: string;
  arguments?: unknown[];
  expand?: { operation?: string; children?: ExpandTreeNode[] } | null;
  leaf?: {
    subjects?: { subjects?: Subject[] } | null;
    values?: { values?: Record<string, AnyValue> } | null;
    value?: AnyValue | null;
  } | null;
}

const OPERATIONS: Readonly<Record<string, string>> = {
  OPERATION_UNION: 'or',
  OPERATION_INTERSECTION: 'and',
  OPERATION_EXCLUSION: 'not',
};

export function expandText(root: ExpandTreeNode): string[] {
  const out: string[] = [];
  const walk = (n: ExpandTreeNode, depth: number): void => {
    const pad = '  '.repeat(depth);
    const at = `${n.entity ? `${n.entity.type}:${n.entity.id}` : ''}#${n.permission ?? ''}`;
    if (n.expand) {
      const op = n.expand.operation ?? '';
      out.push(`${pad}${at} ${OPERATIONS[op] ?? op.toLowerCase()}`);
      for (const c of n.expand.children ?? []) walk(c, depth + 1);
      return;
    }
    const leaf = n.leaf ?? {};
    if (leaf.subjects) {
      const subjects = (leaf.subjects.subjects ?? []).map((s) =>
        formatSubject({ type: s.type, id: s.id, relation: s.relation ?? '' }),
      );
      out.push(`${pad}${at} -> ${subjects.length > 0 ? subjects.join(', ') : '(no subjects)'}`);
    } else if (leaf.value) {
      out.push(`${pad}${at} = ${formatAttributeValue(leaf.value)}`);
    } else if (leaf.values) {
      const args = Object.entries(leaf.values.values ?? {}).map(([k, v]) => `${k}=${formatAttributeValue(v)}`);
      out.push(`${pad}${at}(${args.join(', ')})`);
    } else {
      out.push(`${pad}${at}`);
    }
  };
  walk(root, 0);
  return out;
}
