/**
 * The schema-level reverse graph ("entrances", spec §5.7.1) used by LookupEntity to find candidate entities.
 *
 * Contract: `entrances(schema, target, source)` lists every place where data about the source — tuples whose
 * subject is `source.type` (with subject relation `source.relation`, "" for a plain entity) or attribute values —
 * can make an entity of `target.type` gain `target.permission`. The list is computed by a depth-first walk with a
 * visited set keyed by `type#name` (fresh per computation), in the walk's deterministic order, without duplicates
 * (the first occurrence wins). An unknown target type or member yields `[]`, never an error. Results are
 * memoised per compiled schema (schemas are immutable; the memo is a WeakMap keyed on the Schema object) and the
 * returned arrays are frozen, so they are safe to share across concurrent requests.
 */
import type { Child, Schema } from './model.js';

/** One hop of a path chain: follow tuples of `type#relation` (from the entity towards its subjects). */
export interface ChainHop {
  readonly type: string;
  readonly relation: string;
}

/**
 * Where a lookup can enter the graph.
 * - `relation`: tuples `type:?#relation@source` directly grant membership of `type#relation`.
 * - `computed-user-set`: the permission `type#permission` names the source's relation on the same type.
 * - `tuple-to-user-set`: `type#permission` walks `tupleSet` to subjects of the source type.
 * - `attribute`: holders of a value of `type$attribute` (bare boolean attribute or rule argument).
 * - `path-chain`: holders of `type$attribute` reach the target through `chain` (first hop starts at the target
 *   type; each hop's relation was the walked relation).
 */
export type Entrance =
  | { readonly kind: 'relation'; readonly type: string; readonly relation: string }
  | { readonly kind: 'computed-user-set'; readonly type: string; readonly permission: string }
  | {
      readonly kind: 'tuple-to-user-set';
      readonly type: string;
      readonly permission: string;
      readonly tupleSet: string;
    }
  | { readonly kind: 'attribute'; readonly type: string; readonly attribute: string }
  | {
      readonly kind: 'path-chain';
      readonly type: string;
      readonly attribute: string;
      readonly chain: readonly ChainHop[];
    };

const memo = new WeakMap<Schema, Map<string, readonly Entrance[]>>();

/** Leaves of an expression, left to right (iterative). */
export function leavesOf(child: Child): Exclude<Child, { kind: 'rewrite' }>[] {
  const out: Exclude<Child, { kind: 'rewrite' }>[] = [];
  const stack: Child[] = [child];
  while (stack.length > 0) {
    const c = stack.pop();
    if (c === undefined) break;
    if (c.kind === 'rewrite') {
      stack.push(c.children[1], c.children[0]);
    } else {
      out.push(c);
    }
  }
  return out;
}

/**
 * Entrances of `target` (an entity type and a permission, relation or attribute name) for `source`.
 * @returns a frozen, memoised list (see the module contract).
 */
export function entrances(
  schema: Schema,
  target: { readonly type: string; readonly permission: string },
  source: { readonly type: string; readonly relation: string },
): readonly Entrance[] {
  let bySchema = memo.get(schema);
  if (bySchema === undefined) {
    bySchema = new Map();
    memo.set(schema, bySchema);
  }
  const key = `${target.type}#${target.permission}@${source.type}#${source.relation}`;
  const cached = bySchema.get(key);
  if (cached !== undefined) return cached;
  const seen = new Set<string>();
  const unique = walk(schema, target.type, target.permission, source.type, source.relation).filter((e) => {
    const k = entranceKey(e);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  const computed = Object.freeze(unique);
  bySchema.set(key, computed);
  return computed;
}

/** A stable identity for de-duplication. */
function entranceKey(e: Entrance): string {
  switch (e.kind) {
    case 'relation':
      return `r ${e.type}#${e.relation}`;
    case 'computed-user-set':
      return `c ${e.type}#${e.permission}`;
    case 'tuple-to-user-set':
      return `t ${e.type}#${e.permission}>${e.tupleSet}`;
    case 'attribute':
      return `a ${e.type}$${e.attribute}`;
    case 'path-chain':
      return `p ${e.type}$${e.attribute}<${e.chain.map((h) => `${h.type}#${h.relation}`).join('<')}`;
  }
}

function walk(schema: Schema, t0: string, p0: string, st: string, sr: string): Entrance[] {
  const visited = new Set<string>();
  const visit = (t: string, p: string): Entrance[] => {
    const key = `${t}#${p}`;
    if (visited.has(key)) return [];
    visited.add(key);
    const entity = schema.entities.get(t);
    if (entity === undefined) return [];
    const out: Entrance[] = [];
    switch (entity.references.get(p)) {
      case 'permission': {
        const permission = entity.permissions.get(p);
        if (permission === undefined) break;
        for (const leaf of leavesOf(permission.child)) {
          switch (leaf.kind) {
            case 'computed-user-set':
              if (t === st && leaf.relation === sr) out.push({ kind: 'computed-user-set', type: t, permission: p });
              out.push(...visit(t, leaf.relation));
              break;
            case 'tuple-to-user-set': {
              const relation = entity.relations.get(leaf.tupleSet);
              if (relation === undefined) break;
              for (const ref of relation.references) {
                if (ref.type === st && sr === leaf.computed) {
                  out.push({ kind: 'tuple-to-user-set', type: t, permission: p, tupleSet: leaf.tupleSet });
                }
                const hop: ChainHop = { type: t, relation: leaf.tupleSet };
                for (const e of visit(ref.type, leaf.computed)) {
                  if (e.kind === 'attribute' && e.type !== t) {
                    out.push({ kind: 'path-chain', type: e.type, attribute: e.attribute, chain: [hop] });
                  } else if (e.kind === 'path-chain') {
                    // The chain is relative to the type that was walked into, so every walk prepends its hop,
                    // also when the chain started on this very type (A -r-> B -s-> A$attr).
                    out.push({ ...e, chain: [hop, ...e.chain] });
                  } else {
                    out.push(e);
                  }
                }
              }
              break;
            }
            case 'computed-attribute':
              out.push({ kind: 'attribute', type: t, attribute: leaf.name });
              break;
            case 'call':
              for (const a of leaf.arguments) out.push({ kind: 'attribute', type: t, attribute: a });
              break;
          }
        }
        break;
      }
      case 'relation': {
        const relation = entity.relations.get(p);
        if (relation === undefined) break;
        if (relation.references.some((r) => r.type === st && r.relation === sr)) {
          out.push({ kind: 'relation', type: t, relation: p });
        }
        for (const r of relation.references) {
          if (r.relation !== '') out.push(...visit(r.type, r.relation));
        }
        break;
      }
      case 'attribute':
        out.push({ kind: 'attribute', type: t, attribute: p });
        break;
      default:
        break;
    }
    return out;
  };
  return visit(t0, p0);
}

/**
 * A place where attribute values (not tuples about a subject) grant a name: every `type` entity holding a value
 * (stored or contextual) of one of `attributes` may have `type#name` for every subject, so LookupEntity seeds its
 * reverse search with those holders as if they were the subjects `type:id#name`.
 */
export interface AttributeSeed {
  readonly type: string;
  /** A permission whose expression has the attribute or rule leaves, or an attribute reached by name. */
  readonly name: string;
  readonly attributes: readonly string[];
}

const seedMemo = new WeakMap<Schema, Map<string, readonly AttributeSeed[]>>();

/**
 * Every attribute seed of `target`: the attribute and rule leaves in positive position (not under the right
 * operand of an exclusion) of the names reachable from `target` through positive leaves, walks and userset
 * relations, in depth-first order, each (type, name) once. A leaf under an exclusion's right operand can never
 * be what makes an entity allowed, so it is no seed. Memoised per compiled schema; frozen.
 */
export function attributeSeeds(
  schema: Schema,
  target: { readonly type: string; readonly permission: string },
): readonly AttributeSeed[] {
  let bySchema = seedMemo.get(schema);
  if (bySchema === undefined) {
    bySchema = new Map();
    seedMemo.set(schema, bySchema);
  }
  const key = `${target.type}#${target.permission}`;
  const cached = bySchema.get(key);
  if (cached !== undefined) return cached;
  const out: AttributeSeed[] = [];
  const visited = new Set<string>();
  const stack: { readonly type: string; readonly name: string }[] = [{ type: target.type, name: target.permission }];
  while (stack.length > 0) {
    const { type, name } = stack.pop() as { type: string; name: string };
    const k = `${type}#${name}`;
    if (visited.has(k)) continue;
    visited.add(k);
    const entity = schema.entities.get(type);
    if (entity === undefined) continue;
    const next: { type: string; name: string }[] = [];
    switch (entity.references.get(name)) {
      case 'permission': {
        const permission = entity.permissions.get(name);
        if (permission === undefined) break;
        const attributes: string[] = [];
        for (const leaf of positiveLeaves(permission.child)) {
          switch (leaf.kind) {
            case 'computed-user-set':
              next.push({ type, name: leaf.relation });
              break;
            case 'tuple-to-user-set':
              for (const ref of entity.relations.get(leaf.tupleSet)?.references ?? []) {
                next.push({ type: ref.type, name: leaf.computed });
              }
              break;
            case 'computed-attribute':
              if (!attributes.includes(leaf.name)) attributes.push(leaf.name);
              break;
            case 'call':
              for (const a of leaf.arguments) if (!attributes.includes(a)) attributes.push(a);
              break;
          }
        }
        if (attributes.length > 0) out.push(Object.freeze({ type, name, attributes: Object.freeze(attributes) }));
        break;
      }
      case 'relation':
        for (const ref of entity.relations.get(name)?.references ?? []) {
          if (ref.relation !== '') next.push({ type: ref.type, name: ref.relation });
        }
        break;
      case 'attribute':
        out.push(Object.freeze({ type, name, attributes: Object.freeze([name]) }));
        break;
      default:
        break;
    }
    // Reversed so that the stack pops them in source order.
    for (let i = next.length - 1; i >= 0; i--) stack.push(next[i] as { type: string; name: string });
  }
  const frozen = Object.freeze(out);
  bySchema.set(key, frozen);
  return frozen;
}

/** Leaves of an expression that are not under the right operand of an exclusion, left to right. */
function positiveLeaves(child: Child): Exclude<Child, { kind: 'rewrite' }>[] {
  const out: Exclude<Child, { kind: 'rewrite' }>[] = [];
  const stack: Child[] = [child];
  while (stack.length > 0) {
    const c = stack.pop() as Child;
    if (c.kind !== 'rewrite') out.push(c);
    else if (c.operation === 'exclusion') stack.push(c.children[0]);
    else stack.push(c.children[1], c.children[0]);
  }
  return out;
}
