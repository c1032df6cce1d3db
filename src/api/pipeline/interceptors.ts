/**
 * The standard interceptors, in Permify's order: validation (unary requests: invalid requests never take a
 * rate-limit token), rate limit, authentication (the principal reaches the handler context), then, after
 * the call, metrics and a debug log line. Server-streaming requests are validated by the handler after
 * admission, as in Permify.
 */
import { GrpcStatus } from '../../errors.js';
import type { HandlerLogger } from '../handlers/types.js';
import { validateMessage } from '../handlers/deps.js';
import type { Authenticator } from '../middleware/auth.js';
import type { RateLimiter } from '../middleware/rate-limit.js';
import type { Metrics } from '../../observability/metrics.js';
import { statusName, type Call, type Interceptor } from './invoke.js';

/** The health service answers without authentication (it is still rate limited). */
const HEALTH_SERVICE = 'grpc.health.v1.Health';

export function validation(): Interceptor {
  return {
    before(call, request) {
      if (!call.entry.streaming && request !== null && typeof request === 'object' && '$typeName' in request) {
        validateMessage(request as { $typeName: string });
        call.requestValidated = true;
      }
    },
  };
}

export interface AdmissionInterceptorOptions {
  readonly rateLimiter?: RateLimiter;
  readonly authenticator?: Authenticator;
}

/** The global token bucket, then authentication; the principal is recorded on the call. */
export function admission(options: AdmissionInterceptorOptions): Interceptor {
  const { rateLimiter, authenticator } = options;
  return {
    before(call) {
      rateLimiter?.take(`/${call.entry.service}/${call.entry.method}`);
      if (authenticator === undefined || call.entry.service === HEALTH_SERVICE) return;
      const authorization = call.header('authorization');
      return authenticator.authenticate(authorization === undefined ? {} : { authorization }).then((principal) => {
        call.principal = principal;
      });
    },
  };
}

/** A caller-supplied admission hook of the older shape (`{ service, method, headers }`), e.g. from tests. */
export function beforeCallHook(
  hook: (info: { service: string; method: string; headers: Record<string, string> }) => Promise<void> | void,
): Interceptor {
  return {
    before(call) {
      return hook({ service: call.entry.service, method: call.entry.method, headers: call.headers() });
    },
  };
}

/**
 * Counts every finished call: gRPC and Connect/gRPC-Web calls by status name, REST requests by HTTP status
 * (the labels the metrics have always had); calls refused by the token bucket also count in
 * `permify_rate_limited_total`.
 */
export function metricsInterceptor(metrics: Metrics): Interceptor {
  return {
    after(call, error) {
      if (error?.code === 'RATE_LIMITED') metrics.rateLimited();
      const code = call.transport === 'rest' ? String(error === undefined ? 200 : error.httpStatus) : statusName(error);
      metrics.observe(call.transport, call.entry.rpc, code, (performance.now() - call.startedMs) / 1000);
    },
  };
}

/**
 * One debug line per finished call and one error line per INTERNAL failure (its cause is logged, never
 * sent). The debug line, and the request id it carries, are only built when debug logging is on.
 */
export function logging(logger: HandlerLogger & { isLevelEnabled?: (level: string) => boolean }): Interceptor {
  const debug = logger.isLevelEnabled?.('debug') ?? true;
  return {
    after(call: Call, error) {
      if (error !== undefined && error.grpcStatus === GrpcStatus.INTERNAL) {
        call.logger.error({ rpc: call.entry.rpc, code: error.code, err: error.cause ?? error }, 'rpc failed');
      }
      if (!debug) return;
      call.logger.debug(
        {
          transport: call.transport,
          rpc: call.entry.rpc,
          requestId: call.requestId,
          code: statusName(error),
          ms: performance.now() - call.startedMs,
        },
        'call finished',
      );
    },
  };
}
