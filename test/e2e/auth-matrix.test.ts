/**
 * Authentication matrix on both transports (REST and gRPC) against the real server: pre-shared keys, and OIDC
 * against a real local issuer (node:http serving discovery + JWKS for keys made here with jose) that can be
 * taken down. Every bad credential is UNAUTHENTICATED (gRPC 16, HTTP 401) with Permify's ERROR_CODE_* text;
 * valid credentials pass.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { SignJWT, base64url, exportJWK, exportSPKI, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantListRequestSchema, TenantListResponseSchema } from '../../src/api/gen/base/v1/service_pb.js';
import type { RunningServer } from '../../src/server.js';
import { request, startTestServer } from './rest-support.js';

type KeyLike = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
type Outcome = readonly [number, string];

/** base.v1.Tenancy/List over gRPC with a raw `authorization` value; [status code, details] (0 = OK). */
function grpcCall(port: number, authorization?: string): Promise<Outcome> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  if (authorization !== undefined) md.set('authorization', authorization);
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      '/base.v1.Tenancy/List',
      (m: Uint8Array) => Buffer.from(m),
      (b: Buffer) => fromBinary(TenantListResponseSchema, b),
      toBinary(TenantListRequestSchema, create(TenantListRequestSchema, { pageSize: 10 })),
      md,
      { deadline: Date.now() + 10_000 },
      (err) => {
        client.close();
        resolve(err ? [err.code, err.details] : [0, '']);
      },
    );
  });
}

/** POST /v1/tenants/list with a raw `authorization` value; [HTTP status, message] ("" on success). */
async function restCall(port: number, authorization?: string): Promise<Outcome> {
  const res = await request(
    port,
    'POST',
    '/v1/tenants/list',
    { page_size: 10 },
    authorization === undefined ? {} : { authorization },
  );
  return [res.status, res.status === 200 ? '' : ((res.json as { message?: string } | undefined)?.message ?? res.text)];
}

/** The same credential on both transports. */
async function both(server: RunningServer, authorization?: string): Promise<{ rest: Outcome; grpc: Outcome }> {
  const [rest, g] = await Promise.all([
    restCall(server.ports.http as number, authorization),
    grpcCall(server.ports.grpc, authorization),
  ]);
  return { rest, grpc: g };
}

const ok = { rest: [200, ''], grpc: [0, ''] };
const denied = (message: string) => ({ rest: [401, message], grpc: [16, message] });

describe('auth matrix: pre-shared keys', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer({
      'authn.enabled': 'true',
      'authn.method': 'preshared',
      'authn.preshared.keys': 'k1,k2',
    });
  });
  afterAll(async () => server.close());

  it.each([
    ['no authorization header', undefined, denied('ERROR_CODE_MISSING_BEARER_TOKEN')],
    ['another scheme', 'Basic k1', denied('ERROR_CODE_MISSING_BEARER_TOKEN')],
    ['an empty bearer token', 'Bearer ', denied('ERROR_CODE_MISSING_BEARER_TOKEN')],
    ['a wrong key', 'Bearer k3', denied('ERROR_CODE_INVALID_KEY')],
    ['a prefix of a key', 'Bearer k', denied('ERROR_CODE_INVALID_KEY')],
    ['the first key', 'Bearer k1', ok],
    ['the second key, scheme in lower case', 'bearer k2', ok],
  ])('%s', async (_name, authorization, want) => {
    expect(await both(server, authorization)).toEqual(want);
  });
});

describe('auth matrix: OIDC against a local issuer', () => {
  let issuerServer: http.Server;
  let issuer: string;
  let issuerDown = false;
  let jwksHits = 0;
  const jwks: { keys: JWK[] } = { keys: [] };
  const privateKeys = new Map<string, KeyLike>();
  let publicPem = '';
  let server: RunningServer;

  async function addKey(kid: string): Promise<void> {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    jwks.keys.push({ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' });
    privateKeys.set(kid, privateKey);
    if (publicPem === '') publicPem = await exportSPKI(publicKey);
  }

  interface Claims {
    readonly kid?: string;
    readonly iss?: string;
    readonly aud?: string;
    readonly exp?: number | string;
    readonly nbf?: number | string;
  }

  async function token(claims: Claims = {}): Promise<string> {
    const kid = claims.kid ?? 'key-1';
    const key = privateKeys.get(kid) ?? privateKeys.get('key-1');
    if (key === undefined) throw new Error('no signing key');
    const jwt = new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid })
      .setSubject('user-1')
      .setIssuer(claims.iss ?? issuer)
      .setAudience(claims.aud ?? 'permify')
      .setIssuedAt()
      .setExpirationTime(claims.exp ?? '5m');
    if (claims.nbf !== undefined) jwt.setNotBefore(claims.nbf);
    return jwt.sign(key);
  }

  function claimsOf(): Record<string, unknown> {
    const now = Math.floor(Date.now() / 1000);
    return { sub: 'user-1', iss: issuer, aud: 'permify', iat: now, exp: now + 300 };
  }

  /** `alg: none` with a known kid and valid claims. */
  function unsignedToken(): string {
    const header = base64url.encode(JSON.stringify({ alg: 'none', kid: 'key-1' }));
    return `${header}.${base64url.encode(JSON.stringify(claimsOf()))}.`;
  }

  /** HS256 "signed" with the RSA public key as the HMAC secret (algorithm confusion). */
  async function confusedToken(): Promise<string> {
    return new SignJWT(claimsOf())
      .setProtectedHeader({ alg: 'HS256', kid: 'key-1' })
      .sign(new TextEncoder().encode(publicPem));
  }

  beforeAll(async () => {
    issuerServer = http.createServer((req, res) => {
      if (issuerDown) {
        req.socket.destroy();
        return;
      }
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
      'authn.oidc.backoff_frequency': '20ms',
      'authn.oidc.backoff_max_retries': '2',
      // Long enough that a global budget, once spent, would still be spent when the rotated key arrives.
      'authn.oidc.backoff_interval': '60s',
    });
  });
  afterAll(async () => {
    await server.close();
    issuerServer.closeAllConnections();
    await new Promise((r) => issuerServer.close(r));
  });

  it.each<[string, () => Promise<string> | string, object]>([
    ['a valid token', () => token(), ok],
    ['another audience', () => token({ aud: 'other' }), denied('ERROR_CODE_INVALID_AUDIENCE')],
    ['another issuer', () => token({ iss: 'https://evil.example' }), denied('ERROR_CODE_INVALID_ISSUER')],
    [
      'an expired token',
      () => token({ exp: Math.floor(Date.now() / 1000) - 3600 }),
      denied('ERROR_CODE_INVALID_CLAIMS'),
    ],
    ['a token not valid before a future time', () => token({ nbf: '10m' }), denied('ERROR_CODE_INVALID_CLAIMS')],
    ['alg none', () => unsignedToken(), denied('ERROR_CODE_INVALID_BEARER_TOKEN')],
    ['HS256 keyed with the RSA public key', () => confusedToken(), denied('ERROR_CODE_INVALID_BEARER_TOKEN')],
    [
      'a tampered payload',
      async () => {
        const [h, , sig] = (await token()).split('.');
        return `${h}.${base64url.encode(JSON.stringify({ ...claimsOf(), sub: 'admin' }))}.${sig}`;
      },
      denied('ERROR_CODE_INVALID_BEARER_TOKEN'),
    ],
    [
      'a token without kid',
      async () => {
        const key = privateKeys.get('key-1') as KeyLike;
        return new SignJWT(claimsOf()).setProtectedHeader({ alg: 'RS256' }).sign(key);
      },
      denied('ERROR_CODE_INVALID_BEARER_TOKEN'),
    ],
    ['garbage', () => 'not.a.jwt', denied('ERROR_CODE_INVALID_BEARER_TOKEN')],
  ])('%s', async (_name, make, want) => {
    expect(await both(server, `Bearer ${await make()}`)).toEqual(want);
  });

  it('an unknown kid is refused; it does not stop a correctly rotated key (per-kid budget, negative cache)', async () => {
    const start = jwksHits;
    // Signed by key-1 but naming a kid the issuer does not publish.
    expect(await both(server, `Bearer ${await token({ kid: 'bogus' })}`)).toEqual(
      denied('ERROR_CODE_INVALID_BEARER_TOKEN'),
    );
    const afterBogus = jwksHits;
    expect(afterBogus - start).toBeGreaterThan(0);
    expect(afterBogus - start).toBeLessThanOrEqual(4); // two fresh fetches, shared by both transports' calls
    // The same bogus kid again: refused from the negative cache, without asking the issuer.
    const t0 = performance.now();
    expect(await both(server, `Bearer ${await token({ kid: 'bogus' })}`)).toEqual(
      denied('ERROR_CODE_INVALID_BEARER_TOKEN'),
    );
    expect(jwksHits).toBe(afterBogus);
    expect(performance.now() - t0).toBeLessThan(1000);
    // A flood of distinct bogus kids costs at most one JWKS request per backoff_frequency (20 ms), not one each.
    const floodTokens = await Promise.all(Array.from({ length: 20 }, (_, i) => token({ kid: `flood-${i}` })));
    const floodStart = performance.now();
    const flood = await Promise.all(floodTokens.map((t) => restCall(server.ports.http as number, `Bearer ${t}`)));
    const floodMs = performance.now() - floodStart;
    expect(flood.every(([status]) => status === 401)).toBe(true);
    expect(jwksHits - afterBogus).toBeLessThanOrEqual(2 + Math.ceil(floodMs / 20));
    expect(jwksHits - afterBogus).toBeLessThan(20);
    // ...and a key the issuer rotated in afterwards is still fetched and accepted at once.
    await addKey('key-2');
    expect(await both(server, `Bearer ${await token({ kid: 'key-2' })}`)).toEqual(ok);
  });

  it('issuer down: cached keys still verify, unknown kids are refused promptly (never a hang or a 500)', async () => {
    await addKey('key-3'); // published, but the server never fetched it
    issuerDown = true;
    try {
      expect(await both(server, `Bearer ${await token()}`)).toEqual(ok);
      const t0 = performance.now();
      expect(await both(server, `Bearer ${await token({ kid: 'key-3' })}`)).toEqual(
        denied('ERROR_CODE_INVALID_BEARER_TOKEN'),
      );
      expect(await both(server, `Bearer ${await token({ kid: 'never-seen' })}`)).toEqual(
        denied('ERROR_CODE_INVALID_BEARER_TOKEN'),
      );
      expect(performance.now() - t0).toBeLessThan(3000);
    } finally {
      issuerDown = false;
    }
    // The issuer is back: key-3 was not remembered as unknown while it was down, so it is fetched now.
    expect(await both(server, `Bearer ${await token({ kid: 'key-3' })}`)).toEqual(ok);
  });
});
