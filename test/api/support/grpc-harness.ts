/**
 * Starts the real gRPC server (memory store, real engine, real handlers) on 127.0.0.1:0 and connects the
 * official client to it.
 */
import * as permify from '@permify/permify-node';
import { createEngine } from '../../../src/engine/index.js';
import { createHandlers, type ApiLimits } from '../../../src/api/handlers/index.js';
import { createGrpcServer, createHealthReporter, type BeforeCallInfo } from '../../../src/api/grpc/index.js';
import { createMemoryStore } from '../../../src/storage/memory/index.js';
import { createPostgresStore } from '../../../src/storage/postgres/index.js';
import type { Store } from '../../../src/storage/contract.js';
import { applyPermifyMigrations } from '../../support/permify.js';
import { createTestDatabase, stopSharedServer } from '../../support/postgres.js';

/** The stores every end-to-end suite runs against. */
export const e2eStoreKinds = ['memory', 'postgres'] as const;
/** `postgres-permify`: PostgreSQL first migrated by Permify v1.7.3's own migrations (test/support/permify.ts). */
export type StoreKind = (typeof e2eStoreKinds)[number] | 'postgres-permify';

/** Opens a store of the given kind; postgres gets a fresh real database that `close` drops. */
async function openStore(kind: StoreKind): Promise<{ store: Store; close(): Promise<void> }> {
  if (kind === 'memory') {
    const store = createMemoryStore();
    return { store, close: () => store.close() };
  }
  const db = await createTestDatabase();
  if (kind === 'postgres-permify') await applyPermifyMigrations(db.uri);
  const store = await createPostgresStore({ uri: db.uri, maxOpenConnections: 8 });
  await store.ready();
  return {
    store,
    async close() {
      await store.close();
      await db.drop();
      await stopSharedServer();
    },
  };
}

export type PermifyClient = ReturnType<typeof permify.grpc.newClient>;

export interface TestServer {
  readonly port: number;
  readonly client: PermifyClient;
  readonly store: Store;
  readonly health: ReturnType<typeof createHealthReporter>;
  close(): Promise<void>;
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

export async function startTestServer(
  options: {
    limits?: Partial<ApiLimits>;
    beforeCall?: (call: BeforeCallInfo) => Promise<void> | void;
    watchEnabled?: boolean;
    /** Which store backs the server (default memory). */
    store?: StoreKind;
  } = {},
): Promise<TestServer> {
  const opened = await openStore(options.store ?? 'memory');
  const store = opened.store;
  const engine = createEngine({ reader: store.reader, schemas: store.schemas });
  const handlers = createHandlers({
    engine,
    store,
    limits: { maxDataPerWrite: 1000, ...options.limits },
    watchEnabled: options.watchEnabled ?? true,
  });
  const health = createHealthReporter('SERVING');
  const server = createGrpcServer({
    handlers,
    health,
    logger: silent,
    ...(options.beforeCall ? { beforeCall: options.beforeCall } : {}),
  });
  const port = await server.listen('127.0.0.1', 0);
  const client = permify.grpc.newClient({
    endpoint: `127.0.0.1:${port}`,
    cert: null,
    pk: null,
    certChain: null,
    insecure: true,
  });
  return {
    port,
    client,
    store,
    health,
    async close() {
      await server.close(2000);
      await opened.close();
    },
  };
}
