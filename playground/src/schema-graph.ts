/**
 * The model graph: nodes and edges drawn from the compiled schema that Schema.Read returns (entity
 * definitions with relations, attributes and permission rewrite trees; rule definitions). Entities are
 * compound nodes holding their relations, attributes and permissions; edges go from a relation to the
 * subject types it allows, and from a permission to every leaf its expression uses: relations and
 * permissions of its own entity, walks (`parent.view`, through the tuple-set relation to the permission on
 * each target type), attributes and rule calls.
 */

export interface GraphNode {
  id: string;
  label: string;
  kind: 'entity' | 'relation' | 'attribute' | 'permission' | 'rule';
  parent?: string;
}
export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  kind: 'allows' | 'uses' | 'walk' | 'reads' | 'calls';
  label: string;
}

interface Leaf {
  computed_user_set?: { relation?: string };
  tuple_to_user_set?: {
    tupleSet?: { relation?: string };
    tuple_set?: { relation?: string };
    computed?: { relation?: string };
  };
  computed_attribute?: { name?: string };
  call?: { rule_name?: string; arguments?: { computed_attribute?: { name?: string } }[] };
}
interface Child {
  leaf?: Leaf;
  rewrite?: { rewrite_operation?: string; children?: Child[] };
}
interface EntityDefinition {
  name: string;
  relations?: Record<string, { name: string; relation_references?: { type: string; relation?: string }[] }>;
  permissions?: Record<string, { name: string; child?: Child }>;
  attributes?: Record<string, { name: string; type?: string }>;
}
export interface SchemaDefinition {
  entity_definitions?: Record<string, EntityDefinition>;
  rule_definitions?: Record<string, { name: string; arguments?: Record<string, string> }>;
}

const memberId = (entity: string, name: string): string => `${entity}#${name}`;

export function schemaGraph(schema: SchemaDefinition): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const ids = new Set<string>();
  const entities = schema.entity_definitions ?? {};
  const addEdge = (source: string, target: string, kind: GraphEdge['kind'], label: string): void => {
    const id = `${kind}:${source}->${target}:${label}`;
    if (ids.has(id) || !ids.has(source) || !ids.has(target)) return;
    ids.add(id);
    edges.push({ id, source, target, kind, label });
  };
  const addNode = (n: GraphNode): void => {
    ids.add(n.id);
    nodes.push(n);
  };
  for (const e of Object.values(entities)) {
    addNode({ id: e.name, label: e.name, kind: 'entity' });
    for (const r of Object.values(e.relations ?? {}))
      addNode({ id: memberId(e.name, r.name), label: r.name, kind: 'relation', parent: e.name });
    for (const a of Object.values(e.attributes ?? {})) {
      const type = (a.type ?? '').replace('ATTRIBUTE_TYPE_', '').toLowerCase().replace('_array', '[]');
      addNode({ id: memberId(e.name, a.name), label: `${a.name}: ${type}`, kind: 'attribute', parent: e.name });
    }
    for (const p of Object.values(e.permissions ?? {}))
      addNode({ id: memberId(e.name, p.name), label: p.name, kind: 'permission', parent: e.name });
  }
  for (const rule of Object.values(schema.rule_definitions ?? {}))
    addNode({ id: `rule:${rule.name}`, label: `rule ${rule.name}`, kind: 'rule' });

  for (const e of Object.values(entities)) {
    for (const r of Object.values(e.relations ?? {})) {
      for (const ref of r.relation_references ?? []) {
        const target = ref.relation ? memberId(ref.type, ref.relation) : ref.type;
        addEdge(
          memberId(e.name, r.name),
          target,
          'allows',
          ref.relation ? `@${ref.type}#${ref.relation}` : `@${ref.type}`,
        );
      }
    }
    for (const p of Object.values(e.permissions ?? {})) {
      const from = memberId(e.name, p.name);
      const visit = (c: Child | undefined): void => {
        if (!c) return;
        for (const child of c.rewrite?.children ?? []) visit(child);
        const leaf = c.leaf;
        if (!leaf) return;
        if (leaf.computed_user_set?.relation)
          addEdge(from, memberId(e.name, leaf.computed_user_set.relation), 'uses', '');
        const ttu = leaf.tuple_to_user_set;
        const tupleSet = ttu?.tupleSet?.relation ?? ttu?.tuple_set?.relation;
        if (ttu && tupleSet) {
          const computed = ttu.computed?.relation ?? '';
          addEdge(from, memberId(e.name, tupleSet), 'walk', `${tupleSet}.${computed}`);
          for (const ref of e.relations?.[tupleSet]?.relation_references ?? []) {
            addEdge(from, memberId(ref.type, computed), 'walk', `${tupleSet}.${computed}`);
          }
        }
        if (leaf.computed_attribute?.name) addEdge(from, memberId(e.name, leaf.computed_attribute.name), 'reads', '');
        if (leaf.call?.rule_name) {
          addEdge(from, `rule:${leaf.call.rule_name}`, 'calls', '');
          for (const arg of leaf.call.arguments ?? []) {
            if (arg.computed_attribute?.name) addEdge(from, memberId(e.name, arg.computed_attribute.name), 'reads', '');
          }
        }
      };
      visit(p.child);
    }
  }
  return { nodes, edges };
}

export interface Position {
  x: number;
  y: number;
}

/** Estimated drawn width of a member node (11px labels, padding included). */
const memberWidth = (label: string): number => Math.max(48, label.length * 6.6 + 16);
const MEMBER_H = 34;
const MEMBERS_PER_ROW = 3;
const GAP = 14;
const CELL_PAD = 70;

/**
 * A deterministic layout: entities on a grid in schema order, each holding its members in rows (relations,
 * then attributes, then permissions), rules in a last row. Force-directed layouts scatter compound nodes
 * and shuffle between schema edits; this keeps an entity where it was while the schema is typed.
 */
export function gridPositions(graph: { nodes: readonly GraphNode[] }): Record<string, Position> {
  const order: Record<GraphNode['kind'], number> = { relation: 0, attribute: 1, permission: 2, entity: 3, rule: 4 };
  const entities = graph.nodes.filter((n) => n.kind === 'entity');
  const members = new Map<string, GraphNode[]>();
  for (const n of graph.nodes) {
    if (n.parent === undefined) continue;
    const list = members.get(n.parent) ?? [];
    list.push(n);
    members.set(n.parent, list);
  }
  // Each entity's members relative to its top-left corner, and the box they need.
  const local = new Map<string, { pos: Record<string, Position>; w: number; h: number }>();
  for (const e of entities) {
    const list = [...(members.get(e.id) ?? [])].sort((a, b) => order[a.kind] - order[b.kind]);
    const pos: Record<string, Position> = {};
    let w = 80;
    let h = MEMBER_H;
    for (let row = 0; row * MEMBERS_PER_ROW < list.length; row++) {
      let x = 0;
      for (const m of list.slice(row * MEMBERS_PER_ROW, (row + 1) * MEMBERS_PER_ROW)) {
        const mw = memberWidth(m.label);
        pos[m.id] = { x: x + mw / 2, y: row * (MEMBER_H + GAP) + MEMBER_H / 2 };
        x += mw + GAP;
      }
      w = Math.max(w, x - GAP);
      h = row * (MEMBER_H + GAP) + MEMBER_H;
    }
    local.set(e.id, { pos, w, h });
  }
  const cols = Math.max(1, Math.ceil(Math.sqrt(entities.length)));
  const cellW = Math.max(0, ...[...local.values()].map((l) => l.w)) + CELL_PAD;
  const out: Record<string, Position> = {};
  let y = 0;
  for (let row = 0; row * cols < entities.length; row++) {
    const rowEntities = entities.slice(row * cols, (row + 1) * cols);
    let rowH = 0;
    rowEntities.forEach((e, col) => {
      const l = local.get(e.id) as { pos: Record<string, Position>; w: number; h: number };
      const x0 = col * cellW;
      // An entity without members is a plain node at its cell's centre.
      out[e.id] = { x: x0 + l.w / 2, y: y + l.h / 2 };
      for (const [id, p] of Object.entries(l.pos)) out[id] = { x: x0 + p.x, y: y + p.y };
      rowH = Math.max(rowH, l.h);
    });
    y += rowH + CELL_PAD;
  }
  graph.nodes
    .filter((n) => n.kind === 'rule')
    .forEach((r, i) => {
      out[r.id] = { x: i * (memberWidth(r.label) + CELL_PAD) + memberWidth(r.label) / 2, y };
    });
  return out;
}
