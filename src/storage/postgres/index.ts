/**
 * The PostgreSQL store: `createPostgresStore(options)` wires the pools, migrations, readers, writers,
 * Watch and the garbage-collection loop behind the storage contract (src/storage/contract.ts).
 *
 * Start-up: when the database cannot be reached (or migrating fails), the factory still resolves; the
 * store keeps retrying in the background (1 s, doubling up to 30 s) and `isReady()` answers false until
 * the database is reachable and migrated. Requests made meanwhile fail fast with a PermifyError
 * (UNAVAILABLE / ERROR_CODE_DATASTORE) bounded by `connectionTimeoutMs` / `statementTimeoutMs`. A database
 * lost at run time is handled the same way: failed requests, no crash, and the pools reconnect by
 * themselves once it is back.
 */
import { PermifyError } from '../../errors.js';
import type { Store } from '../contract.js';
import { availableParallelism } from 'node:os';
import { createDatabase, query, raceAbort, silentLogger, type Database, type StoreLogger } from './database.js';
import { createBatchingReader } from './batch-reader.js';
import { createPostgresBulkStore } from './bulk.js';
import { createPostgresBundleStore } from './bundle-store.js';
import { listenDataChanged, notifyDataChanged } from './data-events.js';
import { createPostgresDataReader, DEFAULT_READ_CACHE_ENTRIES } from './data-reader.js';
import { HeadCache } from './head-cache.js';
import { createPostgresDataWriter } from './data-writer.js';
import { createPostgresGarbageCollector, type PostgresGarbageCollector } from './gc.js';
import { migrateUp, migrationStatus } from './migrator.js';
import { createPostgresSchemaStore } from './schema-store.js';
import { createPostgresTenantStore } from './tenant-store.js';
import { createPostgresWatcher, type PostgresWatcher } from './watch.js';

export interface PostgresStoreOptions {
  /** URI for both roles; when empty, `writerUri` and `readerUri` are used. */
  readonly uri?: string;
  readonly writerUri?: string;
  readonly readerUri?: string;
  /** Pool size per role (default / 0: {@link defaultPoolSize}). */
  readonly maxOpenConnections?: number;
  /** Connections per role kept open when idle (default 0). */
  readonly minConnections?: number;
  /** Connections are closed once this old, when next idle (default 0 = never). */
  readonly maxConnectionLifetimeMs?: number;
  /** Idle connections beyond `minConnections` are closed after this long (default 60 000; 0 = never). */
  readonly maxConnectionIdleTimeMs?: number;
  /** Time to obtain a connection before failing (default 5 000). */
  readonly connectionTimeoutMs?: number;
  /** Server-side statement timeout; the client gives up 1 s later (default 30 000). */
  readonly statementTimeoutMs?: number;
  /** Retries of a conflicting write (default 10). */
  readonly maxRetries?: number;
  /** Not enforced by the store (the Data handlers apply it); kept for configuration symmetry. */
  readonly maxDataPerWrite?: number;
  /** Apply pending migrations on start (default true). */
  readonly autoMigrate?: boolean;
  /** Transactions fetched per Watch poll (default 100). */
  readonly watchBufferSize?: number;
  readonly gc?: {
    readonly enabled: boolean;
    readonly intervalMs: number;
    readonly windowMs: number;
    readonly timeoutMs: number;
  };
  readonly logger?: StoreLogger;
  /** Entries of the reader's snapshot read cache (0 disables it; default 10 000). */
  readonly readCacheEntries?: number;
  /** Coalesce the engine's `entity#relation` reads into batched statements (batch-reader.ts; default true). */
  readonly batchReads?: boolean;
  /**
   * Longest a tenant's head token and schema head are reused (head-cache.ts; default 1 000, 0 = read them
   * for every request). Writes through any process invalidate them at once (NOTIFY).
   */
  readonly headCacheMaxAgeMs?: number;
}

/**
 * Default pool size per role: twice the cores of this machine, at least 4 and at most 20. What bounds a
 * PostgreSQL server's throughput is its cores; more connections than a small multiple of them only queue
 * inside the server (and each costs it memory). A client cannot see the database's cores, so this assumes
 * a database machine like this one; set database.max_open_connections for another shape.
 */
export function defaultPoolSize(): number {
  return Math.min(20, Math.max(4, 2 * availableParallelism()));
}

export interface PostgresStore extends Store {
  readonly kind: 'postgres';
  readonly watcher: PostgresWatcher;
  readonly gc: PostgresGarbageCollector;
  /** The pools, for tests and diagnostics. */
  readonly database: Database;
  /** Resolves once the database is reachable and migrated (or rejects when the store is closed first). */
  ready(): Promise<void>;
  /**
   * Calls `listener` with the tenant id whenever a process announces a committed write to it
   * (`permify_data_changed`), and with undefined when announcements may have been missed (the event
   * connection came back). Returns the unsubscribe function.
   */
  onDataChanged(listener: (tenantId: string | undefined) => void): () => void;
}

function resolveUris(o: PostgresStoreOptions): { writerUri: string; readerUri: string } {
  if (o.uri) return { writerUri: o.uri, readerUri: o.uri };
  if (o.writerUri && o.readerUri) return { writerUri: o.writerUri, readerUri: o.readerUri };
  if (o.writerUri) return { writerUri: o.writerUri, readerUri: o.writerUri };
  throw new PermifyError(
    'ERROR_CODE_VALIDATION',
    'database.uri (or database.writer.uri and database.reader.uri) is required',
    {
      details: { limit: 'database.uri' },
    },
  );
}

export async function createPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const { writerUri, readerUri } = resolveUris(options);
  const logger = options.logger ?? silentLogger;
  const db = createDatabase({
    writerUri,
    readerUri,
    maxOpenConnections:
      options.maxOpenConnections !== undefined && options.maxOpenConnections > 0
        ? options.maxOpenConnections
        : defaultPoolSize(),
    minConnections: options.minConnections ?? 0,
    maxConnectionLifetimeMs: options.maxConnectionLifetimeMs ?? 0,
    maxConnectionIdleTimeMs: options.maxConnectionIdleTimeMs ?? 60_000,
    connectionTimeoutMs: options.connectionTimeoutMs ?? 5_000,
    statementTimeoutMs: options.statementTimeoutMs ?? 30_000,
    maxRetries: options.maxRetries ?? 10,
    logger,
  });
  const gc = createPostgresGarbageCollector(db);
  const watcher = createPostgresWatcher(db, options.watchBufferSize ?? 100);

  let closed = false;
  let migrated = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let resolveReady!: () => void;
  let rejectReady!: (e: unknown) => void;
  const readyPromise = new Promise<void>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  readyPromise.catch(() => undefined);

  async function startUp(): Promise<void> {
    if (options.autoMigrate ?? true) {
      const applied = await migrateUp(writerUri);
      if (applied.length > 0) logger.info({ applied }, 'applied database migrations');
    } else {
      await query(db.writer, 'SELECT 1', []);
      // A database migrated by Permify (or by an older release) lacks our steps; say so instead of failing later.
      const pending = (await migrationStatus(writerUri)).filter((m) => !m.applied).map((m) => m.version);
      if (pending.length > 0) {
        logger.warn(
          { pending },
          'database has pending migrations and database.auto_migrate is off: run `permify migrate up`',
        );
      }
    }
    migrated = true;
    if (options.gc?.enabled) gc.start(options.gc.intervalMs, options.gc.windowMs, options.gc.timeoutMs);
    resolveReady();
  }

  async function attempt(delayMs: number): Promise<void> {
    try {
      await startUp();
    } catch (e) {
      if (closed) return;
      logger.warn({ err: (e as Error).message, retryInMs: delayMs }, 'postgres store not ready; retrying');
      retryTimer = setTimeout(() => void attempt(Math.min(30_000, delayMs * 2)), delayMs);
      retryTimer.unref();
    }
  }
  await attempt(1_000);

  const direct = createPostgresDataReader(db, {
    ...(options.readCacheEntries !== undefined ? { readCacheEntries: options.readCacheEntries } : {}),
  });
  const readCacheEntries = options.readCacheEntries ?? DEFAULT_READ_CACHE_ENTRIES;
  const reader =
    (options.batchReads ?? true)
      ? createBatchingReader(
          direct,
          readCacheEntries > 0 ? { prefetchEntries: readCacheEntries, prefetchTtlMs: 0 } : {},
        )
      : direct;
  // Data-change events: other processes' writes invalidate the head cache (and wake read models).
  const dataListeners = new Set<(tenantId: string | undefined) => void>();
  const dataEvents = listenDataChanged(
    writerUri,
    logger,
    (tenantId) => {
      heads.invalidate(tenantId);
      for (const l of dataListeners) l(tenantId);
    },
    () => {
      heads.invalidate(undefined);
      for (const l of dataListeners) l(undefined);
    },
  );
  const heads = new HeadCache({
    maxAgeMs: options.headCacheMaxAgeMs ?? 1_000,
    usable: () => dataEvents.connected,
  });
  // Announcements are coalesced: one statement at a time, carrying every tenant written since the last
  // one (at 1,000 writes/s a NOTIFY per write would double the writer's statements).
  const toNotify = new Set<string>();
  let notifying = false;
  const notifyNext = (): void => {
    if (notifying || toNotify.size === 0 || closed) return;
    notifying = true;
    const tenantIds = [...toNotify];
    toNotify.clear();
    notifyDataChanged(db, tenantIds)
      .catch((e: unknown) =>
        logger.warn({ err: (e as Error).message }, 'NOTIFY after a write failed (other processes poll)'),
      )
      .finally(() => {
        notifying = false;
        notifyNext();
      });
  };
  /** After a commit: this process's head reads see it at once, other processes are told. */
  const written = (tenantId: string): void => {
    heads.invalidate(tenantId);
    toNotify.add(tenantId);
    notifyNext();
  };
  const writer = createPostgresDataWriter(db);
  const schemas = createPostgresSchemaStore(db);
  const bulk = createPostgresBulkStore(db, reader);
  // The reader's snapshot cache forgets a deleted tenant: at once for deletions through this store, and via the
  // NOTIFY channel for those of other instances (everything, when deletions may have been missed).
  const tenantStore = createPostgresTenantStore(db);
  const unsubscribeTenantEvents = tenantStore.subscribe((e) =>
    reader.purgeTenant(e.kind === 'deleted' ? e.tenantId : undefined),
  );
  const tenants: typeof tenantStore = {
    ...tenantStore,
    async deleteTenant(id, signal) {
      await tenantStore.deleteTenant(id, signal);
      reader.purgeTenant(id);
      heads.invalidate(id);
    },
  };
  return {
    kind: 'postgres',
    database: db,
    reader: {
      ...reader,
      headSnapToken: (tenantId, signal) =>
        raceAbort(
          heads.headToken(tenantId, () => reader.headSnapToken(tenantId)),
          signal,
        ),
    },
    writer: {
      async write(tenantId, steps, signal) {
        const token = await writer.write(tenantId, steps, signal);
        written(tenantId);
        return token;
      },
    },
    bulk: {
      ...bulk,
      async importBatch(tenantId, batch, signal) {
        const token = await bulk.importBatch(tenantId, batch, signal);
        written(tenantId);
        return token;
      },
    },
    schemas: {
      ...schemas,
      async writeSchema(tenantId, definitions, signal) {
        const version = await schemas.writeSchema(tenantId, definitions, signal);
        written(tenantId);
        return version;
      },
      headVersion: (tenantId, signal) =>
        raceAbort(
          heads.schemaHead(tenantId, () => schemas.headVersion(tenantId)),
          signal,
        ),
    },
    tenants,
    onDataChanged(listener) {
      dataListeners.add(listener);
      return () => dataListeners.delete(listener);
    },
    bundles: createPostgresBundleStore(db),
    watcher,
    gc,
    ready: () => readyPromise,
    // Cheap and honest: one `SELECT 1` per role on its control connection (never queued behind a busy
    // pool), bounded by connectionTimeoutMs; false until migrated and after close.
    async isReady(signal) {
      if (!migrated || closed) return false;
      return db.probe(signal);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      rejectReady(new PermifyError('UNAVAILABLE', 'store closed'));
      unsubscribeTenantEvents();
      dataEvents.close();
      await gc.close();
      await db.close();
    },
  };
}

export { migrateDown, migrateUp, migrationStatus } from './migrator.js';
export type { MigrationStatus } from './migrator.js';
export { repairTransactionIds } from './repair.js';
export type { RepairOptions, RepairResult } from './repair.js';
