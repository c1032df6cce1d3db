/**
 * Connect and gRPC-Web on the HTTP port under /connect/ (what browsers and the playground use), driven by
 * @connectrpc/connect-node clients over HTTP/1.1 against the real server: the same handlers, pipeline,
 * authentication and metrics as gRPC and REST.
 */
import { Code, ConnectError, createClient, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckResult } from '../../src/api/gen/base/v1/base_pb.js';
import { Data, Permission, Schema } from '../../src/api/gen/base/v1/service_pb.js';
import type { RunningServer } from '../../src/server.js';
import { startTestServer } from './rest-support.js';

const schema = `
entity user {}
entity doc {
  relation owner @user
  permission view = owner
}`;

function transports(port: number, token?: string): [string, Transport][] {
  const baseUrl = `http://127.0.0.1:${port}/connect`;
  const interceptors = token === undefined ? [] : [authorization(token)];
  return [
    ['Connect', createConnectTransport({ baseUrl, httpVersion: '1.1', interceptors })],
    ['gRPC-Web', createGrpcWebTransport({ baseUrl, httpVersion: '1.1', interceptors })],
  ];
}

function authorization(token: string) {
  return (next: Parameters<import('@connectrpc/connect').Interceptor>[0]) =>
    (req: Parameters<Parameters<import('@connectrpc/connect').Interceptor>[0]>[0]) => {
      req.header.set('authorization', `Bearer ${token}`);
      return next(req);
    };
}

describe('Connect and gRPC-Web under /connect/', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer({
      'authn.enabled': 'true',
      'authn.method': 'preshared',
      'authn.preshared.keys': 'k1',
    });
  });
  afterAll(async () => server.close());

  it('write, Check and LookupEntityStream over both protocols', async () => {
    const [[, connect]] = transports(server.ports.http as number, 'k1') as [[string, Transport]];
    const { schemaVersion } = await createClient(Schema, connect).write({ tenantId: 't1', schema });
    await createClient(Data, connect).write({
      tenantId: 't1',
      metadata: { schemaVersion },
      tuples: [{ entity: { type: 'doc', id: 'd1' }, relation: 'owner', subject: { type: 'user', id: 'alice' } }],
    });
    for (const [name, transport] of transports(server.ports.http as number, 'k1')) {
      const permission = createClient(Permission, transport);
      const allowed = await permission.check({
        tenantId: 't1',
        metadata: { depth: 10 },
        entity: { type: 'doc', id: 'd1' },
        permission: 'view',
        subject: { type: 'user', id: 'alice' },
      });
      expect(allowed.can, name).toBe(CheckResult.ALLOWED);
      const ids: string[] = [];
      for await (const item of permission.lookupEntityStream({
        tenantId: 't1',
        metadata: { depth: 10 },
        entityType: 'doc',
        permission: 'view',
        subject: { type: 'user', id: 'alice' },
      })) {
        ids.push(item.entityId);
      }
      expect(ids, name).toEqual(['d1']);
    }
    expect(await server.metrics.render()).toMatch(
      /permify_requests_total\{transport="connect",rpc="base.v1.Permission\/Check",code="OK"\} 2/,
    );
  });

  it("authentication and validation answer Permify's codes and messages", async () => {
    const valid = {
      tenantId: 't1',
      metadata: { depth: 10 },
      entity: { type: 'doc', id: 'd1' },
      permission: 'view',
      subject: { type: 'user', id: 'alice' },
    };
    for (const [name, transport] of transports(server.ports.http as number)) {
      const err = await createClient(Permission, transport)
        .check(valid)
        .catch((e: unknown) => e);
      expect(err, name).toBeInstanceOf(ConnectError);
      expect([(err as ConnectError).code, (err as ConnectError).rawMessage], name).toEqual([
        Code.Unauthenticated,
        'ERROR_CODE_MISSING_BEARER_TOKEN',
      ]);
    }
    for (const [name, transport] of transports(server.ports.http as number, 'k1')) {
      const err = await createClient(Permission, transport)
        .check({ tenantId: 't1', metadata: { depth: 10 } })
        .catch((e: unknown) => e);
      expect((err as ConnectError).code, name).toBe(Code.InvalidArgument);
    }
  });
});
