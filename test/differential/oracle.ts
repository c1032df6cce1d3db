/**
 * The differential oracle: exhaustive Check over every (entity, permission/relation, subject) of a dataset,
 * and the comparisons of every other read API against it (BulkCheck, SubjectPermission, LookupEntity unary and
 * stream at several page sizes, LookupSubject at several page sizes, Expand evaluated as a subject set).
 *
 * Mismatches are collected as readable strings (never thrown) so one failing model reports everything at once.
 */
import type { Attribute, Entity, RequestContext, Subject, Tuple } from '../../src/data/types.js';
import type { CheckResult, ExpandNode, PermissionEngine } from '../../src/engine/types.js';
import { isPermifyError } from '../../src/errors.js';
import type { Child, Schema } from '../../src/schema/model.js';

export interface DifferentialInput {
  readonly engine: PermissionEngine;
  readonly tenantId: string;
  readonly schema: Schema;
  readonly tuples: readonly Tuple[];
  readonly attributes: readonly Attribute[];
  readonly context?: RequestContext;
  readonly depth?: number;
  /** Page sizes for LookupEntity (unary and stream) and LookupSubject. */
  readonly entityPageSizes?: readonly number[];
  readonly subjectPageSizes?: readonly number[];
  /** Page sizes for LookupEntityStream; default `entityPageSizes`. */
  readonly streamPageSizes?: readonly number[];
  /**
   * Ask SubjectPermission once per (entity, subject) pair, with only_permission alternating between pairs,
   * instead of with both values (shorter runs over many worlds).
   */
  readonly alternateOnlyPermission?: boolean;
}

export interface DifferentialReport {
  readonly checks: number;
  readonly comparisons: Record<string, number>;
  readonly mismatches: string[];
  /** Allowed entities that LookupEntity legitimately does not find (upstream incompleteness, spec §5.7.4). */
  readonly toleratedLookupEntityMisses: string[];
  /** (entity, name) pairs whose checks error for some subject; excluded from lookups and Expand. */
  readonly erroringQueries: string[];
}

type Outcome = CheckResult | `error:${string}`;

/** An id no dataset uses: every type gets one entity with no data at all. */
export const NO_DATA_ID = 'zz_no_data';

const subjectKey = (s: Subject): string =>
  s.relation === '' ? `${s.type}:${s.id}` : `${s.type}:${s.id}#${s.relation}`;
const entityKey = (e: Entity): string => `${e.type}:${e.id}`;
const norm = (r: string): string => (r === '...' ? '' : r);
const byteCompare = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

function errorCode(e: unknown): string {
  return isPermifyError(e) ? e.code : e instanceof Error ? e.message : String(e);
}

/** Leaves of an expression that are not under the right operand of an exclusion. */
function positiveLeaves(c: Child): Child[] {
  if (c.kind !== 'rewrite') return [c];
  if (c.operation === 'exclusion') return positiveLeaves(c.children[0]);
  return [...positiveLeaves(c.children[0]), ...positiveLeaves(c.children[1])];
}

/**
 * The nodes (`type:id#name`) from which LookupEntity's reverse search must find an entity, per subject: what can
 * be reached, along the steps an ALLOWED Check can take (computed names, walks, userset and direct tuples, the
 * positive operands only), upwards from the subject itself and from every attribute or rule leaf that holds
 * through a stored or contextual value (a bare boolean leaf whose effective value is true; a rule call with a
 * value for at least one argument). Spec §5.7.4's blind spot is exactly the rest: an entity allowed only where a
 * rule holds on default values (or with no data at all) is not reachable, and only such misses are tolerated.
 * Written from Check's semantics, independently of the engine's reverse graph.
 */
function lookupReachability(
  schema: Schema,
  ids: (type: string) => readonly string[],
  tuples: readonly Tuple[],
  attributes: readonly Attribute[],
  contextAttributes: readonly Attribute[],
): (subject: Subject) => ReadonlySet<string> {
  const parents = new Map<string, string[]>();
  const edge = (from: string, to: string): void => {
    const list = parents.get(from);
    if (list === undefined) parents.set(from, [to]);
    else list.push(to);
  };
  const node = (type: string, id: string, name: string): string => `${type}:${id}#${norm(name)}`;
  const stored = new Map<string, Attribute['value']>();
  for (const a of attributes) stored.set(`${entityKey(a.entity)}$${a.attribute}`, a.value);
  const contextual = new Map<string, Attribute['value']>();
  for (const a of contextAttributes) {
    const k = `${entityKey(a.entity)}$${a.attribute}`;
    if (!contextual.has(k)) contextual.set(k, a.value);
  }
  const sources: string[] = [];
  for (const t of tuples)
    edge(node(t.subject.type, t.subject.id, t.subject.relation), node(t.entity.type, t.entity.id, t.relation));
  for (const [type, def] of schema.entities) {
    for (const [name, permission] of def.permissions) {
      for (const leaf of positiveLeaves(permission.child)) {
        switch (leaf.kind) {
          case 'computed-user-set':
            for (const id of ids(type)) edge(node(type, id, leaf.relation), node(type, id, name));
            break;
          case 'tuple-to-user-set':
            for (const t of tuples) {
              if (t.entity.type === type && t.relation === leaf.tupleSet) {
                edge(node(t.subject.type, t.subject.id, leaf.computed), node(type, t.entity.id, name));
              }
            }
            break;
          case 'computed-attribute':
            for (const id of ids(type)) {
              const k = `${type}:${id}$${leaf.name}`;
              const v = contextual.get(k) ?? stored.get(k);
              if (v?.value === true) sources.push(node(type, id, name));
            }
            break;
          case 'call':
            for (const id of ids(type)) {
              if (
                leaf.arguments.some((a) => stored.has(`${type}:${id}$${a}`) || contextual.has(`${type}:${id}$${a}`))
              ) {
                sources.push(node(type, id, name));
              }
            }
            break;
          case 'rewrite':
            break;
        }
      }
    }
  }
  const closure = (start: readonly string[], seen: Set<string>): Set<string> => {
    const stack = [...start];
    for (const s of start) seen.add(s);
    while (stack.length > 0) {
      const n = stack.pop() as string;
      for (const p of parents.get(n) ?? []) {
        if (seen.has(p)) continue;
        seen.add(p);
        stack.push(p);
      }
    }
    return seen;
  };
  const fromAttributes = closure(sources, new Set());
  return (subject) => {
    const start = node(subject.type, subject.id, subject.relation);
    if (fromAttributes.has(start)) return fromAttributes;
    return closure([start], new Set(fromAttributes));
  };
}

export async function runDifferential(input: DifferentialInput): Promise<DifferentialReport> {
  const { engine, tenantId, schema, tuples, attributes } = input;
  const context = input.context;
  const depth = input.depth ?? 100;
  const metadata = { depth, schemaVersion: '', snapToken: '' };
  const mismatches: string[] = [];
  const tolerated: string[] = [];
  const comparisons: Record<string, number> = {};
  const count = (k: string): void => {
    comparisons[k] = (comparisons[k] ?? 0) + 1;
  };

  // Universe.
  const idsByType = new Map<string, Set<string>>();
  const addId = (type: string, id: string): void => {
    if (!schema.entities.has(type)) return;
    let s = idsByType.get(type);
    if (s === undefined) idsByType.set(type, (s = new Set()));
    s.add(id);
  };
  for (const type of schema.entities.keys()) addId(type, NO_DATA_ID);
  const hasObjectData = new Set<string>();
  const contextTuples = context?.tuples ?? [];
  for (const t of [...tuples, ...contextTuples]) {
    addId(t.entity.type, t.entity.id);
    addId(t.subject.type, t.subject.id);
    hasObjectData.add(entityKey(t.entity));
  }
  for (const a of attributes) {
    addId(a.entity.type, a.entity.id);
    hasObjectData.add(entityKey(a.entity));
  }
  for (const t of context?.tuples ?? []) hasObjectData.add(entityKey(t.entity));
  for (const a of context?.attributes ?? []) {
    addId(a.entity.type, a.entity.id);
    hasObjectData.add(entityKey(a.entity));
  }
  const sortedIds = (type: string): string[] => [...(idsByType.get(type) ?? [])].sort(byteCompare);
  const plainSubjects: Subject[] = [];
  for (const type of schema.entities.keys())
    for (const id of sortedIds(type)) plainSubjects.push({ type, id, relation: '' });
  const usersetSubjects = new Map<string, Subject>();
  for (const t of [...tuples, ...contextTuples]) {
    if (norm(t.subject.relation) !== '') usersetSubjects.set(subjectKey(t.subject), t.subject);
  }
  const subjects = [...plainSubjects, ...usersetSubjects.values()];
  const namesOf = (type: string): { all: string[]; permissions: string[] } => {
    const def = schema.entities.get(type);
    if (def === undefined) return { all: [], permissions: [] };
    const all = def.memberOrder.filter(
      (n) => def.references.get(n) === 'relation' || def.references.get(n) === 'permission',
    );
    return { all, permissions: all.filter((n) => def.references.get(n) === 'permission') };
  };

  // Oracle: exhaustive Check.
  const oracle = new Map<string, Outcome>();
  const oracleKey = (e: Entity, name: string, s: Subject): string => `${entityKey(e)}#${name}@${subjectKey(s)}`;
  let checks = 0;
  const erroring = new Set<string>();
  for (const type of schema.entities.keys()) {
    for (const id of sortedIds(type)) {
      const entity = { type, id };
      for (const name of namesOf(type).all) {
        for (const subject of subjects) {
          let outcome: Outcome;
          try {
            const r = await engine.check({ tenantId, metadata, entity, permission: name, subject, context });
            outcome = r.can;
          } catch (e) {
            outcome = `error:${errorCode(e)}`;
            erroring.add(`${entityKey(entity)}#${name}`);
          }
          checks++;
          oracle.set(oracleKey(entity, name, subject), outcome);
        }
      }
    }
  }
  const outcomeOf = (e: Entity, name: string, s: Subject): Outcome => {
    const o = oracle.get(oracleKey(e, name, s));
    if (o === undefined) throw new Error(`oracle has no answer for ${oracleKey(e, name, s)}`);
    return o;
  };
  /** Check outside the universe (e.g. an id only a lookup produced). */
  const checkDirect = async (e: Entity, name: string, s: Subject): Promise<Outcome> => {
    const known = oracle.get(oracleKey(e, name, s));
    if (known !== undefined) return known;
    try {
      return (await engine.check({ tenantId, metadata, entity: e, permission: name, subject: s, context })).can;
    } catch (err) {
      return `error:${errorCode(err)}`;
    }
  };

  // BulkCheck: errors become DENIED.
  {
    const items: Array<{ entity: Entity; permission: string; subject: Subject }> = [];
    for (const type of schema.entities.keys())
      for (const id of sortedIds(type))
        for (const name of namesOf(type).all)
          for (const subject of subjects) items.push({ entity: { type, id }, permission: name, subject });
    for (let i = 0; i < items.length; i += 100) {
      const batch = items.slice(i, i + 100);
      const r = await engine.bulkCheck({ tenantId, metadata, context, items: batch });
      if (r.results.length !== batch.length)
        mismatches.push(`bulkCheck returned ${r.results.length} results for ${batch.length} items`);
      batch.forEach((item, j) => {
        const expected = outcomeOf(item.entity, item.permission, item.subject);
        const want = expected === 'allowed' ? 'allowed' : 'denied';
        const got = r.results[j]?.can;
        count('bulkCheck');
        if (got !== want)
          mismatches.push(
            `bulkCheck ${oracleKey(item.entity, item.permission, item.subject)}: expected ${want} (check: ${expected}) got ${got}`,
          );
      });
    }
  }

  // SubjectPermission (with and without only_permission).
  for (const type of schema.entities.keys()) {
    const names = namesOf(type);
    for (const id of sortedIds(type)) {
      const entity = { type, id };
      for (const [subjectIndex, subject] of subjects.entries()) {
        const modes = input.alternateOnlyPermission === true ? [subjectIndex % 2 === 1] : [false, true];
        for (const onlyPermission of modes) {
          const expectedNames = onlyPermission ? names.permissions : names.all;
          const outcomes = expectedNames.map((n) => [n, outcomeOf(entity, n, subject)] as const);
          const anyError = outcomes.find(([, o]) => o.startsWith('error:'));
          count('subjectPermission');
          const label = `subjectPermission ${entityKey(entity)} @${subjectKey(subject)} only=${onlyPermission}`;
          try {
            const r = await engine.subjectPermission({
              tenantId,
              metadata: { ...metadata, onlyPermission },
              entity,
              subject,
              context,
            });
            if (anyError !== undefined) {
              mismatches.push(`${label}: expected an error (${anyError[0]}: ${anyError[1]}), got a result`);
              continue;
            }
            const got = [...r.results.entries()].map(([n, v]) => `${n}=${v}`).join(',');
            const want = outcomes.map(([n, v]) => `${n}=${v}`).join(',');
            if (got !== want) mismatches.push(`${label}: expected {${want}} got {${got}}`);
          } catch (e) {
            if (anyError === undefined) mismatches.push(`${label}: unexpected error ${errorCode(e)}`);
          }
        }
      }
    }
  }

  // LookupEntity (unary and stream) for every type, name and subject.
  const entityPageSizes = input.entityPageSizes ?? [1, 2, 7, 100];
  const streamPageSizes = input.streamPageSizes ?? entityPageSizes;
  const reachable = lookupReachability(
    schema,
    sortedIds,
    [...tuples, ...contextTuples],
    attributes,
    context?.attributes ?? [],
  );
  for (const type of schema.entities.keys()) {
    for (const name of namesOf(type).all) {
      // A candidate whose check errors fails the whole lookup (spec §5.7.3 step 5), so (type, name) pairs with an
      // erroring entity are skipped, unless the only erroring entities have no data at all: those are never
      // candidates.
      const erroringWithData = sortedIds(type).some(
        (id) => erroring.has(`${type}:${id}#${name}`) && hasObjectData.has(`${type}:${id}`),
      );
      if (erroringWithData) continue;
      for (const subject of subjects) {
        const allowed = sortedIds(type).filter((id) => outcomeOf({ type, id }, name, subject) === 'allowed');
        const found = reachable(subject);
        const label = `lookupEntity ${type}#${name} @${subjectKey(subject)}`;
        for (const pageSize of new Set([...entityPageSizes, ...streamPageSizes])) {
          for (const mode of ['unary', 'stream'] as const) {
            if (!(mode === 'unary' ? entityPageSizes : streamPageSizes).includes(pageSize)) continue;
            count(`lookupEntity.${mode}`);
            let got: string[];
            try {
              got =
                mode === 'unary'
                  ? await lookupEntityAll(engine, {
                      tenantId,
                      metadata,
                      entityType: type,
                      permission: name,
                      subject,
                      context,
                      pageSize,
                    })
                  : await lookupEntityStreamAll(engine, {
                      tenantId,
                      metadata,
                      entityType: type,
                      permission: name,
                      subject,
                      context,
                      pageSize,
                    });
            } catch (e) {
              mismatches.push(`${label} ${mode} page=${pageSize}: unexpected error ${errorCode(e)}`);
              continue;
            }
            const where = `${label} ${mode} page=${pageSize}`;
            for (let i = 1; i < got.length; i++) {
              if (byteCompare(got[i - 1] as string, got[i] as string) >= 0) {
                mismatches.push(`${where}: not strictly ascending: ${JSON.stringify(got)}`);
                break;
              }
            }
            for (const id of new Set(got)) {
              const o = await checkDirect({ type, id }, name, subject);
              if (o !== 'allowed') mismatches.push(`${where}: returned ${id} but check says ${o}`);
            }
            const gotSet = new Set(got);
            for (const id of allowed) {
              if (gotSet.has(id)) continue;
              // Spec §5.7.4, bullet 1: entities allowed only through rules that hold on default values (or with no
              // data at all) are never candidates; Check allows them, LookupEntity by design does not list them.
              // Exactly those misses (see lookupReachability) are accepted and reported.
              if (!found.has(`${type}:${id}#${name}`)) {
                if (pageSize === entityPageSizes[0] && mode === 'unary') tolerated.push(`${label}: ${id}`);
                continue;
              }
              mismatches.push(`${where}: missing ${id} (check allowed)`);
            }
          }
        }
      }
    }
  }

  // LookupSubject: plain references must equal the oracle over the subjects stored tuples mention (with any
  // subject relation: `group:x` is a plain `group` subject even when stored only as `group:x#member`); userset
  // references are compared as a subset (spec §5.8.2 quirk 4: a subject matching the reference is not expanded
  // further, so nested usersets of the same reference are not reported although Check allows them).
  // Subjects that only contextual tuples mention are compared as a subset too: an `ALL` answer (an attribute or
  // rule leaf) enumerates the subjects of *stored* tuples only (spec §5.8.1), so Check can allow a contextual-only
  // subject that LookupSubject legitimately does not list; whatever it does list must still be allowed.
  const subjectPageSizes = input.subjectPageSizes ?? [1, 3, 100];
  const referenceIds = new Map<string, Set<string>>();
  const storedReferenceIds = new Set<string>();
  for (const [list, stored] of [
    [tuples, true],
    [contextTuples, false],
  ] as const) {
    for (const t of list) {
      for (const k of new Set([`${t.subject.type}#${norm(t.subject.relation)}`, `${t.subject.type}#`])) {
        let s = referenceIds.get(k);
        if (s === undefined) referenceIds.set(k, (s = new Set()));
        s.add(t.subject.id);
        if (stored) storedReferenceIds.add(`${k}@${t.subject.id}`);
      }
    }
  }
  for (const type of schema.entities.keys()) {
    for (const id of sortedIds(type)) {
      const entity = { type, id };
      for (const name of namesOf(type).all) {
        if (erroring.has(`${entityKey(entity)}#${name}`)) continue;
        for (const [refKey, refIdSet] of referenceIds) {
          const [refType, refRelation] = refKey.split('#') as [string, string];
          const candidates = [...refIdSet].sort(byteCompare);
          const expected = candidates.filter(
            (sid) => outcomeOf(entity, name, { type: refType, id: sid, relation: refRelation }) === 'allowed',
          );
          const notAllowed = async (got: readonly string[], allowed: readonly string[]): Promise<string[]> => {
            const out: string[] = [];
            for (const g of got) {
              if (allowed.includes(g)) continue;
              const o = await checkDirect(entity, name, { type: refType, id: g, relation: refRelation });
              if (o !== 'allowed') out.push(g);
            }
            return out;
          };
          for (const pageSize of subjectPageSizes) {
            count('lookupSubject');
            const where = `lookupSubject ${entityKey(entity)}#${name} ref=${refKey} page=${pageSize}`;
            let got: string[];
            try {
              got = await lookupSubjectAll(engine, {
                tenantId,
                metadata,
                entity,
                permission: name,
                subjectReference: { type: refType, relation: refRelation },
                context,
                pageSize,
              });
            } catch (e) {
              mismatches.push(`${where}: unexpected error ${errorCode(e)}`);
              continue;
            }
            if (new Set(got).size !== got.length) mismatches.push(`${where}: duplicates ${JSON.stringify(got)}`);
            if (refRelation === '') {
              const exact = (ids: readonly string[]): string[] =>
                ids.filter((i) => storedReferenceIds.has(`${refKey}@${i}`));
              const extra = await notAllowed(got, expected);
              if (extra.length > 0) mismatches.push(`${where}: returned ${JSON.stringify(extra)} not allowed by check`);
              if (JSON.stringify(exact(got)) !== JSON.stringify(exact(expected))) {
                mismatches.push(`${where}: expected ${JSON.stringify(expected)} got ${JSON.stringify(got)}`);
              }
            } else {
              // A userset subject outside the tuples' universe may be allowed (`T:x#r` on `T:x#r` itself).
              const extra = await notAllowed(got, expected);
              if (extra.length > 0) mismatches.push(`${where}: returned ${JSON.stringify(extra)} not allowed by check`);
            }
          }
        }
      }
    }
  }

  // Expand, evaluated as a set of plain subjects.
  for (const type of schema.entities.keys()) {
    for (const id of sortedIds(type)) {
      const entity = { type, id };
      for (const name of namesOf(type).all) {
        if (erroring.has(`${entityKey(entity)}#${name}`)) continue;
        count('expand');
        let tree: ExpandNode;
        try {
          tree = (
            await engine.expand({
              tenantId,
              metadata: { schemaVersion: '', snapToken: '' },
              entity,
              permission: name,
              context,
            })
          ).tree;
        } catch (e) {
          mismatches.push(`expand ${entityKey(entity)}#${name}: unexpected error ${errorCode(e)}`);
          continue;
        }
        for (const subject of plainSubjects) {
          const expected = outcomeOf(entity, name, subject) === 'allowed';
          let got: boolean;
          try {
            got = evaluateExpand(schema, tree, subject, context);
          } catch (e) {
            mismatches.push(`expand ${entityKey(entity)}#${name}: cannot evaluate tree (${errorCode(e)})`);
            break;
          }
          if (got !== expected) {
            mismatches.push(
              `expand ${entityKey(entity)}#${name} @${subjectKey(subject)}: tree says ${got}, check says ${expected}`,
            );
          }
        }
      }
    }
  }

  return { checks, comparisons, mismatches, toleratedLookupEntityMisses: tolerated, erroringQueries: [...erroring] };
}

/** Membership of a plain subject in the set an Expand tree denotes. Rule leaves are evaluated with their values. */
export function evaluateExpand(schema: Schema, node: ExpandNode, subject: Subject, context?: RequestContext): boolean {
  if (node.expand !== undefined) {
    const children = node.expand.children;
    switch (node.expand.operation) {
      case 'union':
        return children.some((c) => evaluateExpand(schema, c, subject, context));
      case 'intersection':
        return children.length > 0 && children.every((c) => evaluateExpand(schema, c, subject, context));
      case 'exclusion': {
        const [left, right] = children;
        if (left === undefined || right === undefined) throw new Error('exclusion node without two children');
        return evaluateExpand(schema, left, subject, context) && !evaluateExpand(schema, right, subject, context);
      }
    }
  }
  const leaf = node.leaf;
  if (leaf === undefined)
    throw new Error(`node ${entityKey(node.entity)}#${node.permission} has neither expand nor leaf`);
  switch (leaf.kind) {
    case 'subjects':
      return leaf.subjects.some(
        (s) => s.type === subject.type && s.id === subject.id && norm(s.relation) === norm(subject.relation),
      );
    case 'value':
      return leaf.value.type === 'boolean' && leaf.value.value;
    case 'values': {
      const rule = schema.rules.get(node.permission);
      if (rule === undefined) throw new Error(`rule ${node.permission} not in schema`);
      return rule.program.evaluate(new Map(leaf.values), context?.data ?? {});
    }
  }
}

type LookupEntityArgs = Parameters<PermissionEngine['lookupEntity']>[0];
type LookupSubjectArgs = Parameters<PermissionEngine['lookupSubject']>[0];
const MAX_PAGES = 10_000;

export async function lookupEntityAll(engine: PermissionEngine, request: LookupEntityArgs): Promise<string[]> {
  const out: string[] = [];
  let token = '';
  for (let i = 0; i < MAX_PAGES; i++) {
    const r = await engine.lookupEntity({ ...request, continuousToken: token });
    if (r.entityIds.length > (request.pageSize ?? 1000)) throw new Error(`page larger than ${request.pageSize}`);
    out.push(...r.entityIds);
    if (r.continuousToken === '') return out;
    token = r.continuousToken;
  }
  throw new Error('lookupEntity never returned an empty token');
}

export async function lookupEntityStreamAll(engine: PermissionEngine, request: LookupEntityArgs): Promise<string[]> {
  const out: string[] = [];
  let token = '';
  for (let i = 0; i < MAX_PAGES; i++) {
    let last = '';
    let n = 0;
    for await (const item of engine.lookupEntityStream({ ...request, continuousToken: token })) {
      out.push(item.entityId);
      last = item.continuousToken;
      n++;
    }
    if (n > (request.pageSize ?? 1000)) throw new Error(`stream sent more than ${request.pageSize} items`);
    if (n === 0 || last === '') return out;
    token = last;
  }
  throw new Error('lookupEntityStream never ended');
}

export async function lookupSubjectAll(engine: PermissionEngine, request: LookupSubjectArgs): Promise<string[]> {
  const out: string[] = [];
  let token = '';
  for (let i = 0; i < MAX_PAGES; i++) {
    const r = await engine.lookupSubject({ ...request, continuousToken: token });
    if (r.subjectIds.length > (request.pageSize ?? 1000)) throw new Error(`page larger than ${request.pageSize}`);
    out.push(...r.subjectIds);
    if (r.continuousToken === '') return out;
    token = r.continuousToken;
  }
  throw new Error('lookupSubject never returned an empty token');
}
