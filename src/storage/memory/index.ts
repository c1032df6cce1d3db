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
import { createMemoryBulkStore } from './bulk.js';
import { createMemoryBundleStore } from './bundle-store.js';
import { createMemoryDataReader } from './data-reader.js';
import { createMemoryDataWriter } from './data-writer.js';
import { collectTenant, createMemoryGarbageCollector } from './gc.js';
import { createMemorySchemaStore } from './schema-store.js';
import { INITIAL_TX, MAX_TX, type MemoryState, wakeDataWaiters } from './tables.js';
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
  /**
   * The store's head transaction id at creation (default {@link INITIAL_TX}): tests start the counter near
   * its limit with it. An integer from {@link INITIAL_TX} to {@link MAX_TX}.
   */
  readonly initialTx?: number;
}

/** State of every memory store, for {@link inspectMemoryStore}. */
const states = new WeakMap<Store, MemoryState>();

/**
 * Sizes of a memory store's internal state, for tests that check nothing is left behind: the number of
 * tenants holding state (data, schema versions, bundles or history) and of Watch streams waiting for a
 * tenant that has none. Undefined for a store not made by {@link createMemoryStore}.
 */
export function inspectMemoryStore(store: Store): { tenantStates: number; waitingWatchers: number } | undefined {
  const state = states.get(store);
  if (state === undefined) return undefined;
  let waitingWatchers = 0;
  for (const waiters of state.dataWaiters.values()) waitingWatchers += waiters.size;
  for (const data of state.tenantData.values()) waitingWatchers += data.waiters.size;
  return { tenantStates: state.tenantData.size, waitingWatchers };
}

/** Automatic collection compacts a tenant only when at least this fraction of its rows is garbage. */
const AUTO_GC_MIN_GARBAGE_FRACTION = 0.1;

/** A new, empty memory store with the default tenant `t1` ("example tenant"). */
export function createMemoryStore(options: MemoryStoreOptions = {}): Store {
  const now = options.now ?? Date.now;
  const initialTx = options.initialTx ?? INITIAL_TX;
  if (!Number.isSafeInteger(initialTx) || initialTx < INITIAL_TX || initialTx > MAX_TX) {
    throw new RangeError(`initialTx must be an integer from ${INITIAL_TX} to ${MAX_TX}`);
  }
  const state: MemoryState = {
    head: initialTx,
    tenantData: new Map(),
    tenants: new Map(),
    now,
    closed: false,
    decodedTokens: new Map(),
    dataWaiters: new Map(),
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

  const writer = createMemoryDataWriter(state, afterCommit);
  const store: Store = {
    kind: 'memory',
    reader: createMemoryDataReader(state),
    writer,
    bulk: createMemoryBulkStore(state, writer),
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
      for (const tenantId of [...state.dataWaiters.keys()]) wakeDataWaiters(state, tenantId, true);
    },
  };
  states.set(store, state);
  return store;
}
