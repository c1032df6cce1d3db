/**
 * Tenant isolation over every base.v1 RPC, on both stores, through the real server (`startServer`, port 0)
 * and the official client: two tenants with the same schema shape and overlapping ids hold different data,
 * and nothing one tenant does or reads ever shows the other's schemas, versions, data, bundles or changes.
 * Then one tenant is deleted and re-created: nothing of its old incarnation is visible, also not through
 * old schema versions and snap tokens whose answers the engine had cached.
 */
import { setMaxListeners } from 'node:events';
import * as permify from '@permify/permify-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { createTestDatabase, stopSharedServer, type TestDatabase } from '../support/postgres.js';

const base = permify.grpc.base;
const { CHECK_RESULT_ALLOWED: ALLOWED, CHECK_RESULT_DENIED: DENIED } = base.CheckResult;
type Client = ReturnType<typeof permify.grpc.newClient>;

const A = 'iso-a';
const B = 'iso-b';

/** Same shape in both tenants; each also has one entity of its own, to see whose schema answers. */
const schemaOf = (own: string): string => `
entity user {}
entity ${own} {}
entity doc {
    relation owner @user
    relation viewer @user
    attribute public boolean
    permission view = owner or viewer or public
}
`;

const user = (id: string) => ({ type: 'user', id, relation: '' });
const doc = (id: string) => ({ type: 'doc', id });
const tuple = (id: string, relation: string, subject: string) => ({
  entity: doc(id),
  relation,
  subject: user(subject),
});
const booleanAny = (value: boolean) => ({
  typeUrl: 'type.googleapis.com/base.v1.BooleanValue',
  value: Buffer.from(base.BooleanValue.encode({ data: value }).finish()),
});
const md = (extra: Record<string, unknown> = {}) => ({ schemaVersion: '', snapToken: '', depth: 20, ...extra });

/** Each tenant's data: overlapping ids, different owners. */
const data = {
  [A]: { tuples: [tuple('1', 'owner', 'alice'), tuple('2', 'viewer', 'bob')], publicDoc: '5' },
  [B]: { tuples: [tuple('1', 'owner', 'bob'), tuple('3', 'viewer', 'alice')], publicDoc: '4' },
} as const;

async function statusOf(p: Promise<unknown>): Promise<{ code: number; details: string } | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e as { code: number; details: string };
  }
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of stream) out.push(x);
  return out;
}

describe.each(['memory', 'postgres'] as const)('tenant isolation (%s store)', (engine) => {
  let server: RunningServer;
  let client: Client;
  let db: TestDatabase | undefined;
  const versions: Record<string, string> = {};
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    if (engine === 'postgres') db = await createTestDatabase();
    const { config } = loadConfig({
      env: {},
      cwd: '/nonexistent',
      flags: {
        account_id: 'test',
        'server.grpc.port': 0,
        'server.http.enabled': false,
        'server.rate_limit': 0,
        'server.shutdown_timeout': '2s',
        'service.watch.enabled': true,
        'database.engine': engine,
        ...(db ? { 'database.uri': db.uri, 'database.max_open_connections': 8 } : {}),
      },
    });
    server = await startServer(config, { logger: createLogger({ level: 'silent', output: 'json' }) });
    client = permify.grpc.newClient({
      endpoint: `127.0.0.1:${server.ports.grpc}`,
      cert: null,
      pk: null,
      certChain: null,
      insecure: true,
    });
    for (const t of [A, B] as const) {
      await client.tenancy.create({ id: t, name: t });
      versions[t] = (
        await client.schema.write({ tenantId: t, schema: schemaOf(t === A ? 'only_a' : 'only_b') })
      ).schemaVersion;
      const d = data[t];
      tokens[t] = (
        await client.data.write({
          tenantId: t,
          metadata: { schemaVersion: '' },
          tuples: [...d.tuples],
          attributes: [{ entity: doc(d.publicDoc), attribute: 'public', value: booleanAny(true) }],
        })
      ).snapToken;
      await client.bundle.write({
        tenantId: t,
        bundles: [
          {
            name: `own-${t}`,
            arguments: ['id'],
            operations: [
              {
                relationshipsWrite: [`doc:{{.id}}#viewer@user:${t}`],
                relationshipsDelete: [],
                attributesWrite: [],
                attributesDelete: [],
              },
            ],
          },
        ],
      });
    }
  }, 30_000);

  afterAll(async () => {
    await server?.close();
    await db?.drop();
    if (db) await stopSharedServer();
  });

  /** What tenant `t` must answer, computed from its own data only. */
  const viewers = (t: string, id: string): string[] =>
    data[t as keyof typeof data].tuples.filter((x) => x.entity.id === id).map((x) => x.subject.id);

  it('Permission RPCs answer from the tenant own data only', async () => {
    for (const [t, other] of [
      [A, B],
      [B, A],
    ] as const) {
      const own = data[t];
      const theirs = data[other];
      for (const x of [...own.tuples, ...theirs.tuples]) {
        const mine = own.tuples.some((y) => y.entity.id === x.entity.id && y.subject.id === x.subject.id);
        const res = await client.permission.check({
          tenantId: t,
          metadata: md(),
          entity: x.entity,
          permission: 'view',
          subject: x.subject,
          context: undefined,
          arguments: [],
        });
        expect(res.can, `${t}: ${x.entity.id}@${x.subject.id}`).toBe(
          mine || x.entity.id === own.publicDoc ? ALLOWED : DENIED,
        );
      }
      // The other tenant's public document is not public here.
      const pub = await client.permission.check({
        tenantId: t,
        metadata: md(),
        entity: doc(theirs.publicDoc),
        permission: 'view',
        subject: user('zed'),
        context: undefined,
        arguments: [],
      });
      expect(pub.can).toBe(DENIED);

      const bulk = await client.permission.bulkCheck({
        tenantId: t,
        metadata: md(),
        items: theirs.tuples.map((x) => ({ entity: x.entity, permission: 'view', subject: x.subject })),
      });
      expect(bulk.results.map((r) => r.can)).toEqual(
        theirs.tuples.map((x) => (viewers(t, x.entity.id).includes(x.subject.id) ? ALLOWED : DENIED)),
      );

      const tree = await client.permission.expand({
        tenantId: t,
        metadata: { schemaVersion: '', snapToken: '' },
        entity: doc('1'),
        permission: 'view',
        arguments: [],
      });
      const text = JSON.stringify(tree);
      for (const s of viewers(t, '1')) expect(text).toContain(`"${s}"`);
      for (const s of viewers(other, '1')) if (!viewers(t, '1').includes(s)) expect(text).not.toContain(`"${s}"`);

      for (const who of ['alice', 'bob']) {
        const expected = ['1', '2', '3', '4', '5']
          .filter((id) => viewers(t, id).includes(who) || id === own.publicDoc)
          .sort();
        const lookup = await client.permission.lookupEntity({
          tenantId: t,
          metadata: md(),
          entityType: 'doc',
          permission: 'view',
          subject: user(who),
        });
        expect([...lookup.entityIds].sort(), `${t} lookup ${who}`).toEqual(expected);
        const streamed = await collect(
          client.permission.lookupEntityStream({
            tenantId: t,
            metadata: md(),
            entityType: 'doc',
            permission: 'view',
            subject: user(who),
          }),
        );
        expect(streamed.map((x) => x.entityId).sort()).toEqual(expected);
      }

      for (const id of ['1', '2', '3']) {
        const subjects = await client.permission.lookupSubject({
          tenantId: t,
          metadata: md(),
          entity: doc(id),
          permission: 'view',
          subjectReference: { type: 'user', relation: '' },
        });
        expect([...subjects.subjectIds].sort(), `${t} subjects of ${id}`).toEqual(viewers(t, id).sort());
      }

      const sp = await client.permission.subjectPermission({
        tenantId: t,
        metadata: { schemaVersion: '', snapToken: '', onlyPermission: true, depth: 20 },
        entity: doc('1'),
        subject: user(viewers(other, '1')[0] as string),
      });
      expect(sp.results['view']).toBe(DENIED);
    }
  });

  it('Schema RPCs see only the tenant own versions', async () => {
    for (const [t, other] of [
      [A, B],
      [B, A],
    ] as const) {
      const read = await client.schema.read({ tenantId: t, metadata: { schemaVersion: '' } });
      const names = Object.keys(read.schema?.entityDefinitions ?? {});
      expect(names).toContain(t === A ? 'only_a' : 'only_b');
      expect(names).not.toContain(t === A ? 'only_b' : 'only_a');
      // The other tenant's version id names nothing here (an unknown version reads as an empty schema, as in
      // Permify).
      const foreign = await client.schema.read({ tenantId: t, metadata: { schemaVersion: versions[other] as string } });
      expect(Object.keys(foreign.schema?.entityDefinitions ?? {})).toEqual([]);
      const list = await client.schema.list({ tenantId: t, pageSize: 100, continuousToken: '' });
      expect(list.schemas.map((s) => s.version)).not.toContain(versions[other]);
    }
    const beforeB = await client.schema.list({ tenantId: B, pageSize: 100, continuousToken: '' });
    const partial = await client.schema.partialWrite({
      tenantId: A,
      metadata: { schemaVersion: '' },
      partials: { doc: { write: ['relation editor @user'], update: [], delete: [] } },
    });
    const afterB = await client.schema.list({ tenantId: B, pageSize: 100, continuousToken: '' });
    expect(afterB).toEqual(beforeB);
    expect(afterB.schemas.map((s) => s.version)).not.toContain(partial.schemaVersion);
    const headB = await client.schema.read({ tenantId: B, metadata: { schemaVersion: '' } });
    expect(Object.keys(headB.schema?.entityDefinitions['doc']?.relations ?? {})).not.toContain('editor');
    // The other tenant's version cannot be used to write or check either.
    expect(
      (
        await statusOf(
          client.data.write({
            tenantId: B,
            metadata: { schemaVersion: partial.schemaVersion },
            tuples: [tuple('9', 'owner', 'x')],
          }),
        )
      )?.code,
    ).toBe(5);
  });

  it('Data and Bundle RPCs read and change the tenant own data only', async () => {
    const tuplesOf = async (t: string) =>
      (
        await client.data.readRelationships({
          tenantId: t,
          metadata: { snapToken: '' },
          filter: { entity: { type: 'doc', ids: [] }, relation: '', subject: undefined },
          pageSize: 100,
          continuousToken: '',
        })
      ).tuples
        .map((x) => `${x.entity?.id}#${x.relation}@${x.subject?.id}`)
        .sort();
    const attributesOf = async (t: string) =>
      (
        await client.data.readAttributes({
          tenantId: t,
          metadata: { snapToken: '' },
          filter: { entity: { type: 'doc', ids: [] }, attributes: [] },
          pageSize: 100,
          continuousToken: '',
        })
      ).attributes
        .map((x) => x.entity?.id)
        .sort();
    const bTuples = await tuplesOf(B);
    const bAttributes = await attributesOf(B);
    expect(bTuples).toEqual(data[B].tuples.map((x) => `${x.entity.id}#${x.relation}@${x.subject.id}`).sort());
    expect(await tuplesOf(A)).toEqual(data[A].tuples.map((x) => `${x.entity.id}#${x.relation}@${x.subject.id}`).sort());
    expect(bAttributes).toEqual([data[B].publicDoc]);
    expect(await attributesOf(A)).toEqual([data[A].publicDoc]);

    // Every write RPC on A, with ids that also exist in B.
    await client.data.writeRelationships({
      tenantId: A,
      metadata: { schemaVersion: '' },
      tuples: [tuple('3', 'owner', 'carol')],
    });
    await client.data.deleteRelationships({
      tenantId: A,
      filter: { entity: { type: 'doc', ids: ['1'] }, relation: '', subject: undefined },
    });
    await client.data.delete({
      tenantId: A,
      tupleFilter: { entity: { type: 'doc', ids: ['3'] }, relation: '', subject: undefined },
      attributeFilter: { entity: { type: 'doc', ids: ['4', '5'] }, attributes: [] },
    });
    await client.data.runBundle({ tenantId: A, name: `own-${A}`, arguments: { id: '1' } });
    expect(
      (await statusOf(client.data.runBundle({ tenantId: A, name: `own-${B}`, arguments: { id: '1' } })))?.details,
    ).toBe('ERROR_CODE_BUNDLE_NOT_FOUND');
    expect((await statusOf(client.bundle.read({ tenantId: A, name: `own-${B}` })))?.details).toBe(
      'ERROR_CODE_BUNDLE_NOT_FOUND',
    );
    expect((await statusOf(client.bundle.delete({ tenantId: A, name: `own-${B}` })))?.details).toBe(
      'ERROR_CODE_BUNDLE_NOT_FOUND',
    );
    await client.bundle.write({
      tenantId: A,
      bundles: [{ name: 'shared-name', arguments: [], operations: [] }],
    });
    expect((await statusOf(client.bundle.read({ tenantId: B, name: 'shared-name' })))?.details).toBe(
      'ERROR_CODE_BUNDLE_NOT_FOUND',
    );
    expect((await client.bundle.read({ tenantId: B, name: `own-${B}` })).bundle?.name).toBe(`own-${B}`);

    expect(await tuplesOf(A)).toEqual(['1#viewer@iso-a', '2#viewer@bob']);
    expect(await attributesOf(A)).toEqual([]);
    expect(await tuplesOf(B)).toEqual(bTuples);
    expect(await attributesOf(B)).toEqual(bAttributes);

    const tenants = await client.tenancy.list({ pageSize: 100, continuousToken: '' });
    expect(tenants.tenants.map((x) => x.id)).toEqual(expect.arrayContaining([A, B]));
  });

  it('Watch streams only the tenant own transactions', async () => {
    const ac = new AbortController();
    setMaxListeners(20, ac.signal);
    const seen: Record<string, string[]> = { [A]: [], [B]: [] };
    const streams = [A, B].map(async (t) => {
      try {
        for await (const msg of client.watch.watch({ tenantId: t, snapToken: '' }, { signal: ac.signal })) {
          for (const ch of msg.changes?.dataChanges ?? []) {
            const x = ch.type?.$case === 'tuple' ? ch.type.tuple : undefined;
            seen[t]?.push(`${x?.entity?.id}@${x?.subject?.id}`);
          }
        }
      } catch {
        // aborted
      }
    });
    await new Promise((r) => setTimeout(r, 300));
    await client.data.writeRelationships({
      tenantId: B,
      metadata: { schemaVersion: '' },
      tuples: [tuple('7', 'viewer', 'w-b')],
    });
    await client.data.writeRelationships({
      tenantId: A,
      metadata: { schemaVersion: '' },
      tuples: [tuple('7', 'viewer', 'w-a')],
    });
    const deadline = Date.now() + 8000;
    while ((seen[A]?.length ?? 0) < 1 || (seen[B]?.length ?? 0) < 1) {
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // One more poll round, so that a leaked change would have arrived.
    await new Promise((r) => setTimeout(r, 300));
    ac.abort();
    await Promise.all(streams);
    expect(seen[A]).toEqual(['7@w-a']);
    expect(seen[B]).toEqual(['7@w-b']);
  });

  it('a deleted and re-created tenant shows nothing of its old incarnation', async () => {
    // Warm every cache with B's old version and token.
    const oldVersion = versions[B] as string;
    const oldHead = (await client.schema.list({ tenantId: B, pageSize: 1, continuousToken: '' })).head;
    const oldToken = tokens[B] as string;
    const checkBob = (metadata: Record<string, unknown>) =>
      client.permission.check({
        tenantId: B,
        metadata: md(metadata),
        entity: doc('1'),
        permission: 'view',
        subject: user('bob'),
        context: undefined,
        arguments: [],
      });
    expect((await checkBob({ schemaVersion: oldVersion, snapToken: oldToken })).can).toBe(ALLOWED);
    expect((await checkBob({})).can).toBe(ALLOWED);

    await client.tenancy.delete({ id: B });
    expect((await client.tenancy.list({ pageSize: 100, continuousToken: '' })).tenants.map((x) => x.id)).not.toContain(
      B,
    );
    await client.tenancy.create({ id: B, name: 'again' });

    expect((await statusOf(client.schema.read({ tenantId: B, metadata: { schemaVersion: '' } })))?.code).toBe(5);
    const old = await client.schema.read({ tenantId: B, metadata: { schemaVersion: oldHead } });
    expect(Object.keys(old.schema?.entityDefinitions ?? {})).toEqual([]);
    // No versions: an empty list or SCHEMA_NOT_FOUND, never the old ones.
    const versionsAfter = await client.schema
      .list({ tenantId: B, pageSize: 100, continuousToken: '' })
      .then((r) => r.schemas.map((x) => x.version))
      .catch((e: { details: string }) => e.details);
    expect([[], 'ERROR_CODE_SCHEMA_NOT_FOUND']).toContainEqual(versionsAfter);
    expect((await statusOf(client.bundle.read({ tenantId: B, name: `own-${B}` })))?.details).toBe(
      'ERROR_CODE_BUNDLE_NOT_FOUND',
    );
    const rels = await client.data.readRelationships({
      tenantId: B,
      metadata: { snapToken: '' },
      filter: { entity: { type: 'doc', ids: [] }, relation: '', subject: undefined },
      pageSize: 100,
      continuousToken: '',
    });
    expect(rels.tuples).toEqual([]);
    // Old versions and tokens answered from a cache would be the old incarnation's data.
    expect((await statusOf(checkBob({})))?.code).toBe(5);
    expect((await statusOf(checkBob({ schemaVersion: oldVersion, snapToken: oldToken })))?.code).toBe(5);

    // The same schema again: the old tuples stay gone, whatever token or version is asked for.
    const again = (await client.schema.write({ tenantId: B, schema: schemaOf('only_b') })).schemaVersion;
    expect(again).not.toBe(oldVersion);
    expect((await checkBob({})).can).toBe(DENIED);
    expect((await statusOf(checkBob({ schemaVersion: oldVersion, snapToken: oldToken })))?.code).toBe(5);
    // An old snap token alone: the reader's snapshot cache must have forgotten the old incarnation's rows.
    expect((await checkBob({ snapToken: oldToken })).can).toBe(DENIED);
    const lookup = await client.permission.lookupEntity({
      tenantId: B,
      metadata: md({ snapToken: oldToken }),
      entityType: 'doc',
      permission: 'view',
      subject: user('bob'),
    });
    expect(lookup.entityIds).toEqual([]);
    // A is untouched.
    expect(
      (
        await client.permission.check({
          tenantId: A,
          metadata: md(),
          entity: doc('2'),
          permission: 'view',
          subject: user('bob'),
          context: undefined,
          arguments: [],
        })
      ).can,
    ).toBe(ALLOWED);
  });
});
