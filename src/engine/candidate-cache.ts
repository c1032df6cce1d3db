/**
 * LookupEntity candidate sets kept for continuation pages. The first page computes the complete candidate set
 * (spec §5.7.2); without this cache every continuation page recomputed it. Entries are keyed by tenant, request
 * hash, snap token and schema version, which together name an immutable answer, so an entry never goes stale
 * while its tenant exists; deleting the tenant purges them. Bounded by entries and by estimated bytes.
 *
 * An entry is the candidates as {@link LazySortedIds}, shared by the pages (and concurrent readers: every
 * method is synchronous), so sorting progresses with the pages instead of starting over.
 */
import { LRUCache } from 'lru-cache';
import type { LazySortedIds } from './ids.js';

export interface CandidateCache {
  get(key: string): LazySortedIds | undefined;
  /** Keeps `ids` (estimated `bytes`) unless it is heavier than the whole bound. */
  set(key: string, tenantId: string, ids: LazySortedIds, bytes: number): void;
  purgeTenant(tenantId: string): void;
  purgeAll(): void;
  readonly bytes: number;
}

/** Heap bytes per candidate besides its characters (array slot, string header). */
const perIdBytes = 32;

/** Estimated heap bytes of a candidate list (ids' lengths sampled: the list may hold millions). */
export function candidateBytes(ids: readonly string[]): number {
  const step = Math.max(1, Math.floor(ids.length / 256));
  let sampled = 0;
  let chars = 0;
  for (let i = 0; i < ids.length; i += step) {
    chars += (ids[i] as string).length;
    sampled++;
  }
  const meanChars = sampled === 0 ? 0 : chars / sampled;
  return Math.ceil(256 + ids.length * (perIdBytes + meanChars * 2));
}

export function candidateCacheKey(tenantId: string, requestHash: string, snapToken: string, version: string): string {
  return `${tenantId}\u0000${requestHash}\u0000${snapToken}\u0000${version}`;
}

/** A cache of about `maxBytes` (at most `maxEntries` entries); 0 disables it. */
export function createCandidateCache(maxEntries: number, maxBytes: number): CandidateCache {
  if (maxEntries <= 0 || maxBytes <= 0) {
    return { get: () => undefined, set: () => {}, purgeTenant: () => {}, purgeAll: () => {}, bytes: 0 };
  }
  const lru = new LRUCache<string, { readonly tenantId: string; readonly ids: LazySortedIds }>({
    max: maxEntries,
    maxSize: maxBytes,
  });
  return {
    get: (key) => lru.get(key)?.ids,
    set(key, tenantId, ids, bytes) {
      lru.set(key, { tenantId, ids }, { size: Math.max(1, bytes) });
    },
    purgeTenant(tenantId) {
      for (const [key, entry] of [...lru.entries()]) if (entry.tenantId === tenantId) lru.delete(key);
    },
    purgeAll() {
      lru.clear();
    },
    get bytes() {
      return lru.calculatedSize;
    },
  };
}
