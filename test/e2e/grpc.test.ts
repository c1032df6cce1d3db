/**
 * End-to-end over gRPC: the real server (memory store, real engine) driven by the official client
 * @permify/permify-node, RPC by RPC, including streaming, errors, snap tokens, schema versions, bundles and
 * tenancy.
 */
import * as grpc from '@grpc/grpc-js';
import * as permify from '@permify/permify-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermifyError } from '../../src/errors.js';
import { e2eStoreKinds, startTestServer, type PermifyClient, type TestServer } from '../api/support/grpc-harness.js';

const base = permify.grpc.base;
const payload = permify.grpc.payload;
const CheckResult = base.CheckResult;

const schema = `
entity user {}

entity organization {
    relation admin @user
    relation member @user
    permission view_files = admin or member
}

entity document {
    relation org @organization
    relation owner @user
    relation viewer @user
    attribute public boolean
    permission edit = owner or org.admin
    permission view = viewer or edit or public
}
`;

interface StatusLike {
  code: number;
  details: string;
}

async function expectStatus(p: Promise<unknown>, code: number, details?: string | RegExp): Promise<void> {
  let err: StatusLike | undefined;
  try {
    await p;
  } catch (e) {
    err = e as StatusLike;
  }
  expect(err, 'expected the call to fail').toBeDefined();
  expect(err?.code).toBe(code);
  if (typeof details === 'string') expect(err?.details).toBe(details);
  else if (details) expect(err?.details).toMatch(details);
}

function booleanAny(value: boolean): { typeUrl: string; value: Buffer } {
  return {
    typeUrl: 'type.googleapis.com/base.v1.BooleanValue',
    value: Buffer.from(base.BooleanValue.encode({ data: value }).finish()),
  };
}

const md = (extra: Record<string, unknown> = {}) => ({ schemaVersion: '', snapToken: '', depth: 20, ...extra });
const user = (id: string) => ({ type: 'user', id, relation: '' });

describe.each(e2eStoreKinds)('gRPC API end to end with @permify/permify-node (%s store)', (storeKind) => {
  let server: TestServer;
  let client: PermifyClient;
  let version1 = '';
  let writeToken = '';

  beforeAll(async () => {
    server = await startTestServer({ store: storeKind });
    client = server.client;
  });
  afterAll(async () => {
    await server.close();
  });

  describe('Schema', () => {
    it('writes a schema and returns a 20-char version', async () => {
      const res = await client.schema.write({ tenantId: 't1', schema });
      expect(res.schemaVersion).toMatch(/^[0-9a-v]{20}$/);
      version1 = res.schemaVersion;
    });

    it('answers a parse error with INVALID_ARGUMENT and the L:C text (deliberate fix)', async () => {
      await expectStatus(
        client.schema.write({ tenantId: 't1', schema: 'entity user {\n relation @@ }' }),
        3,
        /^\d+:\d+:/,
      );
    });

    it('answers a reference error with INVALID_ARGUMENT', async () => {
      await expectStatus(
        client.schema.write({ tenantId: 't1', schema: 'entity user {}\nentity doc {\n  relation owner @nobody\n}' }),
        3,
        /^\d+:\d+: /,
      );
    });

    it('reads the compiled schema (head and explicit version)', async () => {
      const res = await client.schema.read({ tenantId: 't1', metadata: { schemaVersion: '' } });
      const doc = res.schema?.entityDefinitions['document'];
      expect(Object.keys(res.schema?.entityDefinitions ?? {}).sort()).toEqual(['document', 'organization', 'user']);
      expect(doc?.relations['owner']?.relationReferences).toEqual([{ type: 'user', relation: '' }]);
      expect(doc?.attributes['public']?.type).toBe(base.AttributeType.ATTRIBUTE_TYPE_BOOLEAN);
      expect(doc?.references['edit']).toBe(base.EntityDefinition_Reference.REFERENCE_PERMISSION);
      const edit = doc?.permissions['edit']?.child?.type;
      expect(edit?.$case).toBe('rewrite');
      const explicit = await client.schema.read({ tenantId: 't1', metadata: { schemaVersion: version1 } });
      expect(explicit).toEqual(res);
    });

    it('reads an unknown explicit version as empty maps, and a tenant without schema as NOT_FOUND', async () => {
      const res = await client.schema.read({ tenantId: 't1', metadata: { schemaVersion: 'aaaaaaaaaaaaaaaaaaaa' } });
      expect(res.schema?.entityDefinitions).toEqual({});
      await expectStatus(client.schema.read({ tenantId: 'nobody', metadata: {} }), 5, 'ERROR_CODE_SCHEMA_NOT_FOUND');
    });

    it('requires Schema/Read metadata', async () => {
      await expectStatus(
        client.schema.read({ tenantId: 't1' }),
        3,
        'invalid SchemaReadRequest.Metadata: value is required',
      );
    });

    it('lists versions newest first with Go-style created_at', async () => {
      const res = await client.schema.list({ tenantId: 't1', pageSize: 10 });
      expect(res.head).toBe(version1);
      expect(res.schemas.map((s) => s.version)).toEqual([version1]);
      expect(res.schemas[0]?.createdAt).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC$/);
    });
  });

  describe('Data', () => {
    it('writes tuples and attributes and returns a snap token', async () => {
      const res = await client.data.write({
        tenantId: 't1',
        metadata: { schemaVersion: '' },
        tuples: [
          { entity: { type: 'organization', id: 'acme' }, relation: 'admin', subject: user('alice') },
          {
            entity: { type: 'document', id: '1' },
            relation: 'org',
            subject: { type: 'organization', id: 'acme', relation: '' },
          },
          { entity: { type: 'document', id: '2' }, relation: 'owner', subject: user('bob') },
          { entity: { type: 'document', id: '2' }, relation: 'owner', subject: user('bob') },
        ],
        attributes: [{ entity: { type: 'document', id: '3' }, attribute: 'public', value: booleanAny(true) }],
      });
      expect(res.snapToken).not.toBe('');
      writeToken = res.snapToken;
    });

    it('reads relationships (de-duplicated) with pagination', async () => {
      const first = await client.data.readRelationships({
        tenantId: 't1',
        metadata: { snapToken: writeToken },
        filter: { entity: { type: 'document', ids: [] }, relation: '', subject: undefined },
        pageSize: 1,
      });
      expect(first.tuples).toHaveLength(1);
      expect(first.continuousToken).not.toBe('');
      const second = await client.data.readRelationships({
        tenantId: 't1',
        metadata: { snapToken: writeToken },
        filter: { entity: { type: 'document', ids: [] } },
        pageSize: 5,
        continuousToken: first.continuousToken,
      });
      expect([...first.tuples, ...second.tuples].map((t) => `${t.entity?.id}#${t.relation}`).sort()).toEqual([
        '1#org',
        '2#owner',
      ]);
      expect(second.continuousToken).toBe('');
    });

    it('reads attributes back with the same Any type URL and bytes', async () => {
      const res = await client.data.readAttributes({
        tenantId: 't1',
        metadata: { snapToken: '' },
        filter: { entity: { type: 'document', ids: ['3'] }, attributes: [] },
      });
      expect(res.attributes).toHaveLength(1);
      expect(res.attributes[0]?.value).toEqual(booleanAny(true));
    });

    it('validates tuples against the schema', async () => {
      await expectStatus(
        client.data.write({
          tenantId: 't1',
          metadata: {},
          tuples: [{ entity: { type: 'document', id: '1' }, relation: 'nope', subject: user('x') }],
        }),
        5,
        'ERROR_CODE_RELATION_DEFINITION_NOT_FOUND',
      );
      await expectStatus(
        client.data.write({
          tenantId: 't1',
          metadata: {},
          tuples: [
            {
              entity: { type: 'document', id: '1' },
              relation: 'owner',
              subject: { type: 'organization', id: 'o', relation: '' },
            },
          ],
        }),
        5,
        'ERROR_CODE_SUBJECT_TYPE_NOT_FOUND',
      );
    });

    it('maps an attribute type mismatch to NOT_FOUND', async () => {
      await expectStatus(
        client.data.write({
          tenantId: 't1',
          metadata: {},
          attributes: [
            {
              entity: { type: 'document', id: '1' },
              attribute: 'public',
              value: {
                typeUrl: 'type.googleapis.com/base.v1.StringValue',
                value: Buffer.from(base.StringValue.encode({ data: 'x' }).finish()),
              },
            },
          ],
        }),
        5,
        'ERROR_CODE_ATTRIBUTE_TYPE_MISMATCH',
      );
    });

    it('rejects WriteRelationships without tuples', async () => {
      await expectStatus(
        client.data.writeRelationships({ tenantId: 't1', metadata: {}, tuples: [] }),
        3,
        'invalid RelationshipWriteRequest.Tuples: value must contain at least 1 item(s)',
      );
    });

    it('writes relationships and deletes them by filter (read-your-writes via snap tokens)', async () => {
      const w = await client.data.writeRelationships({
        tenantId: 't1',
        metadata: {},
        tuples: [{ entity: { type: 'document', id: '9' }, relation: 'viewer', subject: user('carol') }],
      });
      const before = await client.permission.check({
        tenantId: 't1',
        metadata: md({ snapToken: w.snapToken }),
        entity: { type: 'document', id: '9' },
        permission: 'view',
        subject: user('carol'),
      });
      expect(before.can).toBe(CheckResult.CHECK_RESULT_ALLOWED);
      const d = await client.data.deleteRelationships({
        tenantId: 't1',
        filter: { entity: { type: 'document', ids: ['9'] }, relation: 'viewer' },
      });
      expect(d.snapToken).not.toBe('');
      const after = await client.permission.check({
        tenantId: 't1',
        metadata: md({ snapToken: d.snapToken }),
        entity: { type: 'document', id: '9' },
        permission: 'view',
        subject: user('carol'),
      });
      expect(after.can).toBe(CheckResult.CHECK_RESULT_DENIED);
      // The old token still sees the tuple (reads are pinned to their snapshot).
      const old = await client.data.readRelationships({
        tenantId: 't1',
        metadata: { snapToken: w.snapToken },
        filter: { entity: { type: 'document', ids: ['9'] } },
      });
      expect(old.tuples).toHaveLength(1);
    });

    it('Delete: empty filters are a no-op with an empty token; filters delete tuples and attributes', async () => {
      const none = await client.data.delete({ tenantId: 't1', tupleFilter: {}, attributeFilter: {} });
      expect(none.snapToken).toBe('');
      await expectStatus(
        client.data.delete({ tenantId: 't1', tupleFilter: {} }),
        3,
        'invalid DataDeleteRequest.AttributeFilter: value is required',
      );
      await client.data.write({
        tenantId: 't1',
        metadata: {},
        attributes: [{ entity: { type: 'document', id: '77' }, attribute: 'public', value: booleanAny(false) }],
      });
      const res = await client.data.delete({
        tenantId: 't1',
        tupleFilter: {},
        attributeFilter: { entity: { type: 'document', ids: ['77'] }, attributes: ['public'] },
      });
      expect(res.snapToken).not.toBe('');
      const left = await client.data.readAttributes({
        tenantId: 't1',
        metadata: { snapToken: res.snapToken },
        filter: { entity: { type: 'document', ids: ['77'] } },
      });
      expect(left.attributes).toEqual([]);
    });
  });

  describe('Permission', () => {
    it('Check: allowed through a walk, denied otherwise, via an attribute', async () => {
      const allowed = await client.permission.check({
        tenantId: 't1',
        metadata: md(),
        entity: { type: 'document', id: '1' },
        permission: 'edit',
        subject: user('alice'),
      });
      expect(allowed.can).toBe(CheckResult.CHECK_RESULT_ALLOWED);
      expect(allowed.metadata?.checkCount).toBeGreaterThanOrEqual(0);
      const denied = await client.permission.check({
        tenantId: 't1',
        metadata: md(),
        entity: { type: 'document', id: '1' },
        permission: 'edit',
        subject: user('bob'),
      });
      expect(denied.can).toBe(CheckResult.CHECK_RESULT_DENIED);
      const viaAttribute = await client.permission.check({
        tenantId: 't1',
        metadata: md(),
        entity: { type: 'document', id: '3' },
        permission: 'view',
        subject: user('anyone'),
      });
      expect(viaAttribute.can).toBe(CheckResult.CHECK_RESULT_ALLOWED);
    });

    it('Check honours contextual tuples', async () => {
      const res = await client.permission.check({
        tenantId: 't1',
        metadata: md(),
        entity: { type: 'document', id: '50' },
        permission: 'view',
        subject: user('dan'),
        context: {
          tuples: [{ entity: { type: 'document', id: '50' }, relation: 'viewer', subject: user('dan') }],
          attributes: [],
          data: {},
        },
      });
      expect(res.can).toBe(CheckResult.CHECK_RESULT_ALLOWED);
    });

    it('Check validation: depth, names and the nested message text', async () => {
      await expectStatus(
        client.permission.check({
          tenantId: 't1',
          metadata: md({ depth: 2 }),
          entity: { type: 'document', id: '1' },
          permission: 'edit',
          subject: user('alice'),
        }),
        3,
        'invalid PermissionCheckRequest.Metadata: embedded message failed validation | caused by: invalid PermissionCheckRequestMetadata.Depth: value must be greater than or equal to 3',
      );
      await expectStatus(
        client.permission.check({ tenantId: 't1', metadata: md(), permission: 'edit', subject: user('alice') }),
        3,
        'invalid PermissionCheckRequest.Entity: value is required',
      );
    });

    it('Check on a tenant without schema is NOT_FOUND', async () => {
      await expectStatus(
        client.permission.check({
          tenantId: 'empty-tenant',
          metadata: md(),
          entity: { type: 'document', id: '1' },
          permission: 'edit',
          subject: user('alice'),
        }),
        5,
        'ERROR_CODE_SCHEMA_NOT_FOUND',
      );
    });

    it('BulkCheck keeps item order', async () => {
      const res = await client.permission.bulkCheck({
        tenantId: 't1',
        metadata: md(),
        items: [
          { entity: { type: 'document', id: '1' }, permission: 'edit', subject: user('alice') },
          { entity: { type: 'document', id: '1' }, permission: 'edit', subject: user('bob') },
          { entity: { type: 'document', id: '2' }, permission: 'view', subject: user('bob') },
        ],
      });
      expect(res.results.map((r) => r.can)).toEqual([
        CheckResult.CHECK_RESULT_ALLOWED,
        CheckResult.CHECK_RESULT_DENIED,
        CheckResult.CHECK_RESULT_ALLOWED,
      ]);
    });

    it('Expand returns a tree rooted at the permission', async () => {
      const res = await client.permission.expand({
        tenantId: 't1',
        metadata: { schemaVersion: '', snapToken: '' },
        entity: { type: 'document', id: '2' },
        permission: 'edit',
      });
      expect(res.tree?.entity).toEqual({ type: 'document', id: '2' });
      expect(res.tree?.permission).toBe('edit');
      expect(res.tree?.node?.$case).toBe('expand');
    });

    it('LookupEntity and LookupEntityStream agree', async () => {
      const res = await client.permission.lookupEntity({
        tenantId: 't1',
        metadata: md(),
        entityType: 'document',
        permission: 'edit',
        subject: user('alice'),
      });
      expect(res.entityIds).toEqual(['1']);
      const streamed: string[] = [];
      for await (const item of client.permission.lookupEntityStream({
        tenantId: 't1',
        metadata: md(),
        entityType: 'document',
        permission: 'view',
        subject: user('bob'),
      })) {
        streamed.push(item.entityId);
      }
      expect(streamed).toEqual(['2', '3']); // 3 is public
    });

    it('LookupEntityStream reports validation errors as a stream status', async () => {
      const consume = async (): Promise<void> => {
        for await (const _ of client.permission.lookupEntityStream({
          tenantId: 't1',
          metadata: md({ depth: 0 }),
          entityType: 'document',
          permission: 'view',
          subject: user('bob'),
        })) {
          // no items expected
        }
      };
      await expectStatus(consume(), 3, /PermissionLookupEntityRequestMetadata\.Depth/);
    });

    it('LookupSubject lists subjects', async () => {
      const res = await client.permission.lookupSubject({
        tenantId: 't1',
        metadata: md(),
        entity: { type: 'document', id: '2' },
        permission: 'edit',
        subjectReference: { type: 'user', relation: '' },
      });
      expect(res.subjectIds).toEqual(['bob']);
    });

    it('SubjectPermission maps every permission (and relation) to a result', async () => {
      const res = await client.permission.subjectPermission({
        tenantId: 't1',
        metadata: { schemaVersion: '', snapToken: '', onlyPermission: true, depth: 20 },
        entity: { type: 'document', id: '2' },
        subject: user('bob'),
      });
      expect(res.results).toEqual({ edit: CheckResult.CHECK_RESULT_ALLOWED, view: CheckResult.CHECK_RESULT_ALLOWED });
    });
  });

  describe('Bundles', () => {
    it('writes, reads, runs and deletes a bundle', async () => {
      const w = await client.bundle.write({
        tenantId: 't1',
        bundles: [
          {
            name: 'new_org',
            arguments: ['orgID', 'userID'],
            operations: [
              {
                relationshipsWrite: ['organization:{{.orgID}}#admin@user:{{.userID}}'],
                relationshipsDelete: [],
                attributesWrite: ['document:{{.orgID}}$public|boolean:true'],
                attributesDelete: [],
              },
            ],
          },
        ],
      });
      expect(w.names).toEqual(['new_org']);
      const r = await client.bundle.read({ tenantId: 't1', name: 'new_org' });
      expect(r.bundle?.arguments).toEqual(['orgID', 'userID']);
      await expectStatus(
        client.data.runBundle({ tenantId: 't1', name: 'new_org', arguments: { orgID: 'o2' } }),
        3,
        'ERROR_CODE_MISSING_ARGUMENT',
      );
      const run = await client.data.runBundle({
        tenantId: 't1',
        name: 'new_org',
        arguments: { orgID: 'o2', userID: 'erin' },
      });
      expect(run.snapToken).not.toBe('');
      const rel = await client.data.readRelationships({
        tenantId: 't1',
        metadata: { snapToken: run.snapToken },
        filter: { entity: { type: 'organization', ids: ['o2'] } },
      });
      expect(rel.tuples.map((t) => t.subject?.id)).toEqual(['erin']);
      const d = await client.bundle.delete({ tenantId: 't1', name: 'new_org' });
      expect(d.name).toBe('new_org');
      await expectStatus(client.bundle.read({ tenantId: 't1', name: 'new_org' }), 5, 'ERROR_CODE_BUNDLE_NOT_FOUND');
      await expectStatus(
        client.data.runBundle({ tenantId: 't1', name: 'new_org', arguments: {} }),
        5,
        'ERROR_CODE_BUNDLE_NOT_FOUND',
      );
    });

    it('rejects duplicate strings inside an operation', async () => {
      await expectStatus(
        client.bundle.write({
          tenantId: 't1',
          bundles: [
            {
              name: 'dup',
              arguments: [],
              operations: [
                {
                  relationshipsWrite: ['a:1#b@c:2', 'a:1#b@c:2'],
                  relationshipsDelete: [],
                  attributesWrite: [],
                  attributesDelete: [],
                },
              ],
            },
          ],
        }),
        3,
        'ERROR_CODE_ALREADY_EXIST',
      );
    });
  });

  describe('Tenancy', () => {
    it('creates, lists and deletes tenants', async () => {
      const c = await client.tenancy.create({ id: 'acme', name: 'Acme' });
      expect(c.tenant?.id).toBe('acme');
      expect(c.tenant?.createdAt).toBeInstanceOf(Date);
      const list = await client.tenancy.list({ pageSize: 100 });
      expect(list.tenants.map((t) => t.id)).toContain('acme');
      const d = await client.tenancy.delete({ id: 'acme' });
      expect(d.tenantId).toBe('acme');
      await expectStatus(client.tenancy.delete({ id: 'acme' }), 5, 'ERROR_CODE_NOT_FOUND');
    });

    it('validates new tenant ids', async () => {
      await expectStatus(client.tenancy.create({ id: '$$$', name: '' }), 3, /^invalid TenantCreateRequest\.Id/);
    });
  });

  describe('Watch', () => {
    it('streams one message per write transaction', async () => {
      const controller = new AbortController();
      const head = await client.data
        .writeRelationships({
          tenantId: 'watched',
          metadata: {},
          tuples: [{ entity: { type: 'document', id: 'w0' }, relation: 'owner', subject: user('x') }],
        })
        .catch(() => undefined);
      expect(head).toBeUndefined(); // no schema for this tenant yet
      await client.schema.write({ tenantId: 'watched', schema });
      const received: string[] = [];
      const stream = client.watch.watch({ tenantId: 'watched', snapToken: '' }, { signal: controller.signal });
      const done = (async () => {
        try {
          for await (const msg of stream) {
            for (const ch of msg.changes?.dataChanges ?? []) {
              const t = ch.type?.$case === 'tuple' ? ch.type.tuple : undefined;
              received.push(`${ch.operation}:${t?.entity?.id}`);
            }
            if (received.length >= 2) controller.abort();
          }
        } catch {
          // aborted
        }
      })();
      // Give the stream time to subscribe before writing.
      await new Promise((r) => setTimeout(r, 100));
      await client.data.writeRelationships({
        tenantId: 'watched',
        metadata: {},
        tuples: [{ entity: { type: 'document', id: 'w1' }, relation: 'owner', subject: user('x') }],
      });
      await client.data.deleteRelationships({
        tenantId: 'watched',
        filter: { entity: { type: 'document', ids: ['w1'] } },
      });
      await done;
      expect(received).toEqual([
        `${base.DataChange_Operation.OPERATION_CREATE}:w1`,
        `${base.DataChange_Operation.OPERATION_DELETE}:w1`,
      ]);
    });
  });

  describe('transport', () => {
    function rawCall(path: string, body: Buffer): Promise<grpc.ServiceError | undefined> {
      const ch = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
      return new Promise((resolve) => {
        ch.makeUnaryRequest(
          path,
          (b: Buffer) => b,
          (b: Buffer) => b,
          body,
          (err) => {
            ch.close();
            resolve(err ?? undefined);
          },
        );
      });
    }

    it('answers malformed bytes with INVALID_ARGUMENT and keeps serving', async () => {
      const err = await rawCall('/base.v1.Permission/Check', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
      expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
      const ok = await client.tenancy.list({ pageSize: 1 });
      expect(ok.tenants.length).toBeGreaterThanOrEqual(0);
    });

    it('answers unknown methods with UNIMPLEMENTED', async () => {
      const err = await rawCall('/base.v1.Permission/Nope', Buffer.alloc(0));
      expect(err?.code).toBe(grpc.status.UNIMPLEMENTED);
    });

    it('serves grpc.health.v1.Health/Check', async () => {
      const ch = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
      const res = await new Promise<Buffer>((resolve, reject) => {
        ch.makeUnaryRequest(
          '/grpc.health.v1.Health/Check',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.alloc(0),
          (err, value) => (err ? reject(err) : resolve(value as Buffer)),
        );
      });
      ch.close();
      expect([...res]).toEqual([0x08, 0x01]); // status = SERVING
    });

    it('exposes the generated payload module (sanity)', () => {
      expect(typeof payload.PermissionCheckRequest.encode).toBe('function');
    });
  });
});

describe('beforeCall admission hook', () => {
  it('runs after validation for unary calls and maps a thrown PermifyError to its status', async () => {
    const seen: string[] = [];
    const s = await startTestServer({
      beforeCall: (call) => {
        seen.push(`${call.service}/${call.method}:${call.headers['authorization'] ?? ''}`);
        if (call.method === 'List') throw new PermifyError('ERROR_CODE_UNAUTHENTICATED');
      },
    });
    try {
      await expectStatus(s.client.tenancy.list({ pageSize: 1 }), 16, 'ERROR_CODE_UNAUTHENTICATED');
      // An invalid request is rejected before the hook runs.
      await expectStatus(s.client.tenancy.create({ id: '$', name: '' }), 3);
      expect(seen).toEqual(['base.v1.Tenancy/List:']);
    } finally {
      await s.close();
    }
  });
});
