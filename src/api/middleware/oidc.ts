/**
 * OpenID Connect bearer-token verification (api-and-operations §9.1) on `jose`.
 *
 * Start-up: GET `<issuer>/.well-known/openid-configuration` (retried), which must name `issuer` and
 * `jwks_uri`, then fetch the JWKS; any failure rejects (the server refuses to start). The key set is
 * refreshed every `refreshIntervalMs` in the background and re-fetched when a token names an unknown `kid`:
 * up to `backoffMaxRetries` fresh fetches per kid, shared by all callers and never closer than
 * `backoffFrequencyMs` apart, so a flood of bogus kids cannot turn into a flood of JWKS requests; a kid still
 * unknown after its fetches is refused without fetching for `backoffIntervalMs` (a bounded negative cache),
 * while a new kid (a rotation) always gets its own fetches. When the issuer cannot be reached, tokens whose
 * key is cached still verify and unknown kids are refused.
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

  // Unknown kids. JWKS fetches for unknown kids are coalesced and spaced at least `backoffFrequencyMs` apart, so
  // any number of bogus kids costs the issuer at most one request per `backoffFrequencyMs`; each kid then has its
  // own budget of `backoffMaxRetries` fresh fetches, after which it is remembered as unknown (negative cache) for
  // `backoffIntervalMs`. A global budget instead would let one bogus kid block a correctly rotated key for the
  // whole window.
  const gapMs = Math.max(1, options.backoffFrequencyMs);
  let lastFetchStart = Number.NEGATIVE_INFINITY;
  let inFlight: { readonly startedAt: number; readonly done: Promise<boolean> } | undefined;
  const unknownUntil = new Map<string, number>(); // kid (and alg) -> expiry, oldest first
  const unknownLimit = 1024;

  /** Starts a JWKS fetch now; resolves to whether it succeeded (a failure keeps the previous key set). */
  const startFetch = (): Promise<boolean> => {
    const startedAt = Date.now();
    lastFetchStart = startedAt;
    const done = fetchKeys().then(
      (k) => {
        keys = k;
        return true;
      },
      () => false,
    );
    const entry = { startedAt, done };
    inFlight = entry;
    void done.then(() => {
      if (inFlight === entry) inFlight = undefined;
    });
    return done;
  };

  /** Resolves once a JWKS fetch started no earlier than `since` has finished; true when it succeeded. */
  const fetchedSince = async (since: number): Promise<boolean> => {
    for (;;) {
      if (closed) return false;
      const current = inFlight;
      if (current !== undefined) {
        const ok = await current.done;
        if (current.startedAt >= since) return ok;
        continue;
      }
      const waitMs = lastFetchStart + gapMs - Date.now();
      if (waitMs <= 0) return startFetch();
      await sleep(waitMs);
    }
  };

  const isKnownUnknown = (key: string): boolean => {
    const until = unknownUntil.get(key);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    unknownUntil.delete(key);
    return false;
  };

  const rememberUnknown = (key: string): void => {
    unknownUntil.delete(key);
    if (unknownUntil.size >= unknownLimit) unknownUntil.delete(unknownUntil.keys().next().value as string);
    unknownUntil.set(key, Date.now() + options.backoffIntervalMs);
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
      const unknownKey = `${header.kid}\u0000${String(header.alg)}`;
      for (let attempt = 0; ; attempt++) {
        const since = Date.now();
        try {
          return await verifyOnce(token);
        } catch (e) {
          if (!(e instanceof joseErrors.JWKSNoMatchingKey)) throw classify(e);
          if (attempt >= options.backoffMaxRetries || (attempt === 0 && isKnownUnknown(unknownKey))) {
            if (attempt > 0) rememberUnknown(unknownKey);
            throw classify(e);
          }
          // An issuer that cannot be reached says nothing about the kid: fail without remembering it.
          if (!(await fetchedSince(since))) throw classify(e);
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
