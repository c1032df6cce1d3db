/**
 * Per-tenant cache of the two reads every request without a snap token makes before touching data: the
 * tenant's head snap token and its schema head version.
 *
 * Freshness: an entry is dropped when this process writes to the tenant (the store's writer and schema store
 * call {@link HeadCache.invalidate} after commit), when another process announces a write
 * (`permify_data_changed`, data-events.ts), and in any case after `maxAgeMs`. While the event connection is
 * down nothing is cached (other processes' writes would go unnoticed). An invalidation removes the entry
 * even while its load is pending, so a head read racing a write is shared only by requests that arrived
 * before the write committed.
 *
 * What this does not give: a head read on this process may lag another process's committed write by the
 * time its NOTIFY takes to arrive (about a millisecond). Requests that must see a write pass its snap token,
 * which is always exact.
 */
export interface HeadCacheOptions {
  /** Longest an entry is used (0 disables the cache). */
  readonly maxAgeMs: number;
  /** False while notifications from other processes may be missed (then nothing is cached). */
  readonly usable: () => boolean;
}

interface Entry<T> {
  readonly value: Promise<T>;
  readonly atMs: number;
}

export class HeadCache {
  private readonly tokens = new Map<string, Entry<string>>();
  private readonly versions = new Map<string, Entry<string | undefined>>();

  constructor(private readonly options: HeadCacheOptions) {}

  /** Forgets a tenant's heads (undefined: every tenant's, e.g. after the event connection came back). */
  invalidate(tenantId: string | undefined): void {
    if (tenantId === undefined) {
      this.tokens.clear();
      this.versions.clear();
      return;
    }
    this.tokens.delete(tenantId);
    this.versions.delete(tenantId);
  }

  headToken(tenantId: string, load: () => Promise<string>): Promise<string> {
    return this.get(this.tokens, tenantId, load);
  }

  schemaHead(tenantId: string, load: () => Promise<string | undefined>): Promise<string | undefined> {
    return this.get(this.versions, tenantId, load);
  }

  private get<T>(map: Map<string, Entry<T>>, tenantId: string, load: () => Promise<T>): Promise<T> {
    if (this.options.maxAgeMs <= 0 || !this.options.usable()) return load();
    const now = Date.now();
    const hit = map.get(tenantId);
    if (hit !== undefined && now - hit.atMs <= this.options.maxAgeMs) return hit.value;
    const value = load();
    // Concurrent requests share the pending load; a failed one is forgotten.
    const entry: Entry<T> = { value, atMs: now };
    if (map.size >= 10_000) map.clear();
    map.set(tenantId, entry);
    value.catch(() => {
      if (map.get(tenantId) === entry) map.delete(tenantId);
    });
    return value;
  }
}
