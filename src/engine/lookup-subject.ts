/**
 * LookupSubject (spec §5.8.1): the subjects of a reference R that hold P on an entity, computed from the
 * entity's side as a value that is either a finite id set or ALL − X ("every subject of R in stored tuples,
 * except X").
 *
 * Reproduced upstream behaviour: a tuple subject that matches R exactly is reported and not expanded further
 * (§5.8.2 item 4), contextual subjects with relation `...` match nothing (item 7), ALL is enumerated from
 * stored tuples only. Not reproduced (as the spec recommends): the order-dependent union with ALL (item 1), the
 * empty intersection of ALL children (item 2) and the opaque ALL − X tokens (item 3); userset recursion is
 * protected against cycles (item 6): an (entity, name) pair already on the current path contributes the
 * empty set.
 */
import type { Entity } from '../data/types.js';
import type { Child } from '../schema/model.js';
import { directAttribute, directCall } from './check.js';
import { mapBounded } from './combine.js';
import { checkSignal, entityNotFound, type EvalState, readTuples } from './state.js';

/** `all = false`: exactly `ids`; `all = true`: every subject of the reference except `ids`. */
export interface SubjectSet {
  readonly all: boolean;
  readonly ids: ReadonlySet<string>;
}

const empty: SubjectSet = { all: false, ids: new Set() };
const everything: SubjectSet = { all: true, ids: new Set() };

function inter(a: ReadonlySet<string>, b: ReadonlySet<string>): Set<string> {
  const out = new Set<string>();
  for (const x of a) if (b.has(x)) out.add(x);
  return out;
}
function minus(a: ReadonlySet<string>, b: ReadonlySet<string>): Set<string> {
  const out = new Set<string>();
  for (const x of a) if (!b.has(x)) out.add(x);
  return out;
}
function plus(a: ReadonlySet<string>, b: ReadonlySet<string>): Set<string> {
  const out = new Set(a);
  for (const x of b) out.add(x);
  return out;
}

export function unionSets(a: SubjectSet, b: SubjectSet): SubjectSet {
  if (a.all && b.all) return { all: true, ids: inter(a.ids, b.ids) };
  if (a.all) return { all: true, ids: minus(a.ids, b.ids) };
  if (b.all) return { all: true, ids: minus(b.ids, a.ids) };
  return { all: false, ids: plus(a.ids, b.ids) };
}
export function intersectSets(a: SubjectSet, b: SubjectSet): SubjectSet {
  if (a.all && b.all) return { all: true, ids: plus(a.ids, b.ids) };
  if (a.all) return { all: false, ids: minus(b.ids, a.ids) };
  if (b.all) return { all: false, ids: minus(a.ids, b.ids) };
  return { all: false, ids: inter(a.ids, b.ids) };
}
export function excludeSets(a: SubjectSet, b: SubjectSet): SubjectSet {
  if (a.all && b.all) return { all: false, ids: minus(b.ids, a.ids) };
  if (b.all) return { all: false, ids: inter(a.ids, b.ids) };
  if (a.all) return { all: true, ids: plus(a.ids, b.ids) };
  return { all: false, ids: minus(a.ids, b.ids) };
}

interface Path {
  readonly key: string;
  readonly parent: Path | undefined;
}

export interface SubjectReference {
  readonly type: string;
  readonly relation: string;
}

/** Computes the subject set of `permission` on `entity` for reference `ref`. */
export function lookupSubjectSet(
  st: EvalState,
  entity: Entity,
  permission: string,
  ref: SubjectReference,
  args: readonly string[] | undefined,
): Promise<SubjectSet> {
  // Completed results only; a result whose computation cut a cycle short (or overlapped one that did) is not
  // memoised, because it may be incomplete when reached from elsewhere.
  const memo = new Map<string, SubjectSet>();
  let truncations = 0;

  const subjects = async (
    e: Entity,
    name: string,
    callArgs: readonly string[] | undefined,
    path: Path | undefined,
  ): Promise<SubjectSet> => {
    const key = `${e.type}:${e.id}#${name}`;
    for (let p = path; p !== undefined; p = p.parent) {
      if (p.key === key) {
        truncations++;
        return empty;
      }
    }
    const cached = callArgs === undefined ? memo.get(key) : undefined;
    if (cached !== undefined) return cached;
    const before = truncations;
    const result = await compute(e, name, callArgs, { key, parent: path });
    if (callArgs === undefined && truncations === before) memo.set(key, result);
    return result;
  };

  const compute = async (
    e: Entity,
    name: string,
    callArgs: readonly string[] | undefined,
    path: Path,
  ): Promise<SubjectSet> => {
    checkSignal(st);
    const def = st.schema.entities.get(e.type);
    if (def === undefined) throw entityNotFound(e.type);
    switch (def.references.get(name)) {
      case 'permission':
        return child((def.permissions.get(name) as { child: Child }).child, e, path);
      case 'relation': {
        // Nested usersets that name relations only ever add subjects (pure union), so their closure is
        // computed breadth-first with one visited set: linear in the data even when memberships are cyclic.
        // A userset naming a permission goes through the set algebra.
        const direct = new Set<string>();
        let nested: SubjectSet = empty;
        const seen = new Set<string>([`${e.type}:${e.id}#${name}`]);
        let frontier: { readonly node: Entity; readonly relation: string }[] = [{ node: e, relation: name }];
        while (frontier.length > 0) {
          checkSignal(st);
          const next: { readonly node: Entity; readonly relation: string }[] = [];
          for (const { node, relation } of frontier) {
            for (const t of await readTuples(st, node, relation)) {
              const s = t.subject;
              if (s.type === ref.type && s.relation === ref.relation) direct.add(s.id);
              else if (s.relation !== '' && s.relation !== '...') {
                const k = `${s.type}:${s.id}#${s.relation}`;
                if (seen.has(k)) continue;
                seen.add(k);
                if (st.schema.entities.get(s.type)?.references.get(s.relation) === 'relation') {
                  next.push({ node: s, relation: s.relation });
                } else {
                  nested = unionSets(nested, await subjects(s, s.relation, undefined, path));
                }
              }
            }
          }
          frontier = next;
        }
        return unionSets({ all: false, ids: direct }, nested);
      }
      case 'attribute':
        return (await directAttribute(st, e, name)) ? everything : empty;
      default:
        return (await directCall(st, e, name, callArgs ?? [])) ? everything : empty;
    }
  };

  const child = async (c: Child, e: Entity, path: Path): Promise<SubjectSet> => {
    switch (c.kind) {
      case 'rewrite': {
        const [l, r] = await Promise.all([child(c.children[0], e, path), child(c.children[1], e, path)]);
        if (c.operation === 'union') return unionSets(l, r);
        if (c.operation === 'intersection') return intersectSets(l, r);
        return excludeSets(l, r);
      }
      case 'computed-user-set':
        return subjects(e, c.relation, undefined, path);
      case 'computed-attribute':
        return subjects(e, c.name, undefined, path);
      case 'call':
        return subjects(e, c.ruleName, c.arguments, path);
      case 'tuple-to-user-set': {
        const tuples = await readTuples(st, e, c.tupleSet);
        let result: SubjectSet = empty;
        // Bounded fan-out; the reads underneath draw from the request's one budget (see budget.ts).
        const parts = await mapBounded(tuples, st.concurrency, (t) => subjects(t.subject, c.computed, undefined, path));
        for (const p of parts) result = unionSets(result, p);
        return result;
      }
    }
  };

  return subjects(entity, permission, args, undefined);
}
