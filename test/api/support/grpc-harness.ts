/**
 * Starts the real gRPC server (memory store, real engine, real handlers) on 127.0.0.1:0 and connects the
 * official client to it.
 */
import * as permify from '@permify/permify-node';
import { createEngine } from '../../../src/engine/index.js';
import { createHandlers, type ApiLimits } from '../../../src/api/handlers/index.js';
import { createGrpcServer, createHealthReporter, type BeforeCallInfo } from '../../../src/api/grpc/index.js';
import { createMemoryStore } from '../../../src/storage/memory/index.js';
import type { Store } from '../../../src/storage/contract.js';

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
  } = {},
): Promise<TestServer> {
  const store = createMemoryStore();
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
      await store.close();
    },
  };
}
