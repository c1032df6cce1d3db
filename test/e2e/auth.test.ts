/**
 * Authentication and rate limiting on both transports against the real server: pre-shared keys, and OIDC
 * against a REAL local issuer (node:http serving discovery + JWKS for keys made here with jose).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantListRequestSchema, TenantListResponseSchema } from '../../src/api/gen/base/v1/service_pb.js';
import type { RunningServer } from '../../src/server.js';
import { request, startTestServer } from './rest-support.js';

/** Calls base.v1.Tenancy/List over gRPC; resolves to the status code (0 = OK). */
function grpcTenantList(port: number, token?: string): Promise<{ code: number; details: string }> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  if (token !== undefined) md.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      '/base.v1.Tenancy/List',
      (m: Uint8Array) => Buffer.from(m),
      (b: Buffer) => fromBinary(TenantListResponseSchema, b),
      toBinary(TenantListRequestSchema, create(TenantListRequestSchema, { pageSize: 10 })),
      md,
      (err) => {
        client.close();
        resolve(err ? { code: err.code, details: err.details } : { code: 0, details: '' });
      },
    );
  });
}

const listBody = { page_size: 10, continuous_token: '' };

describe('pre-shared keys', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer({ 'authn.enabled': 'true', 'authn.method': 'preshared', 'authn.preshared.keys': 'k1,k2' });
  });
  afterAll(async () => server.close());

  it('REST: missing/invalid token 401 with WWW-Authenticate, valid key 200, health open', async () => {
    const port = server.ports.http as number;
    const missing = await request(port, 'POST', '/v1/tenants/list', listBody);
    expect(missing.status).toBe(401);
    expect(missing.json).toEqual({ code: 16, message: 'ERROR_CODE_MISSING_BEARER_TOKEN', details: [] });
    expect(missing.headers['www-authenticate']).toBe('ERROR_CODE_MISSING_BEARER_TOKEN');
    const basic = await request(port, 'POST', '/v1/tenants/list', listBody, { authorization: 'Basic k1' });
    expect(basic.status).toBe(401);
    const wrong = await request(port, 'POST', '/v1/tenants/list', listBody, { authorization: 'Bearer nope' });
    expect([wrong.status, (wrong.json as { message: string }).message]).toEqual([401, 'ERROR_CODE_INVALID_KEY']);
    const ok = await request(port, 'POST', '/v1/tenants/list', listBody, { authorization: 'bearer k2' });
    expect(ok.status, ok.text).toBe(200);
    expect((await request(port, 'GET', '/healthz')).status).toBe(200);
  });

  it('gRPC: UNAUTHENTICATED without or with a wrong key, OK with a key', async () => {
    const port = server.ports.grpc;
    expect(await grpcTenantList(port)).toEqual({ code: 16, details: 'ERROR_CODE_MISSING_BEARER_TOKEN' });
    expect(await grpcTenantList(port, 'bad')).toEqual({ code: 16, details: 'ERROR_CODE_INVALID_KEY' });
    expect((await grpcTenantList(port, 'k1')).code).toBe(0);
    expect((await server.metrics.render())).toContain('permify_requests_total{transport="grpc",rpc="base.v1.Tenancy/List",code="OK"} 1');
  });

  it('invalid requests are rejected before authentication (INVALID_ARGUMENT, not an auth error)', async () => {
    const res = await request(server.ports.http as number, 'POST', '/v1/tenants/t1/permissions/check', { metadata: { depth: 1 } });
    expect(res.status).toBe(400);
  });
});

describe('OIDC against a local issuer', () => {
  let issuerServer: http.Server;
  let issuer: string;
  let jwks: { keys: JWK[] };
  let jwksHits = 0;
  let server: RunningServer;
  const keys: { kid: string; privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"] }[] = [];

  async function addKey(kid: string): Promise<void> {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
    jwks.keys.push(jwk);
    keys.push({ kid, privateKey });
  }

  function token(kid: string, claims: { iss?: string; aud?: string; exp?: number | string } = {}): Promise<string> {
    const k = keys.find((x) => x.kid === kid);
    if (!k) throw new Error(`no key ${kid}`);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid })
      .setSubject('user-1')
      .setIssuer(claims.iss ?? issuer)
      .setAudience(claims.aud ?? 'permify')
      .setIssuedAt()
      .setExpirationTime(claims.exp ?? '5m')
      .sign(k.privateKey);
  }

  beforeAll(async () => {
    jwks = { keys: [] };
    issuerServer = http.createServer((req, res) => {
      if (req.url === '/.well-known/openid-configuration') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
      } else if (req.url === '/jwks') {
        jwksHits++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(jwks));
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => issuerServer.listen(0, '127.0.0.1', r));
    issuer = `http://127.0.0.1:${(issuerServer.address() as AddressInfo).port}`;
    await addKey('key-1');
    server = await startTestServer({
      'authn.enabled': 'true',
      'authn.method': 'oidc',
      'authn.oidc.issuer': issuer,
      'authn.oidc.audience': 'permify',
      'authn.oidc.backoff_frequency': '10ms',
      'authn.oidc.backoff_max_retries': '2',
    });
  });
  afterAll(async () => {
    await server.close();
    issuerServer.closeAllConnections();
    await new Promise((r) => issuerServer.close(r));
  });

  it('accepts a valid token on both transports', async () => {
    const t = await token('key-1');
    const res = await request(server.ports.http as number, 'POST', '/v1/tenants/list', listBody, { authorization: `Bearer ${t}` });
    expect(res.status, res.text).toBe(200);
    expect((await grpcTenantList(server.ports.grpc, t)).code).toBe(0);
  });

  it('rejects wrong issuer, wrong audience, expired, garbage and missing kid with 401 and Permify messages', async () => {
    const port = server.ports.http as number;
    const msg = async (t: string): Promise<[number, string]> => {
      const r = await request(port, 'POST', '/v1/tenants/list', listBody, { authorization: `Bearer ${t}` });
      return [r.status, (r.json as { message: string }).message];
    };
    expect(await msg(await token('key-1', { iss: 'https://evil.example' }))).toEqual([401, 'ERROR_CODE_INVALID_ISSUER']);
    expect(await msg(await token('key-1', { aud: 'other' }))).toEqual([401, 'ERROR_CODE_INVALID_AUDIENCE']);
    expect(await msg(await token('key-1', { exp: Math.floor(Date.now() / 1000) - 3600 }))).toEqual([401, 'ERROR_CODE_INVALID_CLAIMS']);
    expect(await msg('not.a.jwt')).toEqual([401, 'ERROR_CODE_INVALID_BEARER_TOKEN']);
    const noKid = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setIssuer(issuer).setAudience('permify').setExpirationTime('5m').sign(keys[0]!.privateKey);
    expect(await msg(noKid)).toEqual([401, 'ERROR_CODE_INVALID_BEARER_TOKEN']);
    expect((await grpcTenantList(server.ports.grpc, 'garbage')).code).toBe(16);
  });

  it('re-fetches the JWKS when a token names a key added after start-up (key rotation)', async () => {
    const before = jwksHits;
    await addKey('key-2');
    const t = await token('key-2');
    const res = await request(server.ports.http as number, 'POST', '/v1/tenants/list', listBody, { authorization: `Bearer ${t}` });
    expect(res.status, res.text).toBe(200);
    expect(jwksHits).toBeGreaterThan(before);
  });

  it('refuses to start when discovery fails', async () => {
    await expect(
      startTestServer({
        'authn.enabled': 'true',
        'authn.method': 'oidc',
        'authn.oidc.issuer': `${issuer}/missing`,
        'authn.oidc.audience': 'permify',
        'authn.oidc.backoff_frequency': '10ms',
        'authn.oidc.backoff_max_retries': '1',
      }),
    ).rejects.toThrow(/authn\.oidc\.issuer/);
  });
});

describe('rate limiting (global token bucket)', () => {
  let server: RunningServer;
  beforeAll(async () => {
    // 1 token/s with a burst of 5: the sixth immediate call must be refused.
    server = await startTestServer({ 'server.rate_limit': '1', 'server.rate_limit_burst': '5' });
  });
  afterAll(async () => server.close());

  it('REST answers 429 / RESOURCE_EXHAUSTED with Permify text, and gRPC shares the bucket', async () => {
    const port = server.ports.http as number;
    const statuses: number[] = [];
    let last: unknown;
    for (let i = 0; i < 8; i++) {
      const r = await request(port, 'POST', '/v1/tenants/list', listBody);
      statuses.push(r.status);
      last = r.json;
    }
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(6);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(2);
    expect(last).toEqual({
      code: 8,
      message: '/base.v1.Tenancy/List is rejected by grpc_ratelimit middleware, please retry later. rate limit exceeded',
      details: [],
    });
    const g = await grpcTenantList(server.ports.grpc);
    expect(g.code).toBe(8);
    const metrics = (await server.metrics.render());
    expect(metrics).toMatch(/permify_rate_limited_total [1-9]/);
    expect(g.details).toContain('is rejected by grpc_ratelimit middleware');
  });
});
