/**
 * Resolves a request's schema version (empty ⇒ the tenant's head) and compiles each (tenant, version) once.
 *
 * Versions are immutable, so entries never go stale while their tenant exists; deleting a tenant removes its
 * versions from the store, and {@link SchemaResolver.purgeTenant} drops them here too (a deleted schema must
 * not stay readable from the cache). The cache is bounded by entries AND by the estimated heap weight of
 * the compiled schemas ({@link compiledSchemaWeight}), so a few huge schemas cannot exhaust memory.
 * Concurrent first requests for the same version share one compilation.
 */
import { LRUCache } from 'lru-cache';
import { isPermifyError, PermifyError } from '../errors.js';
import { compileSchema } from '../language/index.js';
import type { Schema } from '../schema/model.js';
import type { SchemaStore } from '../storage/contract.js';
import { createPurgeLog } from './purge-log.js';

export interface ResolvedSchema {
  readonly version: string;
  readonly schema: Schema;
}

export interface SchemaResolver {
  resolve(tenantId: string, version: string | undefined, signal?: AbortSignal): Promise<ResolvedSchema>;
  /** Forgets every compiled version of the tenant (its schemas were deleted). */
  purgeTenant(tenantId: string): void;
  /** Forgets everything (deletions may have been missed). */
  purgeAll(): void;
  /** Estimated bytes held by the cached compiled schemas. */
  readonly cachedBytes: number;
}

export interface SchemaResolverOptions {
  /** Compiled versions kept (`service.schema.cache.number_of_counters`). */
  readonly maxEntries: number;
  /** Estimated heap bytes of the kept compiled versions (`service.schema.cache.max_cost`). */
  readonly maxBytes: number;
}

/**
 * Heap bytes a compiled schema retains per byte of schema text. Measured with `--expose-gc` on generated
 * schemas of 20 KB - 1 MB (relations, walks, attributes, permissions): 13-17 bytes per source byte (the issue
 * report saw 21 on its shape); rounded up so that the estimate errs on the side of fewer entries.
 */
export const compiledBytesPerSourceByte = 24;
/** Fixed part of a compiled schema (maps, frozen model objects, reference-graph memo). */
const compiledBaseBytes = 16 * 1024;

/** Estimated heap weight of a compiled schema whose statements total `sourceBytes`. */
export function compiledSchemaWeight(sourceBytes: number): number {
  return compiledBaseBytes + sourceBytes * compiledBytesPerSourceByte;
}

interface Entry {
  readonly tenantId: string;
  readonly schema: Schema;
}

export function createSchemaResolver(schemas: SchemaStore, options: SchemaResolverOptions): SchemaResolver {
  const cache = new LRUCache<string, Entry>({
    max: Math.max(1, options.maxEntries),
    // Each entry is set with its estimated weight; one heavier than the whole bound is simply not kept
    // (compiled per request, still correct).
    maxSize: Math.max(1, options.maxBytes),
  });
  // Compilations in flight, shared by concurrent requests for the same version (kept apart from the LRU so
  // that the weight is known when an entry enters it).
  const inflight = new Map<string, Promise<Schema>>();
  // A compilation that started before a purge of its tenant must not re-enter the cache.
  const purges = createPurgeLog();

  async function load(tenantId: string, version: string): Promise<{ schema: Schema; sourceBytes: number }> {
    const records = await schemas.readSchema(tenantId, version);
    if (records === undefined || records.length === 0) {
      throw new PermifyError('ERROR_CODE_SCHEMA_NOT_FOUND', 'ERROR_CODE_SCHEMA_NOT_FOUND', {
        details: { tenantId, schemaVersion: version },
      });
    }
    const text = records.map((r) => r.definition).join('\n');
    try {
      return { schema: compileSchema(text, { validateReferences: false }), sourceBytes: Buffer.byteLength(text) };
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
        // No schema written for the tenant (or no such tenant: both look the same to the schema store).
        if (head === undefined) {
          throw new PermifyError('ERROR_CODE_SCHEMA_NOT_FOUND', 'ERROR_CODE_SCHEMA_NOT_FOUND', { details: { tenantId } });
        }
        v = head;
      }
      const key = `${tenantId}\u0000${v}`;
      const hit = cache.get(key);
      if (hit !== undefined) return { version: v, schema: hit.schema };
      let p = inflight.get(key);
      if (p === undefined) {
        const startedAt = purges.generation;
        // The signal of the first requester must not cancel the shared compilation for others.
        const loading = load(tenantId, v).then(({ schema, sourceBytes }) => {
          if (!purges.purgedSince(tenantId, startedAt)) {
            cache.set(key, { tenantId, schema }, { size: compiledSchemaWeight(sourceBytes) });
          }
          return schema;
        });
        p = loading;
        inflight.set(key, loading);
        const done = (): void => {
          if (inflight.get(key) === loading) inflight.delete(key);
        };
        loading.then(done, done);
      }
      return { version: v, schema: await p };
    },

    purgeTenant(tenantId) {
      purges.purgeTenant(tenantId);
      for (const [key, entry] of cache.entries()) if (entry.tenantId === tenantId) cache.delete(key);
      for (const key of inflight.keys()) if (key.startsWith(`${tenantId}\u0000`)) inflight.delete(key);
    },

    purgeAll() {
      purges.purgeAll();
      cache.clear();
      inflight.clear();
    },

    get cachedBytes() {
      return cache.calculatedSize;
    },
  };
}
