/**
 * Resolves a request's schema version (empty ⇒ the tenant's head) and compiles each (tenant, version) once.
 * Versions are immutable, so the bounded LRU never needs invalidation. Concurrent first requests for the same
 * version share one compilation.
 */
import { LRUCache } from 'lru-cache';
import { isPermifyError, PermifyError } from '../errors.js';
import { compileSchema } from '../language/index.js';
import type { Schema } from '../schema/model.js';
import type { SchemaStore } from '../storage/contract.js';

export interface ResolvedSchema {
  readonly version: string;
  readonly schema: Schema;
}

export interface SchemaResolver {
  resolve(tenantId: string, version: string | undefined, signal?: AbortSignal): Promise<ResolvedSchema>;
}

export function createSchemaResolver(schemas: SchemaStore, cacheSize: number): SchemaResolver {
  const cache = new LRUCache<string, Promise<Schema>>({ max: Math.max(1, cacheSize) });

  async function load(tenantId: string, version: string, signal?: AbortSignal): Promise<Schema> {
    const records = await schemas.readSchema(tenantId, version, signal);
    if (records === undefined || records.length === 0) {
      throw new PermifyError('ERROR_CODE_SCHEMA_NOT_FOUND', 'ERROR_CODE_SCHEMA_NOT_FOUND');
    }
    try {
      return compileSchema(records.map((r) => r.definition).join('\n'), { validateReferences: false });
    } catch (e) {
      if (isPermifyError(e)) throw e;
      throw new PermifyError('ERROR_CODE_SCHEMA_COMPILE', e instanceof Error ? e.message : String(e), { cause: e });
    }
  }

  return {
    async resolve(tenantId, version, signal) {
      let v = version ?? '';
      if (v === '') {
        const head = await schemas.headVersion(tenantId, signal);
        if (head === undefined) throw new PermifyError('ERROR_CODE_SCHEMA_NOT_FOUND', 'ERROR_CODE_SCHEMA_NOT_FOUND');
        v = head;
      }
      const key = `${tenantId}\u0000${v}`;
      let p = cache.get(key);
      if (p === undefined) {
        // The signal of the first requester must not cancel the shared compilation for others.
        p = load(tenantId, v);
        cache.set(key, p);
        p.catch(() => {
          if (cache.get(key) === p) cache.delete(key);
        });
      }
      return { version: v, schema: await p };
    },
  };
}
