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
