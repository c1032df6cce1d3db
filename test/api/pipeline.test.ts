/**
 * The one call pipeline (src/api/pipeline): every transport's calls are observed when they end, refused
 * ones included, and the authenticated principal reaches the handler context.
 */
import * as grpc from '@grpc/grpc-js';
import { create, toBinary } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantListRequestSchema } from '../../src/api/gen/base/v1/service_pb.js';
import { createPresharedAuthenticator } from '../../src/api/middleware/auth.js';
import { createRateLimiter } from '../../src/api/middleware/rate-limit.js';
import { Call, createPipeline, type MethodEntry } from '../../src/api/pipeline/invoke.js';
import { admission, validation } from '../../src/api/pipeline/interceptors.js';
import type { HandlerContext } from '../../src/api/handlers/types.js';
import type { RunningServer } from '../../src/server.js';
import { request, startTestServer } from '../e2e/rest-support.js';

function grpcTenantList(port: number, bytes: Uint8Array, token?: string): Promise<number> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  if (token !== undefined) md.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      '/base.v1.Tenancy/List',
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(bytes),
      md,
      (err) => {
        client.close();
        resolve(err ? err.code : 0);
      },
    );
  });
}

describe('metrics see every call, also those refused before the handler', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer({
      'authn.enabled': 'true',
      'authn.method': 'preshared',
      'authn.preshared.keys': 'k1',
    });
  });
  afterAll(async () => server.close());

  it('gRPC: unauthenticated and malformed calls are counted by status, as are successful ones', async () => {
    const port = server.ports.grpc;
    const list = toBinary(TenantListRequestSchema, create(TenantListRequestSchema, { pageSize: 10 }));
    expect(await grpcTenantList(port, list)).toBe(grpc.status.UNAUTHENTICATED);
    expect(await grpcTenantList(port, Uint8Array.of(0xff, 0xff), 'k1')).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await grpcTenantList(port, list, 'k1')).toBe(grpc.status.OK);
    const text = (await server.metrics.render());
    expect(text).toContain(
      'permify_requests_total{transport="grpc",rpc="base.v1.Tenancy/List",code="UNAUTHENTICATED"} 1',
    );
    expect(text).toContain(
      'permify_requests_total{transport="grpc",rpc="base.v1.Tenancy/List",code="INVALID_ARGUMENT"} 1',
    );
    expect(text).toContain('permify_requests_total{transport="grpc",rpc="base.v1.Tenancy/List",code="OK"} 1');
  });

  it('REST: a refused call is counted once (by HTTP status), not twice', async () => {
    const port = server.ports.http as number;
    const res = await request(port, 'POST', '/v1/tenants/list', { page_size: 10 });
    expect(res.status).toBe(401);
    expect((await server.metrics.render())).toContain(
      'permify_requests_total{transport="rest",rpc="base.v1.Tenancy/List",code="401"} 1',
    );
  });
});

describe('rate-limited calls', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer({ 'server.rate_limit': '1', 'server.rate_limit_burst': '1' });
  });
  afterAll(async () => server.close());

  it('REST: a call refused by the token bucket counts once in permify_rate_limited_total', async () => {
    const port = server.ports.http as number;
    const statuses = [];
    for (let i = 0; i < 2; i++)
      statuses.push((await request(port, 'POST', '/v1/tenants/list', { page_size: 10 })).status);
    expect(statuses).toEqual([200, 429]);
    expect((await server.metrics.render())).toMatch(/permify_rate_limited_total 1\n/);
  });
});

class RecordCall extends Call {
  readonly signal = new AbortController().signal;
  constructor(
    entry: MethodEntry,
    private readonly record: Record<string, string>,
  ) {
    super(entry, 'rest', { debug() {}, info() {}, warn() {}, error() {} });
  }
  header(name: string): string | undefined {
    return this.record[name];
  }
  headers(): Record<string, string> {
    return { ...this.record };
  }
}

describe('the pipeline', () => {
  const seen: (string | undefined)[] = [];
  const entry: MethodEntry = {
    service: 'base.v1.Tenancy',
    method: 'List',
    rpc: 'base.v1.Tenancy/List',
    streaming: false,
    handler: async (_request: unknown, ctx: HandlerContext) => {
      seen.push(ctx.principal);
      return 'done';
    },
  };
  const pipeline = createPipeline(new Map([[entry.rpc, entry]]), [
    validation(),
    admission({
      rateLimiter: createRateLimiter({ rate: 1, burst: 1 }),
      authenticator: createPresharedAuthenticator(['k1']),
    }),
  ]);

  it('hands the authenticated principal to the handler; a request id is made only when read', async () => {
    const call = new RecordCall(entry, { authorization: 'Bearer k1' });
    await expect(pipeline.unary(call, () => ({}))).resolves.toBe('done');
    expect(seen).toEqual(['preshared']);
    expect(call.principal).toBe('preshared');
    expect(new RecordCall(entry, { 'x-request-id': 'r-1' }).requestId).toBe('r-1');
    const generated = new RecordCall(entry, {});
    expect(generated.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(generated.requestId).toBe(generated.requestId);
  });

  it('a refused call never reaches the handler (rate limit before authentication)', async () => {
    await expect(
      pipeline.unary(new RecordCall(entry, { authorization: 'Bearer k1' }), () => ({})),
    ).rejects.toMatchObject({
      code: 'RATE_LIMITED',
    });
    expect(seen).toHaveLength(1);
  });
});

describe('the admission interceptor', () => {
  it('rate limits the health service but does not authenticate it', async () => {
    const entryOf = (service: string, method: string): MethodEntry => ({
      service,
      method,
      rpc: `${service}/${method}`,
      streaming: false,
      handler: async () => 'ok',
    });
    const health = entryOf('grpc.health.v1.Health', 'Check');
    const list = entryOf('base.v1.Tenancy', 'List');
    const pipeline = createPipeline(
      new Map([
        [health.rpc, health],
        [list.rpc, list],
      ]),
      [
        admission({
          rateLimiter: createRateLimiter({ rate: 1, burst: 2, now: () => 0 }),
          authenticator: createPresharedAuthenticator(['k']),
        }),
      ],
    );
    await expect(pipeline.unary(new RecordCall(health, {}), () => ({}))).resolves.toBe('ok');
    await expect(pipeline.unary(new RecordCall(list, {}), () => ({}))).rejects.toMatchObject({
      code: 'ERROR_CODE_MISSING_BEARER_TOKEN',
    });
    await expect(pipeline.unary(new RecordCall(health, {}), () => ({}))).rejects.toMatchObject({
      code: 'RATE_LIMITED',
    });
  });
});
