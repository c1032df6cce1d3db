/**
 * The global token bucket (api-and-operations §9.3): one bucket per process shared by every RPC of both
 * transports. Capacity = `burst` (default: `rate`), refilled continuously at `rate` tokens per second, starts
 * full. Each admitted call takes one token; an empty bucket answers RESOURCE_EXHAUSTED (HTTP 429) with
 * Permify's message text. `rate` 0 disables the limiter.
 */
import { PermifyError } from '../../errors.js';

export interface RateLimiterOptions {
  /** Tokens per second; 0 disables limiting. */
  readonly rate: number;
  /** Bucket capacity; 0 or absent = `rate`. */
  readonly burst?: number;
  /** Monotonic clock in milliseconds (tests inject a fake one). Default `performance.now`. */
  readonly now?: () => number;
}

export interface RateLimiter {
  /** Takes one token or throws RATE_LIMITED naming the full method (`/base.v1.Permission/Check`). */
  take(fullMethod: string): void;
  /** Tokens currently available (fractional), for tests and metrics. */
  available(): number;
}

export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const rate = options.rate;
  if (!Number.isFinite(rate) || rate < 0) {
    throw new PermifyError('ERROR_CODE_VALIDATION', `server.rate_limit must be >= 0, got ${rate}`, {
      details: { limit: 'server.rate_limit' },
    });
  }
  const capacity = options.burst !== undefined && options.burst > 0 ? options.burst : rate;
  const now = options.now ?? (() => performance.now());
  let tokens = capacity;
  let last = now();
  const refill = (): void => {
    const t = now();
    if (t > last) {
      tokens = Math.min(capacity, tokens + ((t - last) * rate) / 1000);
      last = t;
    }
  };
  return {
    take(fullMethod) {
      if (rate === 0) return;
      refill();
      if (tokens >= 1) {
        tokens -= 1;
        return;
      }
      throw new PermifyError(
        'RATE_LIMITED',
        `${fullMethod} is rejected by grpc_ratelimit middleware, please retry later. rate limit exceeded`,
      );
    },
    available() {
      refill();
      return rate === 0 ? Number.POSITIVE_INFINITY : tokens;
    },
  };
}
