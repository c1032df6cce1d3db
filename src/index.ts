/**
 * permify-ts as a library: the public API of the package (`import { ... } from 'permify-ts'`).
 *
 * Three levels, from the simplest:
 * - {@link permify}: a facade for applications that embed authorization (check, lookups, write).
 * - {@link createEngine} over a store ({@link createMemoryStore}, {@link createPostgresStore}): the permission
 *   engine with Permify's request shapes (snap tokens, schema versions, depth, contexts, pagination).
 * - {@link startServer} with {@link loadConfig}: the gRPC and REST servers `permify serve` runs.
 *
 * Everything exported here is semver-stable from 1.0; deeper imports (`permify-ts/dist/...`) are not part
 * of the API and are blocked by the package's `exports` map.
 */
export { permify } from './embed/permify.js';
export type { CallOptions, Permify, PermifyOptions, WriteData } from './embed/permify.js';

export { createEngine, engineDefaults } from './engine/index.js';
export type * from './engine/types.js';
export type { EngineOptions } from './engine/index.js';

export { createMemoryStore } from './storage/memory/index.js';
export type { MemoryStoreOptions } from './storage/memory/index.js';
export { createPostgresStore, migrateDown, migrateUp, migrationStatus } from './storage/postgres/index.js';
export type { MigrationStatus, PostgresStore, PostgresStoreOptions } from './storage/postgres/index.js';
export type * from './storage/contract.js';

export { compileSchema, parseSchema, printSchema, printDefinitions, schemaToJson } from './language/index.js';
export type { Schema } from './schema/model.js';
export { validateAttribute, validateTuple } from './schema/validate-data.js';

export {
  attributeToString,
  entityToString,
  parseAttribute,
  parseEntity,
  parseSubject,
  parseTuple,
  subjectToString,
  tupleToString,
} from './data/notation.js';
export type * from './data/types.js';

export { PermifyError, isPermifyError, errorCodeNumbers } from './errors.js';
export type { ErrorCode, PermifyErrorDetails } from './errors.js';

export { startServer } from './server.js';
export type { RunningServer, StartServerOptions } from './server.js';
export { loadConfig } from './config/load.js';
export type { Config } from './config/schema.js';
