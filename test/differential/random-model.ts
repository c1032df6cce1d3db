/**
 * Random schemas and data for the differential suite, valid by construction and bounded in size.
 *
 * Shape: `user` plus 2–4 entity types (`alpha`, `beta`, …). Relations of a type reference `user`, earlier
 * types (plain or as usersets of their relations) or the type itself (`parent`-style recursion and
 * `member @self#member`-style nesting). Permissions combine relations, earlier permissions, a boolean attribute,
 * a rule call and one-hop walks with `or` / `and` / `not`. Data is acyclic: every tuple's subject ranks strictly
 * below its object (type order, then id order), so Check always terminates well within the depth budget.
 *
 * Rules are false on default attribute values (`level > 2` with default 0): see the LookupEntity oracle in
 * `differential.test.ts` for why that matters.
 */
import type { Attribute, Subject, Tuple } from '../../src/data/types.js';

export interface RandomModel {
  readonly schema: string;
  readonly tuples: readonly Tuple[];
  readonly attributes: readonly Attribute[];
  /** Contextual tuples (about a third of the models have some), drawn by the same acyclic rules. */
  readonly contextTuples: readonly Tuple[];
}

type Prng = () => number;

/** mulberry32. */
export function prng(seed: number): Prng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TYPE_NAMES = ['alpha', 'beta', 'gamma', 'delta'];
const RELATION_NAMES = ['owner', 'member', 'viewer', 'banned'];
const PERMISSION_NAMES = ['view', 'edit', 'manage'];
const ENTITY_IDS = ['1', '2', '3', '10'];
const USER_IDS = ['ann', 'bo', 'cy', 'dee', 'eve'];

interface Ref {
  readonly type: string;
  readonly relation: string;
}
interface TypeModel {
  readonly name: string;
  readonly index: number;
  readonly ids: readonly string[];
  readonly relations: Map<string, Ref[]>;
  readonly permissions: string[];
  hasFlag: boolean;
  hasLevel: boolean;
}

export function generateRandomModel(seed: number): RandomModel {
  const random = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const chance = (p: number): boolean => random() < p;

  const typeCount = 2 + Math.floor(random() * 3);
  const types: TypeModel[] = [];
  const lines: string[] = ['entity user {}', ''];
  let usesRule = false;

  for (let i = 0; i < typeCount; i++) {
    const name = TYPE_NAMES[i] as string;
    const ids = ENTITY_IDS.slice(0, 2 + Math.floor(random() * 3));
    const t: TypeModel = {
      name,
      index: i,
      ids,
      relations: new Map(),
      permissions: [],
      hasFlag: chance(0.4),
      hasLevel: chance(0.3),
    };
    const relationCount = 1 + Math.floor(random() * 3);
    for (let r = 0; r < relationCount; r++) {
      const rel = RELATION_NAMES[r] as string;
      const refs: Ref[] = [{ type: 'user', relation: '' }];
      for (const earlier of types) {
        if (chance(0.35)) refs.push({ type: earlier.name, relation: '' });
        const earlierRelations = [...earlier.relations.keys()];
        if (earlierRelations.length > 0 && chance(0.3))
          refs.push({ type: earlier.name, relation: pick(earlierRelations) });
      }
      if (rel === 'member' && chance(0.5)) refs.push({ type: name, relation: 'member' });
      if (chance(0.15)) refs.shift(); // sometimes no direct users at all
      if (refs.length === 0) refs.push({ type: 'user', relation: '' });
      t.relations.set(rel, refs);
    }
    if (i > 0 && chance(0.4)) t.relations.set('parent', [{ type: name, relation: '' }]);
    // A walk-only relation to one earlier type, so walks have a single target type.
    let walkTarget: TypeModel | undefined;
    if (i > 0 && chance(0.7)) {
      walkTarget = types[Math.floor(random() * i)] as TypeModel;
      t.relations.set('container', [{ type: walkTarget.name, relation: '' }]);
    }

    const body: string[] = [];
    for (const [rel, refs] of t.relations) {
      body.push(
        `    relation ${rel} ${refs.map((r) => (r.relation === '' ? `@${r.type}` : `@${r.type}#${r.relation}`)).join(' ')}`,
      );
    }
    if (t.hasFlag) body.push('    attribute flag boolean');
    if (t.hasLevel) body.push('    attribute level integer');

    const permissionCount = 1 + Math.floor(random() * 3);
    const plainRelations = [...t.relations.keys()].filter((r) => r !== 'parent' && r !== 'container');
    for (let p = 0; p < permissionCount; p++) {
      const pname = PERMISSION_NAMES[p] as string;
      const leaf = (): string => {
        const options: Array<() => string> = [() => pick(plainRelations)];
        if (t.permissions.length > 0) options.push(() => pick(t.permissions));
        if (t.hasFlag) options.push(() => 'flag');
        if (t.hasLevel)
          options.push(() => {
            usesRule = true;
            return 'high(level)';
          });
        if (walkTarget !== undefined) {
          const target = walkTarget;
          const names = [...target.relations.keys(), ...target.permissions];
          options.push(() => `container.${pick(names)}`);
        }
        return pick(options)();
      };
      const expr = (depth: number): string => {
        if (depth === 0 || chance(0.4)) return leaf();
        const op = pick(['or', 'or', 'and', 'not']);
        return `(${expr(depth - 1)} ${op} ${expr(depth - 1)})`;
      };
      let e = expr(2);
      if (t.relations.has('parent') && p === 0) e = `${e} or parent.${pname}`;
      body.push(`    permission ${pname} = ${e}`);
      t.permissions.push(pname);
    }
    lines.push(`entity ${name} {`, ...body, '}', '');
    types.push(t);
  }
  if (usesRule) lines.push('rule high(level integer) {', '    level > 2', '}', '');

  // Data.
  const tuples: Tuple[] = [];
  const seen = new Set<string>();
  const byName = new Map(types.map((t) => [t.name, t]));
  const tupleCount = 10 + Math.floor(random() * 25);
  for (let n = 0; n < tupleCount * 3 && tuples.length < tupleCount; n++) {
    const t = pick(types);
    const objectIndex = Math.floor(random() * t.ids.length);
    const rel = pick([...t.relations.keys()]);
    const ref = pick(t.relations.get(rel) as Ref[]);
    let subject: Subject;
    if (ref.type === 'user') {
      subject = { type: 'user', id: pick(USER_IDS), relation: '' };
    } else {
      const target = byName.get(ref.type) as TypeModel;
      // Acyclic: a same-type subject must have a smaller id index than the object.
      const limit = target === t ? objectIndex : target.ids.length;
      if (limit === 0) continue;
      subject = { type: ref.type, id: target.ids[Math.floor(random() * limit)] as string, relation: ref.relation };
    }
    const tuple: Tuple = { entity: { type: t.name, id: t.ids[objectIndex] as string }, relation: rel, subject };
    const key = `${t.name}:${tuple.entity.id}#${rel}@${subject.type}:${subject.id}#${subject.relation}`;
    if (seen.has(key)) continue;
    seen.add(key);
    tuples.push(tuple);
  }
  const attributes: Attribute[] = [];
  for (const t of types) {
    for (const id of t.ids) {
      if (t.hasFlag && chance(0.5))
        attributes.push({
          entity: { type: t.name, id },
          attribute: 'flag',
          value: { type: 'boolean', value: chance(0.6) },
        });
      if (t.hasLevel && chance(0.5))
        attributes.push({
          entity: { type: t.name, id },
          attribute: 'level',
          value: { type: 'integer', value: Math.floor(random() * 6) },
        });
    }
  }
  // Move a few tuples into the request context in about a third of the models.
  const contextTuples: Tuple[] = [];
  if (chance(0.35)) {
    for (let i = tuples.length - 1; i >= 0 && contextTuples.length < 4; i--) {
      if (chance(0.3)) contextTuples.push(...tuples.splice(i, 1));
    }
  }
  return { schema: lines.join('\n'), tuples, attributes, contextTuples };
}
