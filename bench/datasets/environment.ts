/**
 * A memory store plus engines for benchmarks: schema text is compiled and written as the tenant's head version;
 * engines are created with or without the check cache over the same store.
 */
import { createEngine } from '../../src/engine/index.js';
import type { PermissionEngine } from '../../src/engine/types.js';
import { compileSchema } from '../../src/language/index.js';
import type { Store } from '../../src/storage/contract.js';
import { createMemoryStore } from '../../src/storage/memory/index.js';

export interface BenchEnvironment {
  readonly store: Store;
  writeSchema(tenantId: string, schemaText: string): Promise<string>;
  createEngine(options: { cache: boolean }): PermissionEngine;
  close(): Promise<void>;
}

export async function createBenchEnvironment(): Promise<BenchEnvironment> {
  const store = createMemoryStore();
  return {
    store,
    async writeSchema(tenantId, schemaText) {
      // Compile first so that a broken schema fails here, with its position, rather than at the first check.
      compileSchema(schemaText, { validateReferences: true });
      return store.schemas.writeSchema(tenantId, [{ name: 'schema', definition: schemaText }]);
    },
    createEngine({ cache }) {
      return createEngine({ reader: store.reader, schemas: store.schemas, ...(cache ? {} : { checkCacheSize: 0 }) });
    },
    close: () => store.close(),
  };
}
