/**
 * OpenID Connect bearer-token verification (api-and-operations §9.1) on `jose`.
 *
 * Start-up: GET `<issuer>/.well-known/openid-configuration` (retried), which must name `issuer` and
 * `jwks_uri`, then fetch the JWKS; any failure rejects (the server refuses to start). The key set is
 * refreshed every `refreshIntervalMs` in the background and re-fetched when a token names an unknown `kid`:
 * up to `backoffMaxRetries` re-fetches `backoffFrequencyMs` apart, with a global budget of that many
 * re-fetches per `backoffIntervalMs` so that a flood of bogus kids cannot turn into a flood of JWKS requests.
 *
 * Verification: `kid` is mandatory, algorithm in `validMethods`, exp/nbf/iat enforced with `leewayMs`,
 * `iss` equal to the configured issuer, `aud` containing the audience. Failures are PermifyErrors with
 * Permify's ERROR_CODE_* names (gRPC UNAUTHENTICATED).
 */
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose';
import { PermifyError, type ErrorCode } from '../../errors.js';

export interface OidcOptions {
  readonly issuer: string;
  readonly audience: string;
  readonly refreshIntervalMs: number;
  readonly backoffIntervalMs: number;
  readonly backoffFrequencyMs: number;
  readonly backoffMaxRetries: number;
  readonly validMethods: readonly string[];
  readonly leewayMs?: number;
  /** Timeout of each HTTP request to the issuer (default 5 000). */
  readonly fetchTimeoutMs?: number;
}

export interface OidcVerifier {
  /** Resolves to the token's `sub` (or "" when absent); throws a PermifyError. */
  verify(token: string): Promise<string>;
  /** Number of JWKS fetches so far (tests observe refresh behaviour). */
  readonly jwksFetches: () => number;
  close(): void;
}

const fail = (code: ErrorCode): PermifyError => new PermifyError(code, code);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function getJson(url: string, timeoutMs: number): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.json();
}

function startupError(message: string, cause?: unknown): PermifyError {
  return new PermifyError('ERROR_CODE_VALIDATION', `invalid configuration: authn.oidc.issuer: ${message}`, {
    cause,
    details: { limit: 'authn.oidc.issuer' },
  });
}

export async function createOidcVerifier(options: OidcOptions): Promise<OidcVerifier> {
  const timeoutMs = options.fetchTimeoutMs ?? 5000;
  const base = options.issuer.replace(/\/+$/, '');
  const attempts = Math.max(1, options.backoffMaxRetries);

  let discovery: { issuer?: unknown; jwks_uri?: unknown } | undefined;
  let lastError: unknown;
  for (let i = 0; i < attempts && discovery === undefined; i++) {
    try {
      discovery = (await getJson(`${base}/.well-known/openid-configuration`, timeoutMs)) as typeof discovery;
    } catch (e) {
      lastError = e;
      if (i + 1 < attempts) await sleep(Math.min(options.backoffFrequencyMs, 1000));
    }
  }
  if (discovery === undefined) throw startupError('discovery failed', lastError);
  if (
    typeof discovery.issuer !== 'string' ||
    discovery.issuer === '' ||
    typeof discovery.jwks_uri !== 'string' ||
    discovery.jwks_uri === ''
  ) {
    throw startupError('discovery document lacks issuer or jwks_uri');
  }
  const jwksUri = discovery.jwks_uri;

  let fetches = 0;
  const fetchKeys = async (): Promise<JWTVerifyGetKey> => {
    fetches++;
    const set = (await getJson(jwksUri, timeoutMs)) as JSONWebKeySet;
    if (!set || !Array.isArray(set.keys)) throw new Error('JWKS has no keys array');
    return createLocalJWKSet(set);
  };
  let keys: JWTVerifyGetKey;
  try {
    keys = await fetchKeys();
  } catch (e) {
    throw startupError('fetching the JWKS failed', e);
  }

  let closed = false;
  const refreshTimer = setInterval(
    () => {
      fetchKeys().then(
        (k) => {
          keys = k;
        },
        () => undefined, // keep the previous key set; the next refresh or an unknown kid retries
      );
    },
    Math.max(1000, options.refreshIntervalMs),
  );
  refreshTimer.unref();

  // Global re-fetch budget for unknown kids.
  let windowStart = Date.now();
  let refetchesInWindow = 0;
  let refetching: Promise<void> | undefined;
  const refetchForUnknownKid = async (): Promise<boolean> => {
    const now = Date.now();
    if (now - windowStart >= options.backoffIntervalMs) {
      windowStart = now;
      refetchesInWindow = 0;
    }
    if (refetchesInWindow >= options.backoffMaxRetries || closed) return false;
    refetchesInWindow++;
    // Concurrent callers share one in-flight re-fetch.
    refetching ??= (async () => {
      try {
        keys = await fetchKeys();
      } finally {
        refetching = undefined;
      }
    })();
    try {
      await refetching;
      return true;
    } catch {
      return false;
    }
  };

  const verifyOnce = async (token: string): Promise<string> => {
    const { payload } = await jwtVerify(token, keys, {
      algorithms: [...options.validMethods],
      issuer: options.issuer,
      audience: options.audience,
      clockTolerance: Math.round((options.leewayMs ?? 0) / 1000),
    });
    return typeof payload.sub === 'string' ? payload.sub : '';
  };

  const classify = (e: unknown): PermifyError => {
    if (e instanceof joseErrors.JWTClaimValidationFailed) {
      if (e.claim === 'iss') return fail('ERROR_CODE_INVALID_ISSUER');
      if (e.claim === 'aud') return fail('ERROR_CODE_INVALID_AUDIENCE');
      return fail('ERROR_CODE_INVALID_CLAIMS');
    }
    if (e instanceof joseErrors.JWTExpired) return fail('ERROR_CODE_INVALID_CLAIMS');
    return fail('ERROR_CODE_INVALID_BEARER_TOKEN');
  };

  return {
    async verify(token) {
      let header;
      try {
        header = decodeProtectedHeader(token);
      } catch {
        throw fail('ERROR_CODE_INVALID_BEARER_TOKEN');
      }
      if (typeof header.kid !== 'string' || header.kid === '') throw fail('ERROR_CODE_INVALID_BEARER_TOKEN');
      for (let attempt = 0; ; attempt++) {
        try {
          return await verifyOnce(token);
        } catch (e) {
          const unknownKid = e instanceof joseErrors.JWKSNoMatchingKey;
          if (!unknownKid || attempt >= options.backoffMaxRetries) throw classify(e);
          if (attempt > 0) await sleep(options.backoffFrequencyMs);
          if (!(await refetchForUnknownKid())) throw classify(e);
        }
      }
    },
    jwksFetches: () => fetches,
    close() {
      closed = true;
      clearInterval(refreshTimer);
    },
  };
}
