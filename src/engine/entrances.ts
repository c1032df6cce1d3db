/**
 * Entrances (spec §5.7.1): the schema-level reverse graph used by LookupEntity to find candidates. For a
 * target (T, P) and a source (ST, SR) it lists the places where tuples or attributes of the source can make
 * some entity reach P. Computed with a depth-first walk and a visited set keyed by `type#name`, and memoised
 * per compiled schema (schemas are immutable).
 *
 * Path chains use the walked relation (the spec's recommendation) rather than any relation to the attribute's
 * type.
 */
import type { Child, Schema } from '../schema/model.js';

export interface ChainHop {
  readonly type: string;
  readonly relation: string;
}

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
  /** Holders of `type$attribute` lead to entities through `chain` (first hop starts at the target side). */
  | {
      readonly kind: 'path-chain';
      readonly type: string;
      readonly attribute: string;
      readonly chain: readonly ChainHop[];
    };

const memo = new WeakMap<Schema, Map<string, readonly Entrance[]>>();

export function leavesOf(child: Child, out: Child[] = []): Child[] {
  if (child.kind === 'rewrite') {
    leavesOf(child.children[0], out);
    leavesOf(child.children[1], out);
  } else out.push(child);
  return out;
}

/** Entrances of target (T, P) for source (ST, SR), without duplicates; SR = "" for a plain entity subject. */
export function entrances(
  schema: Schema,
  type: string,
  permission: string,
  sourceType: string,
  sourceRelation: string,
): readonly Entrance[] {
  let bySchema = memo.get(schema);
  if (bySchema === undefined) {
    bySchema = new Map();
    memo.set(schema, bySchema);
  }
  const key = `${type}#${permission}@${sourceType}#${sourceRelation}`;
  let list = bySchema.get(key);
  if (list === undefined) {
    const seen = new Set<string>();
    list = compute(schema, type, permission, sourceType, sourceRelation).filter((e) => {
      const k = JSON.stringify(e);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    bySchema.set(key, list);
  }
  return list;
}

function compute(schema: Schema, t0: string, p0: string, st: string, sr: string): Entrance[] {
  const visited = new Set<string>();
  const rec = (t: string, p: string): Entrance[] => {
    const vk = `${t}#${p}`;
    if (visited.has(vk)) return [];
    visited.add(vk);
    const def = schema.entities.get(t);
    if (def === undefined) return [];
    const out: Entrance[] = [];
    switch (def.references.get(p)) {
      case 'permission': {
        const perm = def.permissions.get(p);
        if (perm === undefined) return out;
        for (const leaf of leavesOf(perm.child)) {
          switch (leaf.kind) {
            case 'computed-user-set':
              if (t === st && leaf.relation === sr) out.push({ kind: 'computed-user-set', type: t, permission: p });
              out.push(...rec(t, leaf.relation));
              break;
            case 'tuple-to-user-set': {
              const rel = def.relations.get(leaf.tupleSet);
              if (rel === undefined) break;
              for (const ref of rel.references) {
                if (ref.type === st && sr === leaf.computed) {
                  out.push({ kind: 'tuple-to-user-set', type: t, permission: p, tupleSet: leaf.tupleSet });
                }
                for (const e of rec(ref.type, leaf.computed)) {
                  if (e.kind === 'path-chain') {
                    out.push({ ...e, chain: [{ type: t, relation: leaf.tupleSet }, ...e.chain] });
                  } else if (e.kind === 'attribute' && e.type !== t) {
                    out.push({
                      kind: 'path-chain',
                      type: e.type,
                      attribute: e.attribute,
                      chain: [{ type: t, relation: leaf.tupleSet }],
                    });
                  } else out.push(e);
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
            case 'rewrite':
              break;
          }
        }
        return out;
      }
      case 'relation': {
        const rel = def.relations.get(p);
        if (rel === undefined) return out;
        for (const ref of rel.references) {
          if (ref.type === st && ref.relation === sr) {
            out.push({ kind: 'relation', type: t, relation: p });
            break;
          }
        }
        for (const ref of rel.references) if (ref.relation !== '') out.push(...rec(ref.type, ref.relation));
        return out;
      }
      case 'attribute':
        out.push({ kind: 'attribute', type: t, attribute: p });
        return out;
      default:
        return out;
    }
  };
  return rec(t0, p0);
}
