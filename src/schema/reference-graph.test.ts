import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compileSchema } from '../language/index.js';
import { attributeSeeds, entrances } from './reference-graph.js';

function conformance(name: string) {
  const doc = parse(readFileSync(`/work/shared/conformance/public/${name}.yaml`, 'utf8')) as { schema: string };
  return compileSchema(doc.schema);
}

const schema = compileSchema(`
entity user {}
entity org {
    relation admin @user
    attribute open boolean
    permission public_view = open
}
entity group {
    relation member @user @group#member
}
entity doc {
    relation parent @org
    relation owner @user
    relation viewer @group#member
    attribute limit integer
    permission view = owner or viewer or parent.admin
    permission pub = parent.public_view
    permission pay = within(limit) and owner
}
rule within(limit integer) {
    limit > 3
}
`);

describe('entrances', () => {
  it('direct relations, computed usersets and walks', () => {
    expect(entrances(schema, { type: 'doc', permission: 'view' }, { type: 'user', relation: '' })).toEqual([
      { kind: 'relation', type: 'doc', relation: 'owner' },
      { kind: 'relation', type: 'group', relation: 'member' },
      { kind: 'relation', type: 'org', relation: 'admin' },
    ]);
  });
  it('userset sources emit relation and computed-user-set entrances', () => {
    expect(entrances(schema, { type: 'doc', permission: 'view' }, { type: 'group', relation: 'member' })).toEqual([
      { kind: 'relation', type: 'doc', relation: 'viewer' },
      { kind: 'relation', type: 'group', relation: 'member' },
    ]);
    expect(entrances(schema, { type: 'doc', permission: 'view' }, { type: 'doc', relation: 'owner' })).toEqual([
      { kind: 'computed-user-set', type: 'doc', permission: 'view' },
    ]);
  });
  it('tuple-to-user-set when the source is the walked-to type with the computed name', () => {
    expect(entrances(schema, { type: 'doc', permission: 'view' }, { type: 'org', relation: 'admin' })).toEqual([
      { kind: 'tuple-to-user-set', type: 'doc', permission: 'view', tupleSet: 'parent' },
    ]);
  });
  it('attributes through walks become path chains; rule arguments become attributes', () => {
    expect(entrances(schema, { type: 'doc', permission: 'pub' }, { type: 'user', relation: '' })).toEqual([
      { kind: 'path-chain', type: 'org', attribute: 'open', chain: [{ type: 'doc', relation: 'parent' }] },
    ]);
    expect(entrances(schema, { type: 'doc', permission: 'pay' }, { type: 'user', relation: '' })).toEqual([
      { kind: 'attribute', type: 'doc', attribute: 'limit' },
      { kind: 'relation', type: 'doc', relation: 'owner' },
    ]);
  });
  it('a walk that returns to the attribute type still prefixes the whole chain; no duplicates', () => {
    const s = compileSchema(`
entity user {}
entity a {
    relation r @b
    attribute x boolean
    permission p = r.q
    permission w = x
}
entity b {
    relation s @a
    permission q = s.w or s.w
}
`);
    expect(entrances(s, { type: 'a', permission: 'p' }, { type: 'user', relation: '' })).toEqual([
      {
        kind: 'path-chain',
        type: 'a',
        attribute: 'x',
        chain: [
          { type: 'a', relation: 'r' },
          { type: 'b', relation: 's' },
        ],
      },
    ]);
  });
  it('unknown names give no entrances; results are memoised and frozen', () => {
    expect(entrances(schema, { type: 'doc', permission: 'nope' }, { type: 'user', relation: '' })).toEqual([]);
    expect(entrances(schema, { type: 'nope', permission: 'x' }, { type: 'user', relation: '' })).toEqual([]);
    const a = entrances(schema, { type: 'doc', permission: 'view' }, { type: 'user', relation: '' });
    expect(entrances(schema, { type: 'doc', permission: 'view' }, { type: 'user', relation: '' })).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
  });
  it('terminates on recursive conformance schemas', () => {
    const s = conformance('organizations-hierarchies');
    for (const [type, e] of s.entities) {
      for (const p of e.memberOrder) {
        const list = entrances(s, { type, permission: p }, { type: 'user', relation: '' });
        expect(Array.isArray(list)).toBe(true);
      }
    }
    const groups = conformance('user-groups');
    const list = entrances(groups, { type: 'organization', permission: 'admin' }, { type: 'user', relation: '' });
    expect(list).toContainEqual({ kind: 'relation', type: 'organization', relation: 'admin' });
  });
});

describe('attributeSeeds', () => {
  it('positive attribute and rule leaves of every name reachable through walks and usersets', () => {
    expect(attributeSeeds(schema, { type: 'doc', permission: 'pub' })).toEqual([
      { type: 'org', name: 'public_view', attributes: ['open'] },
    ]);
    expect(attributeSeeds(schema, { type: 'doc', permission: 'pay' })).toEqual([
      { type: 'doc', name: 'pay', attributes: ['limit'] },
    ]);
    expect(attributeSeeds(schema, { type: 'doc', permission: 'view' })).toEqual([]);
  });
  it('leaves under the right operand of an exclusion are no seeds; recursion terminates', () => {
    const s = compileSchema(`
entity user {}
entity folder {
    relation parent @folder
    relation viewer @user
    attribute public boolean
    attribute banned boolean
    permission view = (public or parent.view) not banned
    permission see = viewer not view
}
`);
    expect(attributeSeeds(s, { type: 'folder', permission: 'view' })).toEqual([
      { type: 'folder', name: 'view', attributes: ['public'] },
    ]);
    expect(attributeSeeds(s, { type: 'folder', permission: 'see' })).toEqual([]);
    expect(attributeSeeds(s, { type: 'folder', permission: 'public' })).toEqual([
      { type: 'folder', name: 'public', attributes: ['public'] },
    ]);
  });
});
