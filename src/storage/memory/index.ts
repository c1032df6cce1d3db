/**
 * The in-memory store: every interface of the storage contract over columnar, interned, MVCC tables (see
 * `tables.ts`). Data lives in this process only and is lost on exit.
 *
 * Differences from Permify's memory engine, on purpose (the contract asks for them): reads are pinned to
 * snap tokens (MVCC history is kept until garbage collection), Watch and GC work, the default tenant `t1`
 * exists from creation, creating an existing tenant fails with ERROR_CODE_UNIQUE_CONSTRAINT, a write that
 * changes nothing still returns a fresh token (never `noop`), and deleting a tenant removes all its data.
 */
import type { Store } from '../contract.js';
import { createMemoryBundleStore } from './bundle-store.js';
import { createMemoryDataReader } from './data-reader.js';
import { createMemoryDataWriter } from './data-writer.js';
import { collectTenant, createMemoryGarbageCollector } from './gc.js';
import { createMemorySchemaStore } from './schema-store.js';
import { INITIAL_TX, type MemoryState } from './tables.js';
import { createMemoryTenantStore } from './tenant-store.js';
import { createMemoryWatcher } from './watch.js';

export interface MemoryStoreOptions {
  /**
   * When set (> 0), history older than this window is collected automatically: after a write, if at least
   * one window has passed since the previous automatic collection. An automatic collection trims the
   * transaction log and compacts a tenant's tables only when at least 10 % of their rows are removable;
   * `gc.collect(windowMs)` always removes everything it may. Without it (and without calls to
   * `gc.collect`) history grows with every write.
   */
  readonly gcWindowMs?: number;
  /** Clock in milliseconds since the epoch (tests inject a fake one). Default `Date.now`. */
  readonly now?: () => number;
}

/** Automatic collection compacts a tenant only when at least this fraction of its rows is garbage. */
const AUTO_GC_MIN_GARBAGE_FRACTION = 0.1;

/** A new, empty memory store with the default tenant `t1` ("example tenant"). */
export function createMemoryStore(options: MemoryStoreOptions = {}): Store {
  const now = options.now ?? Date.now;
  const state: MemoryState = {
    head: INITIAL_TX,
    tenantData: new Map(),
    tenants: new Map(),
    now,
    closed: false,
    decodedTokens: new Map(),
  };
  state.tenants.set('t1', Object.freeze({ id: 't1', name: 'example tenant', createdAt: new Date(now()) }));

  const gcWindowMs = options.gcWindowMs;
  let lastGcMs = now();
  const afterCommit = (): void => {
    if (gcWindowMs === undefined || !(gcWindowMs > 0)) return;
    const t = now();
    if (t - lastGcMs < gcWindowMs) return;
    lastGcMs = t;
    for (const data of state.tenantData.values()) collectTenant(data, t - gcWindowMs, AUTO_GC_MIN_GARBAGE_FRACTION);
  };

  return {
    kind: 'memory',
    reader: createMemoryDataReader(state),
    writer: createMemoryDataWriter(state, afterCommit),
    schemas: createMemorySchemaStore(state),
    tenants: createMemoryTenantStore(state),
    bundles: createMemoryBundleStore(state),
    watcher: createMemoryWatcher(state),
    gc: createMemoryGarbageCollector(state),
    async isReady() {
      return !state.closed;
    },
    async close() {
      state.closed = true;
      for (const data of state.tenantData.values()) data.wake();
    },
  };
}
