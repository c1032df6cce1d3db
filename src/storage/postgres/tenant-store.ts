/**
 * Tenants (§6). Deleting a tenant removes its bundles, tuples (live and historical), attributes, schema
 * definitions, transactions and the tenant row in ONE READ COMMITTED transaction; an unknown id rolls
 * everything back and answers ERROR_CODE_NOT_FOUND. The same transaction NOTIFYs the deletion, so that every
 * process on the database purges the tenant's cache entries (see `tenant-events.ts`).
 */
import { PermifyError } from '../../errors.js';
import type { Page, Tenant, TenantStore } from '../contract.js';
import { inTransaction, query, toStoreError, type Database } from './database.js';
import { createTenantEventChannel, tenantDeletedChannel } from './tenant-events.js';

interface TenantRow {
  id: string;
  name: string;
  created_at: Date;
}

const toTenant = (r: TenantRow): Tenant => ({ id: r.id, name: r.name, createdAt: r.created_at });

export function createPostgresTenantStore(db: Database): TenantStore {
  const events = createTenantEventChannel({
    uri: db.options.writerUri,
    logger: db.options.logger,
    connectionTimeoutMs: db.options.connectionTimeoutMs,
  });
  return {
    async createTenant(id, name, signal) {
      try {
        const r = await query<TenantRow>(
          db.writer,
          'INSERT INTO tenants (id, name) VALUES ($1, $2) RETURNING id, name, created_at',
          [id, name],
          signal,
        );
        return toTenant(r.rows[0] as TenantRow);
      } catch (e) {
        const cause = e instanceof PermifyError ? e.cause : e;
        if ((cause as { code?: string } | undefined)?.code === '23505') {
          throw new PermifyError('ERROR_CODE_UNIQUE_CONSTRAINT', 'tenant already exists', { cause });
        }
        throw toStoreError(e, signal);
      }
    },

    async deleteTenant(id, signal) {
      await inTransaction(db.writer, signal, async (c) => {
        for (const table of ['bundles', 'relation_tuples', 'attributes', 'schema_definitions', 'transactions']) {
          await query(c, `DELETE FROM ${table} WHERE tenant_id = $1`, [id], signal);
        }
        const r = await query(c, 'DELETE FROM tenants WHERE id = $1', [id], signal);
        if (r.rowCount === 0) throw new PermifyError('ERROR_CODE_NOT_FOUND', 'tenant not found');
        // Delivered at commit only.
        await query(c, `SELECT pg_notify('${tenantDeletedChannel}', $1)`, [id], signal);
      });
    },

    subscribe: (listener) => events.subscribe(listener),

    async listTenants(page, signal): Promise<Page<Tenant>> {
      if (!Number.isSafeInteger(page.size) || page.size < 1) {
        throw new PermifyError('ERROR_CODE_VALIDATION', 'page size must be at least 1', {
          details: { limit: 'page_size' },
        });
      }
      let after = '';
      if (page.token) {
        try {
          after = Buffer.from(page.token, 'base64url').toString('utf8');
        } catch {
          after = '';
        }
        if (after === '') throw new PermifyError('ERROR_CODE_INVALID_CONTINUOUS_TOKEN', 'invalid continuous token');
      }
      const r = await query<TenantRow>(
        db.reader,
        'SELECT id, name, created_at FROM tenants WHERE ($1 = \'\' OR id COLLATE "C" > $1) ORDER BY id COLLATE "C" LIMIT $2',
        [after, page.size + 1],
        signal,
      );
      const rows = r.rows.slice(0, page.size);
      const last = rows[rows.length - 1];
      return {
        items: rows.map(toTenant),
        continuousToken: r.rows.length > page.size && last ? Buffer.from(last.id, 'utf8').toString('base64url') : '',
      };
    },
  };
}
