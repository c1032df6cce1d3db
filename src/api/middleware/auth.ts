/**
 * Authentication of calls on both transports (api-and-operations §9.1): `Authorization: Bearer <token>`
 * (gRPC metadata `authorization`), checked against pre-shared keys or verified as an OpenID Connect JWT.
 * The health service is exempt (the caller decides: the pipeline's admission interceptor).
 *
 * Deliberate difference from Permify: every failure answers UNAUTHENTICATED (HTTP 401) instead of Permify's
 * UNKNOWN (HTTP 500); the message strings (ERROR_CODE_*) are kept.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { PermifyError, type ErrorCode } from '../../errors.js';
import { createOidcVerifier, type OidcOptions } from './oidc.js';

/** Verifies one bearer token; resolves to the principal (subject) or throws a PermifyError. */
export interface Authenticator {
  authenticate(headers: Readonly<Record<string, string>>): Promise<string>;
  close(): void;
}

export type AuthOptions =
  { readonly method: 'preshared'; readonly keys: readonly string[] } | ({ readonly method: 'oidc' } & OidcOptions);

/** UNAUTHENTICATED carrying a Permify error-code name as message. */
export function authError(code: ErrorCode): PermifyError {
  const e = new PermifyError(code, code);
  return e;
}

/** Extracts the token of `Bearer <token>` (scheme case-insensitive, token = everything after the first space). */
export function bearerToken(headers: Readonly<Record<string, string>>): string {
  const value = headers['authorization'];
  if (value === undefined) throw authError('ERROR_CODE_MISSING_BEARER_TOKEN');
  const space = value.indexOf(' ');
  if (space < 0) throw authError('ERROR_CODE_MISSING_BEARER_TOKEN');
  if (value.slice(0, space).toLowerCase() !== 'bearer') throw authError('ERROR_CODE_MISSING_BEARER_TOKEN');
  const token = value.slice(space + 1);
  if (token === '') throw authError('ERROR_CODE_MISSING_BEARER_TOKEN');
  return token;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Pre-shared keys: the raw token must equal one configured key (compared in constant time per key). */
export function createPresharedAuthenticator(keys: readonly string[]): Authenticator {
  if (keys.length === 0) {
    throw new PermifyError(
      'ERROR_CODE_VALIDATION',
      'invalid configuration: authn.preshared.keys: at least one key is required',
      {
        details: { limit: 'authn.preshared.keys' },
      },
    );
  }
  const digests = keys.map(digest);
  return {
    async authenticate(headers) {
      const d = digest(bearerToken(headers));
      let ok = false;
      for (const k of digests) ok = timingSafeEqual(k, d) || ok;
      if (!ok) throw authError('ERROR_CODE_INVALID_KEY');
      return 'preshared';
    },
    close() {},
  };
}

/** Builds the authenticator for the configured method (OIDC performs discovery, so it is async). */
export async function createAuthenticator(options: AuthOptions): Promise<Authenticator> {
  if (options.method === 'preshared') return createPresharedAuthenticator(options.keys);
  const verifier = await createOidcVerifier(options);
  return {
    async authenticate(headers) {
      return verifier.verify(bearerToken(headers));
    },
    close: () => verifier.close(),
  };
}
