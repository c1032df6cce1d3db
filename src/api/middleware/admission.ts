/**
 * Admission control shared by the gRPC and REST transports: the `beforeCall` hook. Order (as Permify's
 * interceptor chain, after validation): rate limit, then authentication. The health service is exempt from
 * authentication but still rate limited.
 */
import type { Authenticator } from './auth.js';
import type { RateLimiter } from './rate-limit.js';

export interface AdmissionCall {
  /** Full service name, e.g. `base.v1.Permission`. */
  readonly service: string;
  readonly method: string;
  /** Lower-case header / metadata names. */
  readonly headers: Readonly<Record<string, string>>;
}

export interface AdmissionOptions {
  readonly rateLimiter?: RateLimiter;
  readonly authenticator?: Authenticator;
}

/** Returns the hook; it throws a PermifyError (RESOURCE_EXHAUSTED or UNAUTHENTICATED) to refuse a call. */
export function createAdmission(options: AdmissionOptions): (call: AdmissionCall) => Promise<void> {
  const { rateLimiter, authenticator } = options;
  return async (call) => {
    rateLimiter?.take(`/${call.service}/${call.method}`);
    if (authenticator && call.service !== 'grpc.health.v1.Health') {
      await authenticator.authenticate(call.headers);
    }
  };
}
