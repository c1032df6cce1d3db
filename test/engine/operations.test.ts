/** Expand node shapes, userset subjects in lookups, SubjectPermission errors and cancellation of every operation. */
import { describe, expect, it } from 'vitest';
import { parseEntity, parseSubject, parseTuple } from '../../src/data/notation.js';
import { isPermifyError } from '../../src/errors.js';
import { ctx, fixture, TENANT } from './support.js';

const schema = `
entity user {}
entity group {
    relation member @user @group#member
}
entity doc {
    relation viewer @user @group#member
    relation owner @user
    attribute open boolean
    attribute tags string[]
    permission view = viewer or open
    permission edit = owner
    permission tagged = has_tag(tags)
}
rule has_tag(tags string[]) {
    'x' in tags
}`;

describe('expand', async () => {
  const f = await fixture(
    schema,
    ['doc:1#viewer@user:b', 'doc:1#viewer@user:a', 'doc:1#viewer@group:g#member'],
    ['doc:1$tags|string[]:x,y'],
  );
  const expand = (entity: string, permission: string, context?: Parameters<typeof ctx>[0], args?: string[]) =>
    f.engine.expand({
      tenantId: TENANT,
      metadata: {},
      entity: parseEntity(entity),
      permission,
      context: ctx(context),
      arguments: args,
    });

  it('relation leaves: stored subjects sorted, then contextual ones in request order, `...` kept', async () => {
    const { tree } = await expand('doc:2', 'viewer', { tuples: ['doc:2#viewer@user:z', 'doc:2#viewer@user:c#...'] });
    expect(tree.leaf).toEqual({
      kind: 'subjects',
      subjects: [
        { type: 'user', id: 'z', relation: '' },
        { type: 'user', id: 'c', relation: '...' },
      ],
    });
    const one = await expand('doc:1', 'viewer');
    expect(one.tree.expand?.children.at(-1)?.leaf).toEqual({
      kind: 'subjects',
      subjects: [
        { type: 'user', id: 'a', relation: '' },
        { type: 'user', id: 'b', relation: '' },
        { type: 'group', id: 'g', relation: 'member' },
      ],
    });
    expect(one.tree.expand?.children[0]).toEqual({
      entity: { type: 'group', id: 'g' },
      permission: 'member',
      arguments: [],
      leaf: { kind: 'subjects', subjects: [] },
    });
  });
  it('attribute leaves: contextual first, missing shows boolean false', async () => {
    expect((await expand('doc:1', 'open')).tree.leaf).toEqual({
      kind: 'value',
      value: { type: 'boolean', value: false },
    });
    expect((await expand('doc:1', 'open', { attributes: ['doc:1$open|boolean:true'] })).tree.leaf).toEqual({
      kind: 'value',
      value: { type: 'boolean', value: true },
    });
  });
  it('rule leaves show argument values (defaults when missing), also when the request names the rule', async () => {
    const t = await expand('doc:1', 'tagged');
    expect(t.tree.permission).toBe('has_tag');
    expect(t.tree.arguments).toEqual(['tags']);
    expect(t.tree.leaf?.kind === 'values' && Object.fromEntries(t.tree.leaf.values)).toEqual({
      tags: { type: 'string[]', value: ['x', 'y'] },
    });
    const d = await expand('doc:9', 'has_tag', undefined, ['tags']);
    expect(d.tree.leaf?.kind === 'values' && Object.fromEntries(d.tree.leaf.values)).toEqual({
      tags: { type: 'string[]', value: [] },
    });
  });
  it('unknown names and types fail', async () => {
    await expect(expand('doc:1', 'nope')).rejects.toMatchObject({ code: 'ERROR_CODE_SCHEMA_NOT_FOUND' });
    await expect(expand('nope:1', 'view')).rejects.toMatchObject({ code: 'ERROR_CODE_SCHEMA_NOT_FOUND' });
  });
});

describe('lookups with userset subjects and contextual data', async () => {
  const f = await fixture(schema, [
    'doc:1#viewer@group:g#member',
    'doc:2#viewer@group:h#member',
    'group:h#member@group:g#member',
    'doc:3#viewer@user:u',
  ]);
  it('a userset subject finds entities through nested usersets', async () => {
    expect(await f.lookupEntity('doc', 'view', 'group:g#member')).toEqual(['1', '2']);
    expect(await f.lookupEntity('group', 'member', 'group:g#member')).toEqual(['g', 'h']);
  });
  it('contextual tuples and attributes create candidates', async () => {
    expect(
      await f.lookupEntity('doc', 'view', 'user:u', {
        context: { tuples: ['doc:7#viewer@user:u'], attributes: ['doc:5$open|boolean:true'] },
      }),
    ).toEqual(['3', '5', '7']);
  });
  it('lookupSubject with a userset reference', async () => {
    expect(await f.lookupSubject('doc:2', 'viewer', 'group#member')).toEqual(['h']);
  });
});

describe('subjectPermission', async () => {
  const f = await fixture(schema, ['doc:1#owner@user:o']);
  it('unknown entity type fails; rule errors fail the whole request', async () => {
    await expect(
      f.engine.subjectPermission({
        tenantId: TENANT,
        metadata: { depth: 10 },
        entity: parseEntity('nope:1'),
        subject: parseSubject('user:o'),
      }),
    ).rejects.toMatchObject({ code: 'ERROR_CODE_SCHEMA_NOT_FOUND' });
    const g = await fixture(schema.replace("'x' in tags", "context.data.k == 'x'"), []);
    await expect(
      g.engine.subjectPermission({
        tenantId: TENANT,
        metadata: { depth: 10 },
        entity: parseEntity('doc:1'),
        subject: parseSubject('user:o'),
      }),
    ).rejects.toMatchObject({ code: 'ERROR_CODE_INVALID_ARGUMENT' });
  });
  it('entity without relations or permissions yields an empty map', async () => {
    const r = await f.engine.subjectPermission({
      tenantId: TENANT,
      metadata: { depth: 10 },
      entity: parseEntity('user:o'),
      subject: parseSubject('user:o'),
    });
    expect(r.results.size).toBe(0);
  });
});

describe('cancellation', async () => {
  const f = await fixture(schema, ['doc:1#viewer@user:u']);
  const aborted = (): AbortSignal => {
    const ac = new AbortController();
    ac.abort();
    return ac.signal;
  };
  const cancelled = (e: unknown): boolean =>
    isPermifyError(e) && (e.code === 'ERROR_CODE_CANCELLED' || e.code === 'DEADLINE_EXCEEDED');
  it('every operation honours an aborted signal', async () => {
    const md = { depth: 10 };
    const attempts: Promise<unknown>[] = [
      f.engine.bulkCheck(
        {
          tenantId: TENANT,
          metadata: md,
          items: [{ entity: parseEntity('doc:1'), permission: 'view', subject: parseSubject('user:u') }],
        },
        aborted(),
      ),
      f.engine.lookupEntity(
        { tenantId: TENANT, metadata: md, entityType: 'doc', permission: 'view', subject: parseSubject('user:u') },
        aborted(),
      ),
      f.engine.lookupSubject(
        {
          tenantId: TENANT,
          metadata: md,
          entity: parseEntity('doc:1'),
          permission: 'view',
          subjectReference: { type: 'user', relation: '' },
        },
        aborted(),
      ),
      f.engine.subjectPermission(
        { tenantId: TENANT, metadata: md, entity: parseEntity('doc:1'), subject: parseSubject('user:u') },
        aborted(),
      ),
      f.engine.expand({ tenantId: TENANT, metadata: {}, entity: parseEntity('doc:1'), permission: 'view' }, aborted()),
      (async () => {
        for await (const _ of f.engine.lookupEntityStream(
          { tenantId: TENANT, metadata: md, entityType: 'doc', permission: 'view', subject: parseSubject('user:u') },
          aborted(),
        ));
      })(),
    ];
    for (const a of attempts) await expect(a).rejects.toSatisfy(cancelled);
  });
  it('contextual tuple parsing helper keeps `...`', () => {
    expect(parseTuple('doc:1#viewer@user:c#...').subject.relation).toBe('...');
  });
});
