/**
 * The check cache: a bounded LRU of Check results keyed by tenant, resolved schema version, resolved snap
 * token, context and the full request. Because the version and the snap token name immutable states, an
 * entry can never be stale; new writes produce new tokens and old entries just age out.
 *
 * Each entry also records the depth budget it was computed with, and is only served to requests with at least
 * that budget: a result that completed without error is the true answer, but a shallower request might have
 * had to fail with DEPTH_NOT_ENOUGH, and serving it the answer would make results depend on cache history.
 *
 * Bounded by entries and by estimated bytes (keys embed the request, so their size varies widely; a key longer
 * than {@link maxCheckCacheKeyChars} is not cached at all). Deleting a
 * tenant purges its entries: its old versions and snap tokens must not answer after the tenant is re-created.
 */
import { LRUCache } from 'lru-cache';
import type { Entity, Subject } from '../data/types.js';
import type { CheckResult } from './types.js';

export interface CheckCache {
  get(key: string, depth: number): CheckResult | undefined;
  set(key: string, depth: number, result: CheckResult): void;
  /** Drops every entry of the tenant. */
  purgeTenant(tenantId: string): void;
  purgeAll(): void;
  readonly size: number;
  /** Estimated bytes held. */
  readonly bytes: number;
}

/** Estimated heap bytes of one entry besides its key (LRU slots, map entry, the number). */
const entryOverheadBytes = 96;

/**
 * Longest key the cache keeps (UTF-16 units). Keys embed the request's context, and a request with a large
 * context (many contextual tuples/attributes, big `data`) is rarely repeated verbatim: its answer is not
 * cached, instead of one entry pinning kilobytes and pushing hundreds of small ones out.
 */
export const maxCheckCacheKeyChars = 2048;

/** Estimated heap bytes of an entry keyed `key` (two bytes per UTF-16 unit: the worst case). */
export function checkCacheEntryBytes(key: string): number {
  return entryOverheadBytes + key.length * 2;
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

/**
 * A cache of at most `maxEntries` entries and about `maxBytes` bytes; either 0 disables caching (every get
 * misses, set is a no-op).
 */
export function createCheckCache(maxEntries: number, maxBytes: number): CheckCache {
  if (maxEntries <= 0 || maxBytes <= 0) {
    return { get: () => undefined, set: () => {}, purgeTenant: () => {}, purgeAll: () => {}, size: 0, bytes: 0 };
  }
  // value = depth * 2 + (allowed ? 1 : 0)
  const lru = new LRUCache<string, number>({
    max: maxEntries,
    maxSize: maxBytes,
    sizeCalculation: (_value, key) => checkCacheEntryBytes(key),
  });
  return {
    get(key, depth) {
      if (key.length > maxCheckCacheKeyChars) return undefined;
      const v = lru.get(key);
      if (v === undefined || v >> 1 > depth) return undefined;
      return (v & 1) === 1 ? 'allowed' : 'denied';
    },
    set(key, depth, result) {
      if (key.length > maxCheckCacheKeyChars) return;
      const prev = lru.peek(key);
      // Keep the entry usable by the shallowest requests.
      if (prev !== undefined && prev >> 1 <= depth) return;
      lru.set(key, depth * 2 + (result === 'allowed' ? 1 : 0));
    },
    purgeTenant(tenantId) {
      const prefix = `${tenantId}\u0000`;
      for (const key of [...lru.keys()]) if (key.startsWith(prefix)) lru.delete(key);
    },
    purgeAll() {
      lru.clear();
    },
    get size() {
      return lru.size;
    },
    get bytes() {
      return lru.calculatedSize;
    },
  };
}
