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
 *
 * Rule: LookupSubject(E, P, reference T) lists only T subjects S for which Check(E, P, S) is ALLOWED, and for a
 * plain reference all of them among those the enumeration can see. Hence ALL for a plain reference `group`
 * enumerates every `group` id stored as a tuple subject whatever its subject relation ({@link allSubjectIds}),
 * while a finite set keeps only plain matches (a plain `group:x` is no member of a relation that holds
 * `group:x#member`, in Check as here). For a userset reference upstream's answer may leave out allowed subjects
 * (item 4, and `T:x#r` itself, which Check allows on `T:x#r`); that is harmless where a set only adds subjects,
 * but under a negation (`negative`: the right operand of an exclusion, an odd number of times) a missing subject
 * would be listed although Check denies it, so there the complete set is computed: matching usersets are
 * expanded and `T:x#r` counts as a member of itself.
 */
import type { Entity } from '../data/types.js';
import type { Child } from '../schema/model.js';
import { directAttribute, directCall } from './check.js';
import { mapBounded } from './combine.js';
import { sortIds } from './ids.js';
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
    negative: boolean,
  ): Promise<SubjectSet> => {
    const key = `${e.type}:${e.id}#${name}${negative ? '!' : ''}`;
    for (let p = path; p !== undefined; p = p.parent) {
      if (p.key === key) {
        truncations++;
        return empty;
      }
    }
    const cached = callArgs === undefined ? memo.get(key) : undefined;
    if (cached !== undefined) return cached;
    const before = truncations;
    let result = await compute(e, name, callArgs, { key, parent: path }, negative);
    // Check allows the subject `T:x#r` on `T:x#r` itself (§5.2.1), whatever the tuples say. Under a negation the
    // complete set is needed (see `negative`); elsewhere upstream's answer, which leaves it out, is kept.
    if (
      negative &&
      ref.relation !== '' &&
      e.type === ref.type &&
      name === ref.relation &&
      (result.all || !result.ids.has(e.id))
    ) {
      result = unionSets(result, { all: false, ids: new Set([e.id]) });
    }
    if (callArgs === undefined && truncations === before) memo.set(key, result);
    return result;
  };

  const compute = async (
    e: Entity,
    name: string,
    callArgs: readonly string[] | undefined,
    path: Path,
    negative: boolean,
  ): Promise<SubjectSet> => {
    checkSignal(st);
    const def = st.schema.entities.get(e.type);
    if (def === undefined) throw entityNotFound(e.type);
    switch (def.references.get(name)) {
      case 'permission':
        return child((def.permissions.get(name) as { child: Child }).child, e, path, negative);
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
              const matches = s.type === ref.type && s.relation === ref.relation;
              if (matches) direct.add(s.id);
              // A matching userset is not expanded (§5.8.2 item 4) except under a negation (see `negative`).
              if ((!matches || negative) && s.relation !== '' && s.relation !== '...') {
                const k = `${s.type}:${s.id}#${s.relation}`;
                if (seen.has(k)) continue;
                seen.add(k);
                if (st.schema.entities.get(s.type)?.references.get(s.relation) === 'relation') {
                  next.push({ node: s, relation: s.relation });
                } else {
                  nested = unionSets(nested, await subjects(s, s.relation, undefined, path, negative));
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

  const child = async (c: Child, e: Entity, path: Path, negative: boolean): Promise<SubjectSet> => {
    switch (c.kind) {
      case 'rewrite': {
        const flip = c.operation === 'exclusion' ? !negative : negative;
        const [l, r] = await Promise.all([
          child(c.children[0], e, path, negative),
          child(c.children[1], e, path, flip),
        ]);
        if (c.operation === 'union') return unionSets(l, r);
        if (c.operation === 'intersection') return intersectSets(l, r);
        return excludeSets(l, r);
      }
      case 'computed-user-set':
        return subjects(e, c.relation, undefined, path, negative);
      case 'computed-attribute':
        return subjects(e, c.name, undefined, path, negative);
      case 'call':
        return subjects(e, c.ruleName, c.arguments, path, negative);
      case 'tuple-to-user-set': {
        const tuples = await readTuples(st, e, c.tupleSet);
        let result: SubjectSet = empty;
        // Bounded fan-out; the reads underneath draw from the request's one budget (see budget.ts).
        const parts = await mapBounded(tuples, st.concurrency, (t) =>
          subjects(t.subject, c.computed, undefined, path, negative),
        );
        for (const p of parts) result = unionSets(result, p);
        return result;
      }
    }
  };

  return subjects(entity, permission, args, undefined, false);
}

/**
 * The ids of spec §5.8.1's ALL for `ref`, ascending: the subjects of stored tuples (contextual ones are not
 * consulted). For a userset reference (`group#member`) the subjects stored with that relation; for a plain
 * reference (`group`) every `group` id stored as a subject with any subject relation, because Check allows the
 * plain subject `group:x` wherever the answer is ALL, also when `group:x` was stored only as `group:x#member`.
 * The storage contract matches subject relations exactly, so the relations are those the evaluated schema allows
 * (`@group#r` anywhere); a tuple whose subject relation that schema version no longer allows is not enumerated.
 */
export async function allSubjectIds(st: EvalState, ref: SubjectReference): Promise<string[]> {
  const relations = [ref.relation];
  if (ref.relation === '') {
    for (const def of st.schema.entities.values()) {
      for (const rel of def.relations.values()) {
        for (const r of rel.references) {
          if (r.type === ref.type && r.relation !== '' && !relations.includes(r.relation)) relations.push(r.relation);
        }
      }
    }
  }
  const lists = await Promise.all(
    relations.map((relation) =>
      st.reader.queryUniqueSubjectIds(st.tenantId, ref.type, relation, st.snapToken, st.signal),
    ),
  );
  // One list is ascending already (storage contract); several are merged.
  if (lists.length === 1) return [...(lists[0] as readonly string[])];
  return sortIds([...new Set(lists.flat())]);
}
