import { describe, expect, it } from 'vitest';
import { PermifyError } from '../../errors.js';
import { createRateLimiter } from './rate-limit.js';
import { bearerToken, createPresharedAuthenticator } from './auth.js';

describe('token bucket', () => {
  it('starts full, refuses when empty, refills at the configured rate', () => {
    let t = 0;
    const rl = createRateLimiter({ rate: 10, burst: 3, now: () => t });
    for (let i = 0; i < 3; i++) rl.take('/base.v1.Permission/Check');
    let err: unknown;
    try {
      rl.take('/base.v1.Permission/Check');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PermifyError);
    expect((err as PermifyError).grpcStatus).toBe(8);
    expect((err as PermifyError).httpStatus).toBe(429);
    expect((err as PermifyError).message).toBe(
      '/base.v1.Permission/Check is rejected by grpc_ratelimit middleware, please retry later. rate limit exceeded',
    );
    t += 100; // one token at 10/s
    expect(() => rl.take('/x/Y')).not.toThrow();
    expect(() => rl.take('/x/Y')).toThrow(PermifyError);
    t += 10_000; // never beyond capacity
    expect(rl.available()).toBe(3);
  });
  it('rate 0 disables limiting; negative rates are rejected naming the key', () => {
    const rl = createRateLimiter({ rate: 0 });
    for (let i = 0; i < 10_000; i++) rl.take('/x/Y');
    expect(() => createRateLimiter({ rate: -1 })).toThrow(/server\.rate_limit/);
  });
});

describe('bearer tokens and pre-shared keys', () => {
  it('parses `Bearer <token>` case-insensitively, everything after the first space', () => {
    expect(bearerToken({ authorization: 'Bearer abc def' })).toBe('abc def');
    expect(bearerToken({ authorization: 'bEaReR x' })).toBe('x');
    for (const h of [{} as Record<string, string>, { authorization: 'Bearer' }, { authorization: 'Basic x' }, { authorization: 'Bearer ' }]) {
      expect(() => bearerToken(h)).toThrow('ERROR_CODE_MISSING_BEARER_TOKEN');
    }
  });
  it('accepts exactly the configured keys', async () => {
    const a = createPresharedAuthenticator(['k1', 'k2']);
    await expect(a.authenticate({ authorization: 'Bearer k2' })).resolves.toBe('preshared');
    await expect(a.authenticate({ authorization: 'Bearer k3' })).rejects.toThrow('ERROR_CODE_INVALID_KEY');
    await expect(a.authenticate({ authorization: 'Bearer k' })).rejects.toThrow('ERROR_CODE_INVALID_KEY');
    expect(() => createPresharedAuthenticator([])).toThrow(/authn\.preshared\.keys/);
  });
});
