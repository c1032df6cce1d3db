import { describe, expect, it } from 'vitest';
import { checkCacheKey, createCheckCache, maxCheckCacheKeyChars } from './check-cache.js';

const entity = { type: 'doc', id: '1' };
const subject = { type: 'user', id: 'u', relation: '' };

describe('check cache keys', () => {
  it('a request whose context makes the key too long is answered but not cached (nothing pinned)', () => {
    const cache = createCheckCache(1000, 10 * 1024 * 1024);
    const small = checkCacheKey('t1', 'v1', 'tok', '', entity, 'view', subject, undefined);
    cache.set(small, 5, 'allowed');
    expect(cache.get(small, 5)).toBe('allowed');

    const bigContext = 'doc:1#owner@user:x,'.repeat(500);
    const big = checkCacheKey('t1', 'v1', 'tok', bigContext, entity, 'view', subject, undefined);
    expect(big.length).toBeGreaterThan(maxCheckCacheKeyChars);
    const bytesBefore = cache.bytes;
    cache.set(big, 5, 'allowed');
    expect(cache.get(big, 5)).toBeUndefined();
    expect(cache.size).toBe(1);
    expect(cache.bytes).toBe(bytesBefore);
  });
});
