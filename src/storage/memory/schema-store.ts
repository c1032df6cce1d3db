/**
 * Schema versions of the memory store: per tenant, immutable lists of statements under xid-style version
 * ids (see `../version-id.ts`), which sort by creation so the greatest id is head.
 */
import { PermifyError, throwIfAborted } from '../../errors.js';
import type { SchemaDefinitionRecord, SchemaStore } from '../contract.js';
import { checkPageSize, decodePageToken, encodePageToken } from '../page-token.js';
import { isVersionId, newVersionId } from '../version-id.js';
import { type MemoryState, tenantData } from './tables.js';

export function createMemorySchemaStore(state: MemoryState): SchemaStore {
  return {
    async writeSchema(tenantId, definitions, signal) {
      throwIfAborted(signal);
      if (!Array.isArray(definitions)) {
        throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', 'invalid schema: definitions must be a list');
      }
      for (const d of definitions as readonly SchemaDefinitionRecord[]) {
        if (typeof d?.name !== 'string' || typeof d.definition !== 'string') {
          throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', 'invalid schema definition record');
        }
      }
      const data = tenantData(state, tenantId);
      const createdAt = new Date(state.now());
      const version = newVersionId(createdAt);
      data.schemaVersions.push({
        version,
        createdAt,
        definitions: Object.freeze(definitions.map((d) => Object.freeze({ name: d.name, definition: d.definition }))),
      });
      return version;
    },

    async readSchema(tenantId, version, signal) {
      throwIfAborted(signal);
      const versions = state.tenantData.get(tenantId)?.schemaVersions ?? [];
      return versions.find((v) => v.version === version)?.definitions;
    },

    async headVersion(tenantId, signal) {
      throwIfAborted(signal);
      const versions = state.tenantData.get(tenantId)?.schemaVersions ?? [];
      return versions[versions.length - 1]?.version;
    },

    async listVersions(tenantId, page, signal) {
      throwIfAborted(signal);
      checkPageSize(page.size);
      const versions = state.tenantData.get(tenantId)?.schemaVersions ?? [];
      // Newest first; the token holds the version the next page starts with.
      let end = versions.length;
      if (page.token !== undefined && page.token !== '') {
        const from = decodePageToken(page.token, 'schema-versions', tenantId);
        if (!isVersionId(from))
          throw new PermifyError('ERROR_CODE_INVALID_CONTINUOUS_TOKEN', 'invalid continuous token');
        end = 0;
        while (end < versions.length && (versions[end]?.version as string) <= from) end += 1;
      }
      const start = Math.max(0, end - page.size);
      const items = versions
        .slice(start, end)
        .reverse()
        .map((v) => ({ version: v.version, createdAt: v.createdAt }));
      const continuousToken =
        start > 0 ? encodePageToken('schema-versions', versions[start - 1]?.version as string, tenantId) : '';
      return { items, continuousToken };
    },
  };
}
