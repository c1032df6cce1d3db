/**
 * LookupEntity candidate search (spec §5.7.2) and ordered, paged verification (§5.7.3).
 *
 * Deliberate improvement over upstream: the candidate set is computed completely, WITHOUT applying the
 * continuation cursor to intermediate objects, and pages are cut from the sorted candidate list. Every page
 * of a paged lookup therefore reads the same snapshot and the union of all pages equals the unpaged answer
 * (upstream's recursive-cursor and PathChain-cursor losses, §5.7.4, do not happen).
 *
 * Second improvement: attribute and rule leaves are not only published on the requested type (upstream's
 * Attribute entrance, kept) but seed the reverse search: holders of a stored or contextual value of a leaf's
 * attributes are carried upwards through computed usersets, walks and usersets like subjects, recursively, so
 * an entity allowed through a walk to an attribute holder (a page under a public ancestor folder) is found.
 * This replaces upstream's PathChain and self-recursion expansion, which followed one fixed chain of relations
 * and missed recursive parents on the way. What stays upstream's: defaults are invisible (a leaf true only on
 * default values has no holder, §5.7.4), entities with no data are never found, unknown permissions or types
 * yield no candidates.
 */
import type { Attribute, Subject, Tuple } from '../data/types.js';
import { PermifyError } from '../errors.js';
import type { Schema } from '../schema/model.js';
import type { TupleFilter } from '../storage/contract.js';
import { attributeSeeds, type Entrance, entrances, leavesOf } from '../schema/reference-graph.js';
import { mapBounded } from './combine.js';
import { checkSignal, type EvalState, normRelation } from './state.js';

/** Subject ids per reverse read of one frontier group. */
const readChunk = 512;

export interface CandidateSearch {
  readonly entityType: string;
  readonly permission: string;
  readonly subject: Subject;
  readonly scope: ReadonlyMap<string, readonly string[]> | undefined;
  readonly maxCandidates: number;
}

function candidateLimit(limit: number): PermifyError {
  return new PermifyError('ERROR_CODE_VALIDATION', `lookup candidate limit exceeded: maxLookupCandidates=${limit}`, {
    details: { limit: 'maxLookupCandidates' },
  });
}

/** The complete, unsorted candidate id set of a LookupEntity request. */
export async function collectCandidates(st: EvalState, req: CandidateSearch): Promise<Set<string>> {
  const { schema } = st;
  const target = req.entityType;
  const candidates = new Set<string>();
  const publish = (id: string): void => {
    if (candidates.has(id)) return;
    candidates.add(id);
    if (candidates.size > req.maxCandidates) throw candidateLimit(req.maxCandidates);
  };
  if (!schema.entities.has(target)) return candidates;

  const attributesDone = new Set<string>();
  const scopeIds = (type: string): readonly string[] | undefined => {
    const ids = req.scope?.get(type);
    return ids !== undefined && ids.length > 0 ? ids : undefined;
  };

  // The frontier is a set of subjects grouped by `type#relation`: every group shares its entrances, so each
  // relation or walk entrance costs one reverse read for the whole group (subject ids in chunks) instead of one
  // read per subject.
  type Group = { readonly type: string; readonly relation: string; readonly ids: string[] };
  // Subjects already reached, by `type#relation` then id (one key string per group, not per subject).
  const visited = new Map<string, Set<string>>();
  let frontier = new Map<string, Group>();
  /** Adds the not yet visited `type:id#relation` subjects, for the ids `idOf(items[i])`, to `next`. */
  const pushAll = <T>(
    next: Map<string, Group>,
    type: string,
    relation: string,
    items: readonly T[],
    idOf: (item: T) => string,
  ): void => {
    const gk = `${type}#${relation}`;
    let seen = visited.get(gk);
    if (seen === undefined) {
      seen = new Set();
      visited.set(gk, seen);
    }
    let g = next.get(gk);
    for (const item of items) {
      const id = idOf(item);
      if (seen.has(id)) continue;
      seen.add(id);
      if (g === undefined) {
        g = { type, relation, ids: [] };
        next.set(gk, g);
      }
      g.ids.push(id);
    }
  };
  const tupleEntityId = (t: Tuple): string => t.entity.id;
  const self = (id: string): string => id;
  pushAll(frontier, req.subject.type, normRelation(req.subject.relation), [req.subject.id], self);

  // Holders of each `type$attribute`, read once per request.
  const holders = new Map<string, Promise<string[]>>();
  const holdersOf = (type: string, attribute: string): Promise<string[]> => {
    const k = `${type}$${attribute}`;
    let p = holders.get(k);
    if (p === undefined) {
      p = attributeHolders(st, type, attribute, scopeIds(type), onlyBareBooleanLeaf(schema, type, attribute));
      holders.set(k, p);
    }
    return p;
  };
  // Attribute and rule leaves hold whatever the subject: their holders enter the search as if they were the
  // subjects `type:id#name` of the name whose expression has the leaf, and are carried upwards through computed
  // usersets, walks and usersets like any subject, recursively (pages under a public ancestor folder, projects of
  // a team of an org whose rule holds). Default values stay invisible (spec §5.7.4): a leaf true only on defaults
  // has no holder.
  const seeds = attributeSeeds(schema, { type: target, permission: req.permission });
  const seedIds = await mapBounded(seeds, st.concurrency, async (seed) => {
    const ids = new Set<string>();
    for (const a of seed.attributes) for (const id of await holdersOf(seed.type, a)) ids.add(id);
    return [...ids];
  });
  seeds.forEach((seed, i) => pushAll(frontier, seed.type, seed.name, seedIds[i] as string[], self));

  while (frontier.size > 0) {
    checkSignal(st);
    // Frontiers can hold many thousands of ids: give the event loop its turn when one is due (budget.ts).
    await st.budget.pause();
    const next = new Map<string, Group>();
    type Job = { readonly group: Group; readonly entrance: Entrance; readonly ids: readonly string[] };
    const jobs: Job[] = [];
    for (const group of frontier.values()) {
      if (group.type === target && group.relation === req.permission) for (const id of group.ids) publish(id);
      const list = entrances(
        schema,
        { type: target, permission: req.permission },
        { type: group.type, relation: group.relation },
      );
      for (const e of list) {
        if (e.kind === 'relation' || e.kind === 'tuple-to-user-set') {
          for (let i = 0; i < group.ids.length; i += readChunk) {
            jobs.push({ group, entrance: e, ids: group.ids.slice(i, i + readChunk) });
          }
        } else jobs.push({ group, entrance: e, ids: group.ids });
      }
    }
    await mapBounded(jobs, st.concurrency, async ({ group, entrance: e, ids: groupIds }) => {
      await st.budget.pause();
      switch (e.kind) {
        case 'relation': {
          const tuples = await readReverse(st, {
            entity: { type: e.type, ids: scopeIds(e.type) ?? [] },
            relation: e.relation,
            subject: { type: group.type, ids: groupIds, relation: group.relation },
          });
          pushAll(next, e.type, e.relation, tuples, tupleEntityId);
          break;
        }
        case 'computed-user-set':
          if (group.type === e.type) pushAll(next, e.type, e.permission, groupIds, self);
          break;
        case 'tuple-to-user-set': {
          const tuples = await readReverse(st, {
            entity: { type: e.type, ids: scopeIds(e.type) ?? [] },
            relation: e.tupleSet,
            subject: { type: group.type, ids: groupIds },
          });
          pushAll(next, e.type, e.permission, tuples, tupleEntityId);
          break;
        }
        case 'attribute': {
          const k = `${e.type}$${e.attribute}`;
          if (attributesDone.has(k)) break;
          attributesDone.add(k);
          // Upstream's candidates: every holder of an attribute of the requested type reachable from the
          // permission, wherever it is used (the seeds above cover the positive leaves and what they reach).
          if (e.type !== target) break;
          for (const id of await holdersOf(e.type, e.attribute)) publish(id);
          break;
        }
        case 'path-chain':
          // Subsumed by the seeds: their holders are carried up the same walks, through the right names only.
          break;
      }
    });
    frontier = next;
  }
  return candidates;
}

/** Stored plus contextual tuples matching a reverse (subject-side) filter. */
async function readReverse(st: EvalState, filter: TupleFilter): Promise<readonly Tuple[]> {
  const stored = await st.reader.queryRelationships(
    st.tenantId,
    filter,
    st.snapToken,
    st.signal === undefined ? undefined : { signal: st.signal },
  );
  if (st.context.tuples.length === 0) return stored;
  const extra: Tuple[] = [];
  const eIds = filter.entity?.ids ?? [];
  const sIds = filter.subject?.ids ?? [];
  const sRel = filter.subject?.relation ?? '';
  for (const t of st.context.tuples) {
    if (filter.entity?.type !== undefined && t.entity.type !== filter.entity.type) continue;
    if (eIds.length > 0 && !eIds.includes(t.entity.id)) continue;
    if (filter.relation !== undefined && filter.relation !== '' && t.relation !== filter.relation) continue;
    if (filter.subject?.type !== undefined && t.subject.type !== filter.subject.type) continue;
    if (sIds.length > 0 && !sIds.includes(t.subject.id)) continue;
    if (sRel !== '' && normRelation(t.subject.relation) !== sRel) continue;
    extra.push(t);
  }
  return extra.length === 0 ? stored : stored.concat(extra);
}

const bareBooleanMemo = new WeakMap<Schema, Map<string, boolean>>();

/**
 * True when `type$attribute` is a BOOLEAN attribute that no rule call of `type` takes as an argument, so every
 * Attribute or PathChain entrance for it comes from a bare attribute leaf (`permission p = ... or public`).
 * Such a leaf is true only for an entity whose effective value (contextual wins over stored) is `true`; see
 * `attributeHolders`. Memoised per compiled schema.
 */
function onlyBareBooleanLeaf(schema: Schema, type: string, attribute: string): boolean {
  let bySchema = bareBooleanMemo.get(schema);
  if (bySchema === undefined) {
    bySchema = new Map();
    bareBooleanMemo.set(schema, bySchema);
  }
  const key = `${type}$${attribute}`;
  let answer = bySchema.get(key);
  if (answer === undefined) {
    const def = schema.entities.get(type);
    answer = def?.attributes.get(attribute)?.type === 'boolean';
    if (answer && def !== undefined) {
      for (const perm of def.permissions.values()) {
        if (leavesOf(perm.child).some((l) => l.kind === 'call' && l.arguments.includes(attribute))) {
          answer = false;
          break;
        }
      }
    }
    bySchema.set(key, answer);
  }
  return answer;
}

/**
 * Ids of `type` entities holding a value (stored or contextual) of `attribute`.
 *
 * Upstream publishes every holder, whatever the value (§5.7.2). With `trueOnly` (a bare BOOLEAN leaf, see
 * `onlyBareBooleanLeaf`) only holders whose effective value is `true` are returned — a contextual value replaces
 * the stored one, so a contextual `false` removes a stored `true` holder and a contextual `true` adds one.
 * Dropping false-valued holders cannot drop an allowed entity: through this leaf such an entity is denied, and
 * every other positive witness (relations, computed usersets, walks, other attributes, rule calls) is found
 * through its own entrance. The one exception is upstream's "defaults invisible" corner (§5.7.4): an entity
 * allowed only by a rule that reads a default value (no stored or contextual value, hence no entrance) was
 * published upstream merely because it also held some value of this boolean; it is not published here. This is
 * what keeps LookupEntity for `view` on the google-docs model from verifying thousands of `public = false`
 * documents per page.
 */
async function attributeHolders(
  st: EvalState,
  type: string,
  attribute: string,
  scope: readonly string[] | undefined,
  trueOnly = false,
): Promise<string[]> {
  const stored: readonly Attribute[] = await st.reader.queryAttributes(
    st.tenantId,
    { entity: { type, ids: scope ?? [] }, attributes: [attribute] },
    st.snapToken,
    st.signal === undefined ? undefined : { signal: st.signal },
  );
  const ids = new Set<string>();
  for (const a of stored) {
    if (!trueOnly || a.value.value === true) ids.add(a.entity.id);
  }
  for (const a of st.context.attributes) {
    if (a.entity.type === type && a.attribute === attribute && (scope === undefined || scope.includes(a.entity.id))) {
      if (!trueOnly || a.value.value === true) ids.add(a.entity.id);
      else ids.delete(a.entity.id);
    }
  }
  return [...ids];
}
