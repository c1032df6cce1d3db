/**
 * Errors a user can act on: Permify's codes and messages are unchanged, and the details name what was not
 * found (tenant, schema version, entity type, permission) or which field carried an invalid token, as a
 * google.rpc.ErrorInfo in the REST body's `details` and in gRPC's `grpc-status-details-bin` trailer.
 */
import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermissionCheckRequestSchema, PermissionCheckResponseSchema } from '../../src/api/gen/base/v1/service_pb.js';
import type { RunningServer } from '../../src/server.js';
import { request, startTestServer } from '../e2e/rest-support.js';

let server: RunningServer;
const schema = 'entity user {}\nentity doc {\n  relation owner @user\n  permission edit = owner\n}';

beforeAll(async () => {
  server = await startTestServer();
  const w = await request(server.ports.http!, 'POST', '/v1/tenants/t1/schemas/write', { schema });
  expect(w.status).toBe(200);
});
afterAll(async () => {
  await server.close();
});

const check = (tenant: string, body: Record<string, unknown>) =>
  request(server.ports.http!, 'POST', `/v1/tenants/${tenant}/permissions/check`, {
    metadata: { depth: 5 },
    entity: { type: 'doc', id: '1' },
    permission: 'edit',
    subject: { type: 'user', id: 'a' },
    ...body,
  });

function errorInfo(json: unknown): Record<string, string> | undefined {
  const details = (json as { details?: { '@type': string; metadata: Record<string, string> }[] }).details ?? [];
  const info = details.find((d) => d['@type'] === 'type.googleapis.com/google.rpc.ErrorInfo');
  return info?.metadata;
}

describe('REST error details', () => {
  it('SCHEMA_NOT_FOUND says which tenant, schema version, entity type or permission', async () => {
    const cases: [string, Record<string, unknown>, Record<string, string>][] = [
      ['nosuch', {}, { tenant_id: 'nosuch' }],
      [
        't1',
        { metadata: { depth: 5, schema_version: 'aaaaaaaaaaaaaaaaaaaa' } },
        { tenant_id: 't1', schema_version: 'aaaaaaaaaaaaaaaaaaaa' },
      ],
      ['t1', { entity: { type: 'nodoc', id: '1' } }, { entity_type: 'nodoc' }],
      ['t1', { permission: 'permision' }, { permission: 'permision' }],
    ];
    for (const [tenant, body, metadata] of cases) {
      const r = await check(tenant, body);
      expect(r.status).toBe(404);
      expect(r.json).toMatchObject({ code: 5, message: 'ERROR_CODE_SCHEMA_NOT_FOUND' });
      expect(errorInfo(r.json)).toEqual(metadata);
    }
  });

  it('an invalid snap token or continuation token names its field', async () => {
    const snap = await check('t1', { metadata: { depth: 5, snap_token: 'garbage' } });
    expect(snap.status).toBe(400);
    expect(errorInfo(snap.json)).toEqual({ field: 'metadata.snap_token' });
    const page = await request(server.ports.http!, 'POST', '/v1/tenants/t1/permissions/lookup-entity', {
      metadata: { depth: 5 },
      entity_type: 'doc',
      permission: 'edit',
      subject: { type: 'user', id: 'a' },
      continuous_token: 'not-a-token',
    });
    expect(page.status).toBe(400);
    expect(page.json).toMatchObject({ message: 'ERROR_CODE_INVALID_CONTINUOUS_TOKEN' });
    expect(errorInfo(page.json)).toEqual({ field: 'continuous_token' });
  });

  it('errors without details keep an empty details list', async () => {
    const r = await check('t1', { metadata: { depth: 1 } });
    expect(r.status).toBe(400);
    expect((r.json as { details: unknown[] }).details).toEqual([]);
  });
});

/** google.rpc.Status -> the metadata map of its ErrorInfo. */
function decodeStatusDetails(bytes: Uint8Array): { code: number; message: string; metadata: Record<string, string> } {
  const out = { code: 0, message: '', metadata: {} as Record<string, string> };
  const status = new BinaryReader(bytes);
  while (status.pos < status.len) {
    const [field] = status.tag();
    if (field === 1) out.code = status.int32();
    else if (field === 2) out.message = status.string();
    else {
      const any = new BinaryReader(status.bytes());
      let value: Uint8Array = new Uint8Array();
      while (any.pos < any.len) {
        const [f] = any.tag();
        if (f === 2) value = any.bytes();
        else any.string();
      }
      const info = new BinaryReader(value);
      while (info.pos < info.len) {
        const [f] = info.tag();
        if (f !== 3) {
          info.string();
          continue;
        }
        const entry = new BinaryReader(info.bytes());
        entry.tag();
        const k = entry.string();
        entry.tag();
        out.metadata[k] = entry.string();
      }
    }
  }
  return out;
}

describe('gRPC error details', () => {
  it('the grpc-status-details-bin trailer carries the same ErrorInfo', async () => {
    const client = new grpc.Client(`127.0.0.1:${server.ports.grpc}`, grpc.credentials.createInsecure());
    try {
      const err = await new Promise<grpc.ServiceError>((resolve, reject) => {
        client.makeUnaryRequest(
          '/base.v1.Permission/Check',
          (m: Uint8Array) => Buffer.from(m),
          (b: Buffer) => fromBinary(PermissionCheckResponseSchema, b),
          toBinary(
            PermissionCheckRequestSchema,
            create(PermissionCheckRequestSchema, {
              tenantId: 't1',
              metadata: { depth: 5 },
              entity: { type: 'nodoc', id: '1' },
              permission: 'edit',
              subject: { type: 'user', id: 'a' },
            }),
          ),
          (e) => (e ? resolve(e) : reject(new Error('expected an error'))),
        );
      });
      expect(err.code).toBe(grpc.status.NOT_FOUND);
      expect(err.details).toBe('ERROR_CODE_SCHEMA_NOT_FOUND');
      const bin = err.metadata.get('grpc-status-details-bin')[0] as Buffer;
      expect(decodeStatusDetails(bin)).toEqual({
        code: grpc.status.NOT_FOUND,
        message: 'ERROR_CODE_SCHEMA_NOT_FOUND',
        metadata: { entity_type: 'nodoc' },
      });
    } finally {
      client.close();
    }
  });
});
