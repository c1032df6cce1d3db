/**
 * Remembers when tenants' cache entries were purged, so that work which started before a purge (a check or
 * compilation still in flight when its tenant was deleted) does not put its result back into a cache.
 *
 * Work records {@link PurgeLog.generation} when it starts and asks {@link PurgeLog.purgedSince} before it
 * stores. Only the most recent purges are remembered (work in flight lives no longer than a request).
 */
export interface PurgeLog {
  /** The current generation; record it when work starts. */
  readonly generation: number;
  /** True when `tenantId` (or everything) was purged after `startedAt` was recorded. */
  purgedSince(tenantId: string, startedAt: number): boolean;
  purgeTenant(tenantId: string): void;
  purgeAll(): void;
}

/** Purged tenants remembered; older purges are forgotten first. */
const rememberedPurges = 10_000;

export function createPurgeLog(): PurgeLog {
  let generation = 0;
  let allPurgedAt = 0;
  const purgedAt = new Map<string, number>();
  return {
    get generation() {
      return generation;
    },
    purgedSince(tenantId, startedAt) {
      return allPurgedAt > startedAt || (purgedAt.get(tenantId) ?? 0) > startedAt;
    },
    purgeTenant(tenantId) {
      purgedAt.delete(tenantId);
      purgedAt.set(tenantId, ++generation);
      if (purgedAt.size > rememberedPurges) purgedAt.delete(purgedAt.keys().next().value as string);
    },
    purgeAll() {
      allPurgedAt = ++generation;
    },
  };
}
