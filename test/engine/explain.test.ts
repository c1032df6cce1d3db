/**
 * Explain (issue 14): the proof tree recorded by the Check evaluator, against the real memory store. Each case
 * also asserts that explain's answer equals Check's.
 */
import { describe, expect, it } from 'vitest';
import { parseEntity, parseSubject } from '../../src/data/notation.js';
import type { TraceNode } from '../../src/engine/explain-trace.js';
import type { ExplainResponse } from '../../src/engine/types.js';
import { ctx, fixture, TENANT, type CallOptions, type Fixture } from './support.js';

const schema = `
entity user {}
entity group {
    relation member @user @group#member
}
entity folder {
    relation parent @folder
    relation owner @user
    relation viewer @user @group#member
    attribute public boolean
    permission view = owner or viewer or public or parent.view
}
entity doc {
    relation parent @folder
    relation owner @user
    relation editor @user @group#member
    relation banned @user
    attribute level integer
    permission edit = owner and editor
    permission view = (owner or editor or parent.view) not banned
    permission high = is_high(level)
    permission loop_a = loop_b
    permission loop_b = loop_a
}
rule is_high(level integer) {
    level > context.data.min
}`;

const data = [
  'doc:1#parent@folder:a',
  'doc:1#owner@user:o',
  'doc:1#editor@group:g#member',
  'group:g#member@user:m',
  'folder:a#parent@folder:b',
  'folder:b#viewer@user:v',
  'folder:c#parent@folder:d',
  'folder:d#parent@folder:c',
  'doc:1#banned@user:b',
  'folder:a#viewer@user:b',
];

async function explain(f: Fixture, entity: string, permission: string, subject: string, opts: CallOptions = {}) {
  const req = {
    tenantId: TENANT,
    metadata: { depth: opts.depth ?? 20, snapToken: opts.snapToken ?? '' },
    entity: parseEntity(entity),
    permission,
    subject: parseSubject(subject),
    context: ctx(opts.context),
    arguments: opts.arguments,
  };
  const r = await f.engine.explain(req);
  // Explain and Check agree, including on errors.
  const c = await f.outcome(entity, permission, subject, opts);
  expect(r.can ?? r.error?.code).toBe(c);
  return r;
}

/** Depth-first search for the first node matching `pred`. */
function find(n: TraceNode, pred: (n: TraceNode) => boolean): TraceNode | undefined {
  if (pred(n)) return n;
  for (const c of n.children) {
    const hit = find(c, pred);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

function names(r: ExplainResponse): string[] {
  const out: string[] = [];
  const walk = (n: TraceNode, d: number): void => {
    out.push(`${'  '.repeat(d)}${n.kind} ${n.entity.type}:${n.entity.id} ${n.name} ${n.outcome}`);
    for (const c of n.children) walk(c, d + 1);
  };
  walk(r.root, 0);
  return out;
}

describe('explain', () => {
  it('an allowed walk: the tuples followed and the tuple that grants it', async () => {
    const f = await fixture(schema, data);
    const r = await explain(f, 'folder:a', 'view', 'user:v');
    expect(r.can).toBe('allowed');
    expect(r.metadata.snapToken).toBe(f.token);
    expect(r.metadata.schemaVersion).toBe(f.version);
    expect(r.metadata.depth).toBe(20);
    expect(r.metadata.checkCount).toBeGreaterThan(0);
    expect(r.root).toMatchObject({ kind: 'permission', name: 'view', outcome: 'allowed' });
    expect(r.root.expression).toBe('owner or viewer or public or parent.view');
    const union = r.root.children[0] as TraceNode;
    expect(union.kind).toBe('union');
    // Operands in source order; the walk was evaluated last (cheap leaves first) and decided.
    expect(union.children.map((c) => c.kind)).toEqual(['relation', 'relation', 'attribute', 'walk']);
    const w = union.children[3] as TraceNode;
    expect(w).toMatchObject({ name: 'parent', expression: 'parent.view', outcome: 'allowed' });
    expect(w.tuples.map((t) => t.tuple.subject.id)).toEqual(['b']);
    const hit = find(r.root, (n) => n.kind === 'subject');
    expect(hit?.tuples[0]?.tuple).toEqual({
      entity: { type: 'folder', id: 'b' },
      relation: 'viewer',
      subject: { type: 'user', id: 'v', relation: '' },
    });
    expect(hit?.tuples[0]?.contextual).toBe(false);
    const attr = find(r.root, (n) => n.kind === 'attribute' && n.entity.id === 'a');
    expect(attr?.attributes).toEqual([
      { entity: { type: 'folder', id: 'a' }, attribute: 'public', value: undefined, contextual: false },
    ]);
  });

  it('a denial names the leaves that would have had to hold', async () => {
    const f = await fixture(schema, data);
    const r = await explain(f, 'folder:b', 'view', 'user:x');
    expect(r.can).toBe('denied');
    expect(r.root.outcome).toBe('denied');
    expect(r.root.missing).toEqual([
      'folder:b#owner@user:x',
      'folder:b#viewer@user:x',
      'folder:b$public|boolean:true',
      'folder:b#parent@folder:<id>',
    ]);
  });

  it('short-circuit: operands a union never ran are SKIPPED', async () => {
    const f = await fixture(schema, data);
    const r = await explain(f, 'doc:1', 'edit', 'user:x');
    expect(r.can).toBe('denied');
    const and = r.root.children[0] as TraceNode;
    expect(and.kind).toBe('intersection');
    expect(and.children.map((c) => c.outcome)).toEqual(['denied', 'skipped']);
    // A skipped operand still says what it is.
    expect(and.children[1]).toMatchObject({ kind: 'relation', name: 'editor', expression: '@user @group#member' });
    expect(r.root.missing).toEqual(['doc:1#owner@user:x']);
  });

  it('userset subjects: the group membership that grants it', async () => {
    const f = await fixture(schema, data);
    const r = await explain(f, 'doc:1', 'view', 'user:m');
    expect(r.can).toBe('allowed');
    const editor = find(r.root, (n) => n.kind === 'relation' && n.name === 'editor');
    expect(editor?.tuples.map((t) => t.tuple.subject)).toEqual([{ type: 'group', id: 'g', relation: 'member' }]);
    expect(editor?.children[0]).toMatchObject({ kind: 'relation', name: 'member', outcome: 'allowed' });
  });

  it('exclusion: denied because the excluded side holds', async () => {
    const f = await fixture(schema, data);
    const r = await explain(f, 'doc:1', 'view', 'user:b');
    expect(r.can).toBe('denied');
    const not = r.root.children[0] as TraceNode;
    expect(not.kind).toBe('exclusion');
    expect(not.children.map((c) => c.outcome)).toEqual(['allowed', 'allowed']);
    expect(not.note).toBe('excluded: banned holds');
    expect(r.root.missing).toEqual([]);
  });

  it('a rule with context: arguments, the context.data it read, and the result', async () => {
    const f = await fixture(schema, data, ['doc:1$level|integer:7']);
    const allowed = await explain(f, 'doc:1', 'high', 'user:x', { context: { data: { min: 5, other: 1 } } });
    expect(allowed.can).toBe('allowed');
    const call = allowed.root.children[0] as TraceNode;
    expect(call).toMatchObject({ kind: 'rule-call', name: 'is_high', outcome: 'allowed' });
    expect(call.rule).toEqual({
      name: 'is_high',
      arguments: { level: 7 },
      contextData: { min: 5 },
      result: true,
      error: '',
    });
    expect(call.attributes[0]).toMatchObject({ attribute: 'level', value: { type: 'integer', value: 7 } });
    const denied = await explain(f, 'doc:1', 'high', 'user:x', { context: { data: { min: 9 } } });
    expect(denied.can).toBe('denied');
    expect((denied.root.children[0] as TraceNode).rule?.result).toBe(false);
  });

  it('a rule evaluation error is explained where it happened', async () => {
    const f = await fixture(schema, data, ['doc:1$level|integer:7']);
    const r = await explain(f, 'doc:1', 'high', 'user:x');
    expect(r.can).toBeUndefined();
    expect(r.error?.code).toBe('ERROR_CODE_INVALID_ARGUMENT');
    const call = r.root.children[0] as TraceNode;
    expect(call.outcome).toBe('error');
    expect(call.rule?.error).not.toBe('');
    expect(call.note).toBe(call.rule?.error);
  });

  it('contextual tuples and attributes are marked contextual', async () => {
    const f = await fixture(schema, data);
    const r = await explain(f, 'folder:z', 'view', 'user:q', {
      context: { tuples: ['folder:z#parent@folder:y'], attributes: ['folder:y$public|boolean:true'] },
    });
    expect(r.can).toBe('allowed');
    const w = find(r.root, (n) => n.kind === 'walk');
    expect(w?.tuples).toEqual([
      {
        tuple: {
          entity: { type: 'folder', id: 'z' },
          relation: 'parent',
          subject: { type: 'folder', id: 'y', relation: '' },
        },
        contextual: true,
      },
    ]);
    const pub = find(r.root, (n) => n.kind === 'attribute' && n.entity.id === 'y');
    expect(pub?.attributes[0]).toMatchObject({ contextual: true, value: { type: 'boolean', value: true } });
  });

  it('depth exhaustion on cyclic data shows the cycle', async () => {
    const f = await fixture(schema, data);
    const r = await explain(f, 'folder:c', 'view', 'user:x', { depth: 8 });
    expect(r.can).toBeUndefined();
    expect(r.error?.code).toBe('ERROR_CODE_DEPTH_NOT_ENOUGH');
    expect(r.root.outcome).toBe('depth-exhausted');
    const cycle = find(r.root, (n) => n.outcome === 'cycle');
    expect(cycle?.note).toMatch(/^cycle: folder:(c|d)#view -> folder:(c|d)#view -> folder:(c|d)#view/);
  });

  it('depth exhaustion on a permission cycle of the schema', async () => {
    const f = await fixture(schema, data);
    const r = await explain(f, 'doc:1', 'loop_a', 'user:x', { depth: 5 });
    expect(r.error?.code).toBe('ERROR_CODE_DEPTH_NOT_ENOUGH');
    expect(find(r.root, (n) => n.outcome === 'cycle')?.note).toContain('doc:1#loop_a -> doc:1#loop_b -> doc:1#loop_a');
  });

  it('depth exhaustion without a cycle shows the path', async () => {
    const f = await fixture(schema, data);
    const r = await explain(f, 'doc:1', 'view', 'user:zz', { depth: 2 });
    expect(r.error?.code).toBe('ERROR_CODE_DEPTH_NOT_ENOUGH');
    const leaf = find(r.root, (n) => n.outcome === 'depth-exhausted' && n.note !== '');
    expect(leaf?.note).toMatch(/^depth exhausted: doc:1#view -> /);
  });

  it('a tree above service.permission.max_explain_nodes fails naming the limit (Check is unaffected)', async () => {
    const f = await fixture(schema, data, [], { maxExplainNodes: 5 });
    const req = {
      tenantId: TENANT,
      metadata: { depth: 20 },
      entity: parseEntity('folder:a'),
      permission: 'view',
      subject: parseSubject('user:v'),
    };
    await expect(f.engine.explain(req)).rejects.toThrow(/service\.permission\.max_explain_nodes=5/);
    expect((await f.engine.check(req)).can).toBe('allowed');
    const roomy = await fixture(schema, data, [], { maxExplainNodes: 100 });
    expect((await roomy.engine.explain(req)).can).toBe('allowed');
  });

  it('marks the root Check would have answered from the cache, and still evaluates', async () => {
    const f = await fixture(schema, data, [], { checkCacheSize: 100 });
    const first = await f.engine.explain({
      tenantId: TENANT,
      metadata: { depth: 20 },
      entity: parseEntity('folder:a'),
      permission: 'view',
      subject: parseSubject('user:v'),
    });
    expect(first.root.cached).toBe(false);
    await f.check('folder:a', 'view', 'user:v');
    const second = await f.engine.explain({
      tenantId: TENANT,
      metadata: { depth: 20 },
      entity: parseEntity('folder:a'),
      permission: 'view',
      subject: parseSubject('user:v'),
    });
    expect(second.root.cached).toBe(true);
    expect(names(second)).toEqual(names(first));
  });
});
