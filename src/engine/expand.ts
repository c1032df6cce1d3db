/**
 * Expand (spec §5.6): the permission's definition unfolded at the snapshot, with Permify's node shapes.
 *
 * Cycle guard (upstream has none and recurses without bound): an (entity, name) pair already being expanded
 * on the current path is not expanded again. A relation on the path is emitted as its plain leaf (all of its
 * subjects, no children); a permission on the path is emitted as an empty union node. Stored subjects are
 * listed ascending by (type, id, relation), then contextual ones in request order.
 */
import type { AttributeValue, Entity, Subject, Tuple } from '../data/types.js';
import type { AttributeType, Child, RuleDefinition } from '../schema/model.js';
import { ruleArguments, ruleNotFound } from './check.js';
import { mapBounded } from './combine.js';
import { compareIds } from './ids.js';
import { contextualAttribute, entityNotFound, type EvalState, checkSignal, storedAttribute } from './state.js';
import type { ExpandNode } from './types.js';

interface Path {
  readonly key: string;
  readonly parent: Path | undefined;
}

function onPath(path: Path | undefined, key: string): boolean {
  for (let p = path; p !== undefined; p = p.parent) if (p.key === key) return true;
  return false;
}

function compareSubjects(a: Subject, b: Subject): number {
  return compareIds(a.type, b.type) || compareIds(a.id, b.id) || compareIds(a.relation, b.relation);
}

export function defaultValue(type: AttributeType): AttributeValue {
  switch (type) {
    case 'boolean':
      return { type, value: false };
    case 'string':
      return { type, value: '' };
    case 'integer':
      return { type, value: 0 };
    case 'double':
      return { type, value: 0 };
    default:
      return { type, value: [] } as AttributeValue;
  }
}

/** Tuples of `entity#relation` with the documented order: stored sorted, then contextual (request order). */
async function orderedTuples(st: EvalState, entity: Entity, relation: string): Promise<Tuple[]> {
  const stored = (
    await st.reader.queryRelationships(
      st.tenantId,
      { entity: { type: entity.type, ids: [entity.id] }, relation },
      st.snapToken,
      st.signal === undefined ? undefined : { signal: st.signal },
    )
  ).slice();
  stored.sort((a, b) => compareSubjects(a.subject, b.subject));
  const extra = st.contextTuples?.get(`${entity.type}:${entity.id}#${relation}`);
  if (extra === undefined) return stored;
  for (const t of extra) {
    if (
      !stored.some(
        (s) =>
          s.subject.type === t.subject.type &&
          s.subject.id === t.subject.id &&
          s.subject.relation === t.subject.relation,
      )
    ) {
      stored.push(t);
    }
  }
  return stored;
}

export async function expandTree(
  st: EvalState,
  entity: Entity,
  permission: string,
  args: readonly string[] | undefined,
): Promise<ExpandNode> {
  const node = async (
    e: Entity,
    name: string,
    callArgs: readonly string[] | undefined,
    path: Path | undefined,
  ): Promise<ExpandNode> => {
    checkSignal(st);
    const def = st.schema.entities.get(e.type);
    if (def === undefined) throw entityNotFound(e.type);
    const key = `${e.type}:${e.id}#${name}`;
    const entityOut: Entity = { type: e.type, id: e.id };
    const kind = def.references.get(name);
    switch (kind) {
      case 'permission': {
        if (onPath(path, key)) {
          return { entity: entityOut, permission: name, arguments: [], expand: { operation: 'union', children: [] } };
        }
        const here: Path = { key, parent: path };
        const perm = def.permissions.get(name) as { child: Child };
        return child(perm.child, e, name, here);
      }
      case 'relation': {
        const tuples = await orderedTuples(st, e, name);
        const direct: Subject[] = [];
        const sets: Subject[] = [];
        for (const t of tuples) {
          if (t.subject.relation !== '' && t.subject.relation !== '...') sets.push(t.subject);
          else direct.push(t.subject);
        }
        const leaf: ExpandNode = {
          entity: entityOut,
          permission: name,
          arguments: [],
          leaf: {
            kind: 'subjects',
            subjects: [...direct, ...sets].map((s) => ({ type: s.type, id: s.id, relation: s.relation })),
          },
        };
        if (sets.length === 0 || onPath(path, key)) return leaf;
        const here: Path = { key, parent: path };
        // Bounded fan-out; the reads underneath draw from the request's one budget (see budget.ts).
        const children = await mapBounded(sets, st.concurrency, (s) => node(s, s.relation, undefined, here));
        return {
          entity: entityOut,
          permission: name,
          arguments: [],
          expand: { operation: 'union', children: [...children, leaf] },
        };
      }
      case 'attribute': {
        const v = contextualAttribute(st, e, name) ?? (await storedAttribute(st, e, name));
        return {
          entity: entityOut,
          permission: name,
          arguments: [],
          leaf: { kind: 'value', value: v ?? { type: 'boolean', value: false } },
        };
      }
      default: {
        const rule: RuleDefinition | undefined = st.schema.rules.get(name);
        if (rule === undefined) throw ruleNotFound(name);
        const a = callArgs ?? [];
        const raw = await ruleArguments(st, rule, e, a);
        const values = new Map<string, AttributeValue>();
        for (const [k, v] of raw) {
          const type = rule.parameters.get(k);
          values.set(k, v ?? (type !== undefined ? defaultValue(type) : { type: 'boolean', value: false }));
        }
        return { entity: entityOut, permission: name, arguments: [...a], leaf: { kind: 'values', values } };
      }
    }
  };

  const child = async (c: Child, e: Entity, top: string, path: Path): Promise<ExpandNode> => {
    switch (c.kind) {
      case 'rewrite': {
        const children = await Promise.all([child(c.children[0], e, top, path), child(c.children[1], e, top, path)]);
        return {
          entity: { type: e.type, id: e.id },
          permission: top,
          arguments: [],
          expand: { operation: c.operation, children },
        };
      }
      case 'computed-user-set':
        return node(e, c.relation, undefined, path);
      case 'computed-attribute':
        return node(e, c.name, undefined, path);
      case 'call':
        return node(e, c.ruleName, c.arguments, path);
      case 'tuple-to-user-set': {
        const tuples = await orderedTuples(st, e, c.tupleSet);
        const children = await mapBounded(tuples, st.concurrency, (t) => node(t.subject, c.computed, undefined, path));
        return {
          entity: { type: e.type, id: e.id },
          permission: c.tupleSet,
          arguments: [],
          expand: { operation: 'union', children },
        };
      }
    }
  };

  return node(entity, permission, args, undefined);
}
