/** The model drawn as a graph (Cytoscape): entities as boxes holding their relations, attributes and permissions. */
import { useEffect, useRef } from 'preact/hooks';
import cytoscape from 'cytoscape';
import { gridPositions, schemaGraph, type SchemaDefinition } from './schema-graph.js';

const STYLE: cytoscape.StylesheetJson = [
  {
    selector: 'node',
    style: {
      label: 'data(label)',
      'font-size': 11,
      'text-valign': 'center',
      'text-halign': 'center',
      width: 'label',
      height: 22,
      padding: '6px',
      shape: 'round-rectangle',
      'background-color': '#e2e8f0',
      color: '#0f172a',
    },
  },
  {
    selector: 'node[kind = "entity"]',
    style: {
      'text-valign': 'top',
      'font-weight': 'bold',
      'background-color': '#f8fafc',
      'border-width': 1,
      'border-color': '#64748b',
    },
  },
  { selector: 'node[kind = "relation"]', style: { 'background-color': '#bfdbfe' } },
  { selector: 'node[kind = "attribute"]', style: { 'background-color': '#fde68a' } },
  { selector: 'node[kind = "permission"]', style: { 'background-color': '#bbf7d0' } },
  { selector: 'node[kind = "rule"]', style: { 'background-color': '#f5d0fe', shape: 'hexagon' } },
  {
    selector: 'edge',
    style: {
      width: 1.2,
      'curve-style': 'unbundled-bezier',
      'control-point-distances': [30],
      'control-point-weights': [0.5],
      'target-arrow-shape': 'triangle',
      'arrow-scale': 0.8,
      label: 'data(label)',
      'font-size': 9,
      color: '#475569',
      'line-color': '#94a3b8',
      'target-arrow-color': '#94a3b8',
    },
  },
  {
    selector: 'edge[kind = "walk"]',
    style: { 'line-style': 'dashed', 'line-color': '#16a34a', 'target-arrow-color': '#16a34a' },
  },
  {
    selector: 'edge[kind = "reads"], edge[kind = "calls"]',
    style: { 'line-color': '#a855f7', 'target-arrow-color': '#a855f7' },
  },
];

export function ModelGraph(props: { schema: SchemaDefinition | undefined }) {
  const host = useRef<HTMLDivElement>(null);
  const cy = useRef<cytoscape.Core | null>(null);

  useEffect(() => {
    cy.current = cytoscape({ container: host.current, style: STYLE, wheelSensitivity: 0.3 });
    return () => cy.current?.destroy();
  }, []);

  useEffect(() => {
    const c = cy.current;
    if (!c) return;
    const { nodes, edges } = schemaGraph(props.schema ?? {});
    // Update in place rather than remove-and-re-add: elements re-added under the same id at the same
    // position were left undrawn by Cytoscape's render cache (the model went blank after a re-compile).
    const nodeIds = new Set(nodes.map((n) => n.id));
    const edgeIds = new Set(edges.map((e) => e.id));
    c.batch(() => {
      c.edges()
        .filter((e) => !edgeIds.has(e.id()))
        .remove();
      c.nodes()
        .filter(
          (n) =>
            !nodeIds.has(n.id()) || (n.data('parent') ?? '') !== (nodes.find((m) => m.id === n.id())?.parent ?? ''),
        )
        .remove();
      for (const n of nodes) {
        const data = { id: n.id, label: n.label, kind: n.kind, ...(n.parent ? { parent: n.parent } : {}) };
        const existing = c.getElementById(n.id);
        if (existing.nonempty()) existing.data({ label: n.label, kind: n.kind });
        else c.add({ group: 'nodes', data });
      }
      for (const e of edges) {
        if (c.getElementById(e.id).empty()) {
          c.add({
            group: 'edges',
            data: { id: e.id, source: e.source, target: e.target, kind: e.kind, label: e.label },
          });
        }
      }
    });
    const positions = gridPositions({ nodes });
    c.layout({
      name: 'preset',
      positions,
      padding: 12,
    }).run();
    c.fit(undefined, 12);
    // A small model would be blown up to fill the panel: keep text at a readable size.
    if (c.zoom() > 1.2) {
      c.zoom(1.2);
      c.center();
    }
  }, [props.schema]);

  return (
    <div
      class="graph"
      data-testid="model-graph"
      data-nodes={String(schemaGraph(props.schema ?? {}).nodes.length)}
      ref={host}
    />
  );
}
