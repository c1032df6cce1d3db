/**
 * The model graph drawn from Schema.Read's compiled schema (run against the real server for the input):
 * nodes for entities and their members and rules, edges for allowed subjects, uses, walks, attribute reads
 * and rule calls; and a grid layout in which no two member nodes overlap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gridPositions, schemaGraph, type SchemaDefinition } from '../../playground/src/schema-graph.js';
import type { RunningServer } from '../../src/server.js';
import { request } from '../e2e/rest-support.js';
import { startPlaygroundServer } from './support.js';

const SCHEMA = `entity user {}
entity folder {
  relation owner @user
  permission view = owner
}
entity doc {
  relation parent @folder
  relation viewer @user @folder#owner
  attribute public boolean
  permission view = (viewer or parent.view) and open(public)
}
rule open(public boolean) {
  public
}`;

describe('model graph', () => {
  let server: RunningServer;
  let schema: SchemaDefinition;
  beforeAll(async () => {
    server = await startPlaygroundServer();
    const port = server.ports.http as number;
    const w = await request(port, 'POST', '/v1/tenants/t1/schemas/write', { schema: SCHEMA });
    expect(w.status).toBe(200);
    schema = (
      (await request(port, 'POST', '/v1/tenants/t1/schemas/read', { metadata: { schema_version: '' } })).json as {
        schema: SchemaDefinition;
      }
    ).schema;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('has the entities, members, rules and every kind of edge', () => {
    const g = schemaGraph(schema);
    expect(g.nodes.map((n) => `${n.kind} ${n.id}`).sort()).toEqual(
      [
        'entity user',
        'entity folder',
        'relation folder#owner',
        'permission folder#view',
        'entity doc',
        'relation doc#parent',
        'relation doc#viewer',
        'attribute doc#public',
        'permission doc#view',
        'rule rule:open',
      ].sort(),
    );
    expect(g.edges.map((e) => `${e.kind} ${e.source} -> ${e.target} ${e.label}`.trim()).sort()).toEqual(
      [
        'allows folder#owner -> user @user',
        'uses folder#view -> folder#owner',
        'allows doc#parent -> folder @folder',
        'allows doc#viewer -> user @user',
        'allows doc#viewer -> folder#owner @folder#owner',
        'uses doc#view -> doc#viewer',
        'walk doc#view -> doc#parent parent.view',
        'walk doc#view -> folder#view parent.view',
        'calls doc#view -> rule:open',
        'reads doc#view -> doc#public',
      ].sort(),
    );
  });

  it('lays members out inside their entity without overlaps', () => {
    const g = schemaGraph(schema);
    const pos = gridPositions(g);
    const members = g.nodes.filter((n) => n.parent !== undefined);
    for (const n of g.nodes) expect(pos[n.id], n.id).toBeDefined();
    for (const a of members) {
      for (const b of members) {
        if (a.id >= b.id) continue;
        const pa = pos[a.id] as { x: number; y: number };
        const pb = pos[b.id] as { x: number; y: number };
        // Same row: centres at least half of both widths apart; other rows: a row apart.
        const apart = Math.abs(pa.y - pb.y) >= 34 || Math.abs(pa.x - pb.x) >= 48;
        expect(apart, `${a.id} / ${b.id}`).toBe(true);
      }
    }
  });
});
