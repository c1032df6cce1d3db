/**
 * LookupEntity candidate search (spec §5.7.2) and ordered, paged verification (§5.7.3).
 *
 * Deliberate improvement over upstream: the candidate set is computed completely, WITHOUT applying the
 * continuation cursor to intermediate objects, and pages are cut from the sorted candidate list. Every page
 * of a paged lookup therefore reads the same snapshot and the union of all pages equals the unpaged answer
 * (upstream's recursive-cursor and PathChain-cursor losses, §5.7.4, do not happen). The other candidate rules
 * are upstream's: attribute and rule entrances publish holders of a stored or contextual value (defaults are
 * invisible), unknown permissions or types yield no candidates.
 *
 * An Attribute entrance that lives on a type other than the requested one (reachable only through a userset
 * relation whose subject relation is a permission with attribute leaves) publishes nothing.
 */
import type { Attribute, Subject, Tuple } from '../data/types.js';
import { PermifyError } from '../errors.js';
import type { Schema } from '../schema/model.js';
import type { TupleFilter } from '../storage/contract.js';
import { type Entrance, entrances, leavesOf } from '../schema/reference-graph.js';
import { mapBounded } from './combine.js';
import { checkSignal, type EvalState, normRelation } from './state.js';

/** Spec §5.7.2: more self-recursion rounds than this is an error (upstream's limit). */
export const maxSelfRecursionRounds = 100;

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
  const inScope = (type: string, id: string): boolean => {
    const ids = scopeIds(type);
    return ids === undefined || ids.includes(id);
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

  while (frontier.size > 0) {
    checkSignal(st);
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
          if (e.type !== target) break;
          const holders = await attributeHolders(
            st,
            e.type,
            e.attribute,
            scopeIds(e.type),
            onlyBareBooleanLeaf(schema, e.type, e.attribute),
          );
          for (const id of holders) publish(id);
          await selfRecursion(st, schema, target, req.permission, holders, inScope, publish);
          break;
        }
        case 'path-chain': {
          const k = `${e.type}$${e.attribute}>${e.chain.map((h) => `${h.type}#${h.relation}`).join('>')}`;
          if (attributesDone.has(k)) break;
          attributesDone.add(k);
          let ids = await attributeHolders(
            st,
            e.type,
            e.attribute,
            scopeIds(e.type),
            onlyBareBooleanLeaf(schema, e.type, e.attribute),
          );
          let prevType = e.type;
          for (let h = e.chain.length - 1; h >= 0 && ids.length > 0; h--) {
            const hop = e.chain[h] as { type: string; relation: string };
            const tuples = await readReverse(st, {
              entity: { type: hop.type, ids: h === 0 ? (scopeIds(hop.type) ?? []) : [] },
              relation: hop.relation,
              subject: { type: prevType, ids },
            });
            ids = unique(tuples.map((t) => t.entity.id));
            prevType = hop.type;
          }
          if (prevType === target) for (const id of ids) publish(id);
          break;
        }
      }
    });
    frontier = next;
  }
  return candidates;
}

function unique(ids: readonly string[]): string[] {
  return [...new Set(ids)];
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

/**
 * Self-recursion expansion (§5.7.2): when P on T walks `r.P` through a relation r allowing T, objects reached
 * from attribute holders through r (breadth-first) are candidates too.
 */
async function selfRecursion(
  st: EvalState,
  schema: Schema,
  target: string,
  permission: string,
  seeds: readonly string[],
  inScope: (type: string, id: string) => boolean,
  publish: (id: string) => void,
): Promise<void> {
  const def = schema.entities.get(target);
  const perm = def?.permissions.get(permission);
  if (def === undefined || perm === undefined) return;
  const relations: string[] = [];
  for (const leaf of leavesOf(perm.child)) {
    if (leaf.kind !== 'tuple-to-user-set' || leaf.computed !== permission) continue;
    const rel = def.relations.get(leaf.tupleSet);
    if (rel?.references.some((r) => r.type === target) === true && !relations.includes(leaf.tupleSet)) {
      relations.push(leaf.tupleSet);
    }
  }
  if (relations.length === 0) return;
  const seen = new Set<string>(seeds);
  let frontier = [...seeds];
  let rounds = 0;
  while (frontier.length > 0) {
    if (++rounds > maxSelfRecursionRounds) {
      throw new PermifyError(
        'ERROR_CODE_INTERNAL',
        `recursive relation expansion exceeded maximum depth (${maxSelfRecursionRounds})`,
        { details: { limit: 'maxSelfRecursionRounds' } },
      );
    }
    const next: string[] = [];
    for (const r of relations) {
      const tuples = await readReverse(st, {
        entity: { type: target },
        relation: r,
        subject: { type: target, ids: frontier },
      });
      for (const t of tuples) {
        const id = t.entity.id;
        if (seen.has(id)) continue;
        seen.add(id);
        next.push(id);
        if (inScope(target, id)) publish(id);
      }
    }
    frontier = next;
  }
}
