/**
 * The handler map of every public RPC, transport-free: both the gRPC server and the REST gateway call these.
 *
 * Each handler validates its request (protoc-gen-validate style texts), resolves tenant, schema version and
 * snapshot, calls the engine or the store, and throws only PermifyError.
 */
import { createSchemaResolver } from '../../engine/schema-resolver.js';
import { createBulkDataHandlers } from './bulk-data.js';
import { createBundleHandlers } from './bundle.js';
import { createDataHandlers } from './data.js';
import { createExplainHandlers } from './explain.js';
import type { HandlerDeps, HandlerEnv } from './deps.js';
import { createPermissionHandlers } from './permission.js';
import { createSchemaHandlers } from './schema.js';
import { createTenancyHandlers } from './tenancy.js';
import type { Handlers } from './types.js';
import { createWatchHandlers } from './watch.js';

export type { ApiLimits, HandlerDeps } from './deps.js';
export { validateMessage } from './deps.js';
export type { HandlerContext, HandlerLogger, Handlers, ServiceHandlers, ServiceName } from './types.js';
export { services } from './types.js';

/** Builds the handler map. Pure wiring: no I/O until a handler is called. */
export function createHandlers(deps: HandlerDeps): Handlers {
  const env: HandlerEnv = {
    ...deps,
    schemas:
      deps.schemaResolver ??
      createSchemaResolver(deps.store.schemas, {
        maxEntries: deps.limits.schemaCacheSize ?? 100,
        maxBytes: deps.limits.schemaCacheMaxBytes ?? 64 * 1024 * 1024,
      }),
  };
  return {
    'base.v1.Permission': createPermissionHandlers(env),
    'base.v1.Schema': createSchemaHandlers(env),
    'base.v1.Data': createDataHandlers(env),
    'base.v1.Bundle': createBundleHandlers(env),
    'base.v1.Tenancy': createTenancyHandlers(env),
    'base.v1.Watch': createWatchHandlers(env),
    'permifyts.v1.Explain': createExplainHandlers(env),
    'permifyts.v1.Data': createBulkDataHandlers(env),
  };
}
