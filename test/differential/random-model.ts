/**
 * Random schemas and data for the differential suite, valid by construction and bounded in size.
 *
 * Shape: `user` plus 2–4 entity types (`alpha`, `beta`, …). Relations of a type reference `user`, earlier
 * types (plain or as usersets of their relations) or the type itself (`parent`-style recursion and
 * `member @self#member`-style nesting); a `container` relation to an earlier type gives walks, and chains of
 * containers give walks of several hops. Permissions combine relations, earlier permissions, walks, bare boolean
 * attribute leaves and rule calls with `or` / `and` / `not`.
 *
 * ABAC: a type may declare `flag boolean`, `level integer`, `score double`, `tag string` and `tags string[]`.
 * Rules read one or two of them and some read `context.data.min`; several rules are TRUE on default values
 * (`level < 2`, `tag != 'blue'`, `size(tags) < 2`, `!flag`, …), which is what exercises LookupEntity's documented
 * blind spot (spec §5.7.4: defaults are invisible) — the oracle tells those misses apart from real ones. Stored
 * attributes are drawn for some entities; in about a third of the models a few contextual attributes (of the
 * right type, sometimes overriding a stored value) and contextual tuples are added.
 *
 * Data is acyclic: every tuple's subject ranks strictly below its object (type order, then id order), so Check
 * always terminates well within the depth budget.
 */
import type { Attribute, AttributeValue, JsonValue, Subject, Tuple } from '../../src/data/types.js';

export interface RandomModel {
  readonly schema: string;
  readonly tuples: readonly Tuple[];
  readonly attributes: readonly Attribute[];
  /** Contextual tuples (about a third of the models have some), drawn by the same acyclic rules. */
  readonly contextTuples: readonly Tuple[];
  /** Contextual attributes (about a third of the models have some). */
  readonly contextAttributes: readonly Attribute[];
  /** `context.data` of every request (`{min: n}` when a rule reads it, else empty). */
  readonly data: { readonly [k: string]: JsonValue };
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

type AttributeName = 'flag' | 'level' | 'score' | 'tag' | 'tags';
const ATTRIBUTE_TYPES: Record<AttributeName, string> = {
  flag: 'boolean',
  level: 'integer',
  score: 'double',
  tag: 'string',
  tags: 'string[]',
};

interface RuleSpec {
  readonly name: string;
  /** Parameters = attribute names (rule arguments bind by name). */
  readonly params: readonly AttributeName[];
  readonly body: string;
}

/** The rule pool; `defaultTrue` rules hold on an entity that has no value at all. */
const RULES: readonly RuleSpec[] = [
  { name: 'high', params: ['level'], body: 'level > 2' },
  { name: 'low', params: ['level'], body: 'level < 2' }, // defaultTrue
  { name: 'at_least', params: ['level'], body: 'level >= context.data.min' }, // defaultTrue when min <= 0
  { name: 'cheap', params: ['score'], body: 'score <= 1.5' }, // defaultTrue
  { name: 'pricey', params: ['score'], body: 'score > 2.5' },
  { name: 'red', params: ['tag'], body: "tag == 'red'" },
  { name: 'not_blue', params: ['tag'], body: "tag != 'blue'" }, // defaultTrue
  { name: 'has_x', params: ['tags'], body: "'x' in tags" },
  { name: 'few', params: ['tags'], body: 'size(tags) < 2' }, // defaultTrue
  { name: 'off', params: ['flag'], body: '!flag' }, // defaultTrue
  { name: 'mixed', params: ['level', 'score'], body: 'level > 1 && score < 2.0' },
];

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
  readonly attributes: AttributeName[];
}

function attributeValue(name: AttributeName, random: Prng): AttributeValue {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  switch (name) {
    case 'flag':
      return { type: 'boolean', value: random() < 0.6 };
    case 'level':
      return { type: 'integer', value: Math.floor(random() * 6) };
    case 'score':
      return { type: 'double', value: pick([0, 1, 1.5, 2, 3.25]) };
    case 'tag':
      return { type: 'string', value: pick(['', 'red', 'blue', 'green']) };
    case 'tags':
      return { type: 'string[]', value: pick([[], ['x'], ['x', 'y'], ['y'], ['y', 'z', 'x']]) };
  }
}

export function generateRandomModel(seed: number): RandomModel {
  const random = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const chance = (p: number): boolean => random() < p;

  const typeCount = 2 + Math.floor(random() * 3);
  // In a hierarchy world every type has a recursive parent, walks into the type before it (a chain of several
  // hops) and its first permission climbs both: `abac or … or container.view or parent.view`. That is the
  // shape in which attribute holders sit above the entities they make allowed.
  const hierarchy = chance(0.4);
  const types: TypeModel[] = [];
  const lines: string[] = ['entity user {}', ''];
  const usedRules = new Set<RuleSpec>();

  for (let i = 0; i < typeCount; i++) {
    const name = TYPE_NAMES[i] as string;
    const ids = ENTITY_IDS.slice(0, 2 + Math.floor(random() * 3));
    const attributes = (Object.keys(ATTRIBUTE_TYPES) as AttributeName[]).filter(() => chance(0.3));
    if (hierarchy && attributes.length === 0) attributes.push(pick(['flag', 'level', 'tag'] as const));
    const t: TypeModel = { name, index: i, ids, relations: new Map(), permissions: [], attributes };
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
    if (hierarchy || chance(0.45)) t.relations.set('parent', [{ type: name, relation: '' }]);
    // A walk-only relation to one earlier type, so walks have a single target type; chains of them give walks
    // of several hops.
    let walkTarget: TypeModel | undefined;
    if (i > 0 && (hierarchy || chance(0.8))) {
      walkTarget = types[hierarchy ? i - 1 : Math.floor(random() * i)] as TypeModel;
      t.relations.set('container', [{ type: walkTarget.name, relation: '' }]);
    }

    const body: string[] = [];
    for (const [rel, refs] of t.relations) {
      body.push(
        `    relation ${rel} ${refs.map((r) => (r.relation === '' ? `@${r.type}` : `@${r.type}#${r.relation}`)).join(' ')}`,
      );
    }
    for (const a of attributes) body.push(`    attribute ${a} ${ATTRIBUTE_TYPES[a]}`);
    const callable = RULES.filter((r) => r.params.every((p) => attributes.includes(p)));

    const permissionCount = 1 + Math.floor(random() * 3);
    const plainRelations = [...t.relations.keys()].filter((r) => r !== 'parent' && r !== 'container');
    for (let p = 0; p < permissionCount; p++) {
      const pname = PERMISSION_NAMES[p] as string;
      const abacOptions: Array<() => string> = [];
      if (attributes.includes('flag')) abacOptions.push(() => 'flag');
      if (callable.length > 0) {
        abacOptions.push(() => {
          const rule = pick(callable);
          usedRules.add(rule);
          return `${rule.name}(${rule.params.join(', ')})`;
        });
      }
      const abacLeaf = abacOptions.length === 0 ? undefined : (): string => pick(abacOptions)();
      const leaf = (): string => {
        const options: Array<() => string> = [() => pick(plainRelations)];
        if (t.permissions.length > 0) options.push(() => pick(t.permissions));
        if (abacLeaf !== undefined) options.push(abacLeaf, abacLeaf);
        if (walkTarget !== undefined) {
          const target = walkTarget;
          const names = [...target.relations.keys(), ...target.permissions];
          options.push(() => `container.${pick(names)}`);
          if (target.permissions.length > 0) options.push(() => `container.${pick(target.permissions)}`);
        }
        if (t.relations.has('parent') && t.permissions.length > 0) options.push(() => `parent.${pick(t.permissions)}`);
        return pick(options)();
      };
      const expr = (depth: number): string => {
        if (depth === 0 || chance(0.4)) return leaf();
        const op = pick(['or', 'or', 'and', 'not']);
        return `(${expr(depth - 1)} ${op} ${expr(depth - 1)})`;
      };
      let e = expr(2);
      // Walks into the container's first (often recursive) permission, the shape of `page.view = folder.view`.
      if (walkTarget !== undefined && p === 0 && (hierarchy || chance(0.5)))
        e = `${e} or container.${walkTarget.permissions[0]}`;
      if (t.relations.has('parent') && (p === 0 || chance(0.3))) {
        // The recursive-parent shape (`public or parent.view`) that walks from attribute holders must climb.
        if (abacLeaf !== undefined && (hierarchy || chance(0.6))) e = `${abacLeaf()} or ${e}`;
        e = `${e} or parent.${pname}`;
      }
      body.push(`    permission ${pname} = ${e}`);
      t.permissions.push(pname);
    }
    lines.push(`entity ${name} {`, ...body, '}', '');
    types.push(t);
  }
  for (const rule of RULES) {
    if (!usedRules.has(rule)) continue;
    const params = rule.params.map((p) => `${p} ${ATTRIBUTE_TYPES[p]}`).join(', ');
    lines.push(`rule ${rule.name}(${params}) {`, `    ${rule.body}`, '}', '');
  }
  const readsData = [...usedRules].some((r) => r.body.includes('context.data'));

  // Data.
  const tuples: Tuple[] = [];
  const seen = new Set<string>();
  const byName = new Map(types.map((t) => [t.name, t]));
  // Parent chains and containers first (the hierarchies walks climb), then random tuples of every relation.
  for (const t of types) {
    t.ids.forEach((id, k) => {
      if (k > 0 && t.relations.has('parent') && chance(0.6)) {
        tuples.push({
          entity: { type: t.name, id },
          relation: 'parent',
          subject: { type: t.name, id: t.ids[Math.floor(random() * k)] as string, relation: '' },
        });
      }
      const container = t.relations.get('container')?.[0];
      if (container !== undefined && chance(hierarchy ? 0.8 : 0.5)) {
        const target = byName.get(container.type) as TypeModel;
        tuples.push({
          entity: { type: t.name, id },
          relation: 'container',
          subject: { type: target.name, id: pick(target.ids), relation: '' },
        });
      }
    });
  }
  for (const tuple of tuples) {
    seen.add(`${tuple.entity.type}:${tuple.entity.id}#${tuple.relation}@${tuple.subject.type}:${tuple.subject.id}#`);
  }
  const tupleCount = tuples.length + 8 + Math.floor(random() * 20);
  for (let n = 0; n < tupleCount * 3 && tuples.length < tupleCount; n++) {
    const t = pick(types);
    const objectIndex = Math.floor(random() * t.ids.length);
    // Walk relations get about half of the tuples: chains of parents and containers are what walks climb.
    const walkRelations = [...t.relations.keys()].filter((r) => r === 'parent' || r === 'container');
    const rel = walkRelations.length > 0 && chance(0.5) ? pick(walkRelations) : pick([...t.relations.keys()]);
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
    t.ids.forEach((id, k) => {
      // Hierarchy worlds put values mostly on the roots, above the entities they reach.
      const p = hierarchy ? (k === 0 ? 0.8 : 0.25) : 0.45;
      for (const a of t.attributes) {
        if (chance(p))
          attributes.push({ entity: { type: t.name, id }, attribute: a, value: attributeValue(a, random) });
      }
    });
  }
  // Move a few tuples into the request context, and add contextual attributes, in about a third of the models.
  const contextTuples: Tuple[] = [];
  if (chance(0.35)) {
    for (let i = tuples.length - 1; i >= 0 && contextTuples.length < 4; i--) {
      if (chance(0.3)) contextTuples.push(...tuples.splice(i, 1));
    }
  }
  const contextAttributes: Attribute[] = [];
  const withAttributes = types.filter((t) => t.attributes.length > 0);
  if (withAttributes.length > 0 && chance(0.35)) {
    const n = 1 + Math.floor(random() * 4);
    for (let i = 0; i < n; i++) {
      const t = pick(withAttributes);
      const a = pick(t.attributes);
      contextAttributes.push({
        entity: { type: t.name, id: pick(t.ids) },
        attribute: a,
        value: attributeValue(a, random),
      });
    }
  }
  const data: { [k: string]: JsonValue } = readsData ? { min: pick([-1, 0, 2, 4]) } : {};
  return { schema: lines.join('\n'), tuples, attributes, contextTuples, contextAttributes, data };
}
