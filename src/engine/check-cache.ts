/**
 * The check cache: a bounded LRU of Check results keyed by tenant, resolved schema version, resolved snap
 * token, context and the full request. Because the version and the snap token name immutable states, an
 * entry can never be stale; new writes produce new tokens and old entries just age out.
 *
 * Each entry also records the depth budget it was computed with, and is only served to requests with at least
 * that budget: a result that completed without error is the true answer, but a shallower request might have
 * had to fail with DEPTH_NOT_ENOUGH, and serving it the answer would make results depend on cache history.
 */
import { LRUCache } from 'lru-cache';
import type { Entity, Subject } from '../data/types.js';
import type { CheckResult } from './types.js';

export interface CheckCache {
  get(key: string, depth: number): CheckResult | undefined;
  set(key: string, depth: number, result: CheckResult): void;
  readonly size: number;
}

export function checkCacheKey(
  tenantId: string,
  schemaVersion: string,
  snapToken: string,
  contextKey: string,
  entity: Entity,
  permission: string,
  subject: Subject,
  args: readonly string[] | undefined,
): string {
  let k = `${tenantId}\u0000${schemaVersion}\u0000${snapToken}\u0000${contextKey}\u0000${entity.type}:${entity.id}#${permission}@${subject.type}:${subject.id}#${subject.relation}`;
  if (args !== undefined && args.length > 0) k += `\u0000${args.join(',')}`;
  return k;
}

/** A cache of `maxEntries` entries; 0 disables caching (every get misses, set is a no-op). */
export function createCheckCache(maxEntries: number): CheckCache {
  if (maxEntries <= 0) {
    return { get: () => undefined, set: () => {}, size: 0 };
  }
  // value = depth * 2 + (allowed ? 1 : 0)
  const lru = new LRUCache<string, number>({ max: maxEntries });
  return {
    get(key, depth) {
      const v = lru.get(key);
      if (v === undefined || v >> 1 > depth) return undefined;
      return (v & 1) === 1 ? 'allowed' : 'denied';
    },
    set(key, depth, result) {
      const prev = lru.peek(key);
      // Keep the entry usable by the shallowest requests.
      if (prev !== undefined && prev >> 1 <= depth) return;
      lru.set(key, depth * 2 + (result === 'allowed' ? 1 : 0));
    },
    get size() {
      return lru.size;
    },
  };
}
