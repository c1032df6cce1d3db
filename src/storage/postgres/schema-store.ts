/**
 * Schema versions in `schema_definitions` (one row per statement and version). Versions are xid-style ids
 * (src/storage/version-id.ts), so "head" is the greatest version of the tenant and the creation time is
 * read back from the id. Writes are one READ COMMITTED transaction without a `transactions` row (§11.3).
 */
import { PermifyError } from '../../errors.js';
import type { Page, SchemaDefinitionRecord, SchemaStore, SchemaVersionInfo } from '../contract.js';
import { newVersionId, versionIdTime } from '../version-id.js';
import { checkSchemaRecords } from './validate.js';
import { inTransaction, query, type Database } from './database.js';

const sqlInsert =
  'INSERT INTO schema_definitions (tenant_id, name, serialized_definition, version, position)' +
  " SELECT $1, u.n, convert_to(u.d, 'UTF8'), $4, u.ord FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(n, d, ord)";

export function createPostgresSchemaStore(db: Database): SchemaStore {
  return {
    async writeSchema(tenantId, definitions, signal) {
      checkSchemaRecords(definitions);
      const version = newVersionId();
      await inTransaction(db.writer, signal, async (c) => {
        await query(
          c,
          sqlInsert,
          [tenantId, definitions.map((d) => d.name), definitions.map((d) => d.definition), version],
          signal,
        );
      });
      return version;
    },

    async readSchema(tenantId, version, signal): Promise<readonly SchemaDefinitionRecord[] | undefined> {
      const r = await query<{ name: string; definition: string }>(
        db.reader,
        "SELECT name, convert_from(serialized_definition, 'UTF8') AS definition FROM schema_definitions" +
          ' WHERE tenant_id = $1 AND version = $2 ORDER BY position, name',
        [tenantId, version],
        signal,
      );
      if (r.rows.length === 0) return undefined;
      return r.rows.map((row) => ({ name: row.name, definition: row.definition }));
    },

    async headVersion(tenantId, signal) {
      const r = await query<{ version: string }>(
        db.reader,
        'SELECT version FROM schema_definitions WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1',
        [tenantId],
        signal,
      );
      return r.rows[0]?.version;
    },

    async listVersions(tenantId, page, signal): Promise<Page<SchemaVersionInfo>> {
      if (!Number.isSafeInteger(page.size) || page.size < 1) {
        throw new PermifyError('ERROR_CODE_VALIDATION', 'page size must be at least 1', {
          details: { limit: 'page_size' },
        });
      }
      const after = page.token ?? '';
      if (after !== '' && !/^[0-9a-v]{20}$/.test(after)) {
        throw new PermifyError('ERROR_CODE_INVALID_CONTINUOUS_TOKEN', 'invalid continuous token');
      }
      const r = await query<{ version: string }>(
        db.reader,
        "SELECT DISTINCT version FROM schema_definitions WHERE tenant_id = $1 AND ($2 = '' OR version < $2)" +
          ' ORDER BY version DESC LIMIT $3',
        [tenantId, after, page.size + 1],
        signal,
      );
      const rows = r.rows.slice(0, page.size);
      const items = rows.map((row) => ({ version: row.version, createdAt: versionIdTime(row.version) ?? new Date(0) }));
      const last = rows[rows.length - 1];
      return { items, continuousToken: r.rows.length > page.size && last ? last.version : '' };
    },
  };
}
