/**
 * End to end (issue 9 item 1): entities allowed through walks from an attribute leaf (a page under a public
 * ancestor folder) are found by LookupEntity and LookupEntityStream, and agree with Check, LookupSubject and
 * SubjectPermission, on the memory and PostgreSQL stores, over gRPC (@permify/permify-node) and REST, with and
 * without contextual tuples and attributes. The real server is started on port 0 with both transports.
 */
import * as permify from '@permify/permify-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { request, startTestServer } from './rest-support.js';

const base = permify.grpc.base;

const schema = `
entity user {}
entity folder {
    relation parent @folder
    attribute is_public boolean
    permission view = is_public or parent.view
}
entity page {
    relation folder @folder
    relation owner @user
    permission view = owner or folder.view
}
`;

const tuple = (entity: string, relation: string, subject: string) => {
  const [et, ei] = entity.split(':') as [string, string];
  const [st, si] = subject.split(':') as [string, string];
  return { entity: { type: et, id: ei }, relation, subject: { type: st, id: si, relation: '' } };
};
const tuples = [
  tuple('folder:b', 'parent', 'folder:a'),
  tuple('folder:c', 'parent', 'folder:b'),
  tuple('page:p', 'folder', 'folder:b'),
  tuple('page:q', 'folder', 'folder:c'),
  tuple('page:o', 'owner', 'user:y'),
  tuple('page:s', 'folder', 'folder:d'),
];
const contextTuples = [tuple('page:t', 'folder', 'folder:d')];

function booleanAny(value: boolean): { typeUrl: string; value: Buffer } {
  return {
    typeUrl: 'type.googleapis.com/base.v1.BooleanValue',
    value: Buffer.from(base.BooleanValue.encode({ data: value }).finish()),
  };
}
const restBoolean = (value: boolean) => ({ '@type': 'type.googleapis.com/base.v1.BooleanValue', data: value });

describe.each(['memory', 'postgres'] as const)(
  'lookups through walks from attribute leaves (%s store)',
  (storeKind) => {
    let server: RunningServer;
    let db: TestDatabase | undefined;
    let client: ReturnType<typeof permify.grpc.newClient>;
    let http = 0;

    beforeAll(async () => {
      const flags: Record<string, unknown> = {};
      if (storeKind === 'postgres') {
        db = await createTestDatabase();
        Object.assign(flags, { 'database.engine': 'postgres', 'database.uri': db.uri });
      }
      server = await startTestServer(flags);
      http = server.ports.http as number;
      client = permify.grpc.newClient({
        endpoint: `127.0.0.1:${server.ports.grpc}`,
        cert: null,
        pk: null,
        certChain: null,
        insecure: true,
      });
      await client.schema.write({ tenantId: 't1', schema });
      await client.data.write({
        tenantId: 't1',
        metadata: { schemaVersion: '' },
        tuples,
        attributes: [{ entity: { type: 'folder', id: 'a' }, attribute: 'is_public', value: booleanAny(true) }],
      });
    }, 60_000);
    afterAll(async () => {
      await server?.close();
      await db?.drop();
    });

    const md = { schemaVersion: '', snapToken: '', depth: 20 };
    const user = (id: string) => ({ type: 'user', id, relation: '' });

    it('gRPC: Check, LookupEntity, LookupEntityStream, LookupSubject and SubjectPermission agree', async () => {
      const check = await client.permission.check({
        tenantId: 't1',
        metadata: md,
        entity: { type: 'page', id: 'p' },
        permission: 'view',
        subject: user('x'),
      });
      expect(check.can).toBe(base.CheckResult.CHECK_RESULT_ALLOWED);
      const lookup = async (subject: string, context?: object): Promise<string[]> => {
        const r = await client.permission.lookupEntity({
          tenantId: 't1',
          metadata: md,
          entityType: 'page',
          permission: 'view',
          subject: user(subject),
          ...(context === undefined ? {} : { context }),
        });
        return r.entityIds;
      };
      expect(await lookup('x')).toEqual(['p', 'q']);
      expect(await lookup('y')).toEqual(['o', 'p', 'q']);
      const streamed: string[] = [];
      for await (const item of client.permission.lookupEntityStream({
        tenantId: 't1',
        metadata: md,
        entityType: 'page',
        permission: 'view',
        subject: user('x'),
      })) {
        streamed.push(item.entityId);
      }
      expect(streamed).toEqual(['p', 'q']);
      // Contextual: folder d becomes public and a is not; page t exists only in the request.
      const context = {
        tuples: contextTuples,
        attributes: [
          { entity: { type: 'folder', id: 'd' }, attribute: 'is_public', value: booleanAny(true) },
          { entity: { type: 'folder', id: 'a' }, attribute: 'is_public', value: booleanAny(false) },
        ],
        data: {},
      };
      expect(await lookup('x', context)).toEqual(['s', 't']);
      const subjects = await client.permission.lookupSubject({
        tenantId: 't1',
        metadata: md,
        entity: { type: 'page', id: 'q' },
        permission: 'view',
        subjectReference: { type: 'user', relation: '' },
      });
      expect(subjects.subjectIds).toEqual(['y']);
      const sp = await client.permission.subjectPermission({
        tenantId: 't1',
        metadata: { ...md, onlyPermission: true },
        entity: { type: 'page', id: 'q' },
        subject: user('x'),
      });
      expect(sp.results).toEqual({ view: base.CheckResult.CHECK_RESULT_ALLOWED });
    });

    it('REST: the same answers', async () => {
      const T = '/v1/tenants/t1/permissions';
      const mdJson = { snap_token: '', schema_version: '', depth: 20 };
      const body = { metadata: mdJson, entity_type: 'page', permission: 'view', subject: { type: 'user', id: 'x' } };
      const check = await request(http, 'POST', `${T}/check`, {
        metadata: mdJson,
        entity: { type: 'page', id: 'p' },
        permission: 'view',
        subject: { type: 'user', id: 'x' },
      });
      expect((check.json as { can: string }).can, check.text).toBe('CHECK_RESULT_ALLOWED');
      const unary = await request(http, 'POST', `${T}/lookup-entity`, body);
      expect(unary.status, unary.text).toBe(200);
      expect((unary.json as { entity_ids: string[] }).entity_ids).toEqual(['p', 'q']);
      const stream = await request(http, 'POST', `${T}/lookup-entity-stream`, body);
      expect(stream.status, stream.text).toBe(200);
      const ids = stream.text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => (JSON.parse(l) as { result: { entity_id: string } }).result.entity_id);
      expect(ids).toEqual(['p', 'q']);
      const withContext = await request(http, 'POST', `${T}/lookup-entity`, {
        ...body,
        context: {
          tuples: contextTuples,
          attributes: [
            { entity: { type: 'folder', id: 'd' }, attribute: 'is_public', value: restBoolean(true) },
            { entity: { type: 'folder', id: 'a' }, attribute: 'is_public', value: restBoolean(false) },
          ],
          data: {},
        },
      });
      expect((withContext.json as { entity_ids: string[] }).entity_ids, withContext.text).toEqual(['s', 't']);
      const subjects = await request(http, 'POST', `${T}/lookup-subject`, {
        metadata: mdJson,
        entity: { type: 'page', id: 'q' },
        permission: 'view',
        subject_reference: { type: 'user' },
      });
      expect((subjects.json as { subject_ids: string[] }).subject_ids, subjects.text).toEqual(['y']);
    });
  },
);
