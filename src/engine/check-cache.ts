/**
 * The check cache: a bounded LRU of Check results keyed by tenant, resolved schema version, resolved snap
 * token, context and the request's entity, permission, subject and arguments. Because the version and the
 * snap token name immutable states, an entry can never be stale; new writes produce new tokens and old
 * entries just age out.
 *
 * Each entry also records the depth budget it was computed with, and is only served to requests with at least
 * that budget: a result that completed without error is the true answer, but a shallower request might have
 * had to fail with DEPTH_NOT_ENOUGH, and serving it the answer would make results depend on cache history.
 *
 * Keys are never built as one string: the fields shared by a whole request (tenant, version, snapshot,
 * context) form a {@link CheckCacheView}, hashed once per request, and each lookup mixes the query's fields
 * into that hash; entries keep references to the fields and are compared field by field, so a hash collision
 * costs a comparison, never a wrong answer. A request whose context text is longer than
 * {@link maxCheckCacheContextChars} has no view: it is answered but not cached, instead of one entry pinning
 * kilobytes and pushing hundreds of small ones out.
 *
 * Bounded by entries and by estimated bytes. Deleting a tenant purges its entries: its old versions and snap
 * tokens must not answer after the tenant is re-created. Synchronous: safe under any interleaving of requests.
 */
import type { Entity, Subject } from '../data/types.js';
import type { CheckResult } from './types.js';

/** The fields a request's lookups share, with their hash; made by {@link CheckCache.view}. */
export interface CheckCacheView {
  readonly tenantId: string;
  readonly schemaVersion: string;
  readonly snapToken: string;
  readonly context: string;
  /** Hash of the fields above. */
  readonly hash: number;
}

export interface CheckCache {
  /**
   * The view of a request's tenant, schema version, snap token and context text (see `contextKey`);
   * undefined when the context is too long to be cached (or the cache is off): such a request is not cached.
   */
  view(tenantId: string, schemaVersion: string, snapToken: string, context: string): CheckCacheView | undefined;
  get(
    view: CheckCacheView,
    entity: Entity,
    permission: string,
    subject: Subject,
    args: readonly string[] | undefined,
    depth: number,
  ): CheckResult | undefined;
  set(
    view: CheckCacheView,
    entity: Entity,
    permission: string,
    subject: Subject,
    args: readonly string[] | undefined,
    depth: number,
    result: CheckResult,
  ): void;
  /** Drops every entry of the tenant. */
  purgeTenant(tenantId: string): void;
  purgeAll(): void;
  readonly size: number;
  /** Estimated bytes held. */
  readonly bytes: number;
}

/** Estimated heap bytes of one entry besides its strings (the entry object, its map slot). */
const entryOverheadBytes = 160;

/**
 * Longest context text (UTF-16 units, see `contextKey`) a cached request may have. A request with a large
 * context (many contextual tuples/attributes, big `data`) is rarely repeated verbatim, and its entry would
 * pin the whole text.
 */
export const maxCheckCacheContextChars = 2048;

/** FNV-1a over UTF-16 units, continued from `h`; a field separator is mixed in after each string. */
function mix(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return Math.imul(h ^ 0xff, 0x01000193);
}

function argsText(args: readonly string[] | undefined): string {
  return args === undefined || args.length === 0 ? '' : args.join('\u0000');
}

interface Entry {
  readonly hash: number;
  readonly view: CheckCacheView;
  readonly entityType: string;
  readonly entityId: string;
  readonly permission: string;
  readonly subjectType: string;
  readonly subjectId: string;
  readonly subjectRelation: string;
  readonly args: string;
  /** depth * 2 + (allowed ? 1 : 0) */
  value: number;
  readonly bytes: number;
  /** Next entry with the same hash. */
  chain: Entry | undefined;
  /** Towards the least recently used end of the LRU list. */
  older: Entry | undefined;
  /** Towards the most recently used end. */
  newer: Entry | undefined;
}

const off: CheckCache = {
  view: () => undefined,
  get: () => undefined,
  set: () => {},
  purgeTenant: () => {},
  purgeAll: () => {},
  size: 0,
  bytes: 0,
};

/**
 * Hits, misses and evictions of every check cache of the process, for metrics (plain increments on the hot
 * path; one engine per server, so per process this is the server's cache).
 */
export const checkCacheCounters = { hits: 0, misses: 0, evictions: 0 };
const liveCaches = new Set<WeakRef<CheckCache>>();

/** Entries and estimated bytes held by the process's live check caches. */
export function checkCacheOccupancy(): { readonly entries: number; readonly bytes: number } {
  let entries = 0;
  let bytes = 0;
  for (const ref of liveCaches) {
    const c = ref.deref();
    if (c === undefined) liveCaches.delete(ref);
    else {
      entries += c.size;
      bytes += c.bytes;
    }
  }
  return { entries, bytes };
}

/**
 * A cache of at most `maxEntries` entries and about `maxBytes` bytes; either 0 disables caching (no view is
 * made, every get misses, set is a no-op).
 */
export function createCheckCache(maxEntries: number, maxBytes: number): CheckCache {
  if (maxEntries <= 0 || maxBytes <= 0) return off;
  const buckets = new Map<number, Entry>();
  let newest: Entry | undefined;
  let oldest: Entry | undefined;
  let size = 0;
  let bytes = 0;

  // Small integers keep the map's keys unboxed.
  const queryHash = (view: CheckCacheView, entity: Entity, permission: string, subject: Subject, args: string) =>
    mix(mix(mix(mix(mix(mix(mix(view.hash, entity.type), entity.id), permission), subject.type), subject.id), subject.relation), args) &
    0x3fffffff;

  const find = (
    hash: number,
    view: CheckCacheView,
    entity: Entity,
    permission: string,
    subject: Subject,
    args: string,
  ): Entry | undefined => {
    for (let e = buckets.get(hash); e !== undefined; e = e.chain) {
      const v = e.view;
      if (
        e.entityId === entity.id &&
        e.subjectId === subject.id &&
        e.permission === permission &&
        e.entityType === entity.type &&
        e.subjectType === subject.type &&
        e.subjectRelation === subject.relation &&
        e.args === args &&
        (v === view ||
          (v.snapToken === view.snapToken &&
            v.schemaVersion === view.schemaVersion &&
            v.tenantId === view.tenantId &&
            v.context === view.context))
      ) {
        return e;
      }
    }
    return undefined;
  };

  const unlink = (e: Entry): void => {
    if (e.older === undefined) oldest = e.newer;
    else e.older.newer = e.newer;
    if (e.newer === undefined) newest = e.older;
    else e.newer.older = e.older;
    e.older = undefined;
    e.newer = undefined;
  };

  const pushNewest = (e: Entry): void => {
    e.older = newest;
    e.newer = undefined;
    if (newest === undefined) oldest = e;
    else newest.newer = e;
    newest = e;
  };

  const remove = (e: Entry): void => {
    unlink(e);
    const head = buckets.get(e.hash);
    if (head === e) {
      if (e.chain === undefined) buckets.delete(e.hash);
      else buckets.set(e.hash, e.chain);
    } else {
      for (let p = head; p !== undefined; p = p.chain) {
        if (p.chain === e) {
          p.chain = e.chain;
          break;
        }
      }
    }
    size--;
    bytes -= e.bytes;
  };

  const cache: CheckCache = {
    view(tenantId, schemaVersion, snapToken, context) {
      if (context.length > maxCheckCacheContextChars) return undefined;
      return {
        tenantId,
        schemaVersion,
        snapToken,
        context,
        hash: mix(mix(mix(mix(0x811c9dc5, tenantId), schemaVersion), snapToken), context),
      };
    },
    get(view, entity, permission, subject, args, depth) {
      const a = argsText(args);
      const e = find(queryHash(view, entity, permission, subject, a), view, entity, permission, subject, a);
      if (e === undefined || e.value >> 1 > depth) {
        checkCacheCounters.misses++;
        return undefined;
      }
      checkCacheCounters.hits++;
      if (e !== newest) {
        unlink(e);
        pushNewest(e);
      }
      return (e.value & 1) === 1 ? 'allowed' : 'denied';
    },
    set(view, entity, permission, subject, args, depth, result) {
      const a = argsText(args);
      const hash = queryHash(view, entity, permission, subject, a);
      const value = depth * 2 + (result === 'allowed' ? 1 : 0);
      const prev = find(hash, view, entity, permission, subject, a);
      if (prev !== undefined) {
        // Keep the entry usable by the shallowest requests.
        if (prev.value >> 1 > depth) prev.value = value;
        return;
      }
      // Every string is counted (decoded requests carry their own copies), two bytes per unit: the worst case.
      const entryBytes =
        entryOverheadBytes +
        2 *
          (view.tenantId.length +
            view.schemaVersion.length +
            view.snapToken.length +
            view.context.length +
            entity.type.length +
            entity.id.length +
            permission.length +
            subject.type.length +
            subject.id.length +
            subject.relation.length +
            a.length);
      if (entryBytes > maxBytes) return;
      const e: Entry = {
        hash,
        view,
        entityType: entity.type,
        entityId: entity.id,
        permission,
        subjectType: subject.type,
        subjectId: subject.id,
        subjectRelation: subject.relation,
        args: a,
        value,
        bytes: entryBytes,
        chain: buckets.get(hash),
        older: undefined,
        newer: undefined,
      };
      buckets.set(hash, e);
      pushNewest(e);
      size++;
      bytes += entryBytes;
      while ((size > maxEntries || bytes > maxBytes) && oldest !== undefined) {
        remove(oldest);
        checkCacheCounters.evictions++;
      }
    },
    purgeTenant(tenantId) {
      for (let e = oldest; e !== undefined; ) {
        const next = e.newer;
        if (e.view.tenantId === tenantId) remove(e);
        e = next;
      }
    },
    purgeAll() {
      buckets.clear();
      newest = undefined;
      oldest = undefined;
      size = 0;
      bytes = 0;
    },
    get size() {
      return size;
    },
    get bytes() {
      return bytes;
    },
  };
  liveCaches.add(new WeakRef(cache));
  return cache;
}
