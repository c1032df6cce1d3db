/**
 * Bundles (§7): stored per (tenant, name) as the proto-JSON of a DataBundle; writes upsert.
 */
import { PermifyError } from '../../errors.js';
import type { BundleOperation, BundleStore, DataBundle } from '../contract.js';
import { checkBundles } from './validate.js';
import { inTransaction, query, type Database } from './database.js';

function toPayload(b: DataBundle): string {
  return JSON.stringify({
    name: b.name,
    arguments: b.arguments,
    operations: b.operations.map((o) => ({
      relationshipsWrite: o.relationshipsWrite,
      relationshipsDelete: o.relationshipsDelete,
      attributesWrite: o.attributesWrite,
      attributesDelete: o.attributesDelete,
    })),
  });
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map((x) => String(x)) : []);

function fromPayload(name: string, payload: unknown): DataBundle {
  const p = (payload ?? {}) as { arguments?: unknown; operations?: unknown };
  const ops = Array.isArray(p.operations) ? p.operations : [];
  return {
    name,
    arguments: strings(p.arguments),
    operations: ops.map((o: unknown): BundleOperation => {
      const op = (o ?? {}) as Record<string, unknown>;
      return {
        relationshipsWrite: strings(op.relationshipsWrite),
        relationshipsDelete: strings(op.relationshipsDelete),
        attributesWrite: strings(op.attributesWrite),
        attributesDelete: strings(op.attributesDelete),
      };
    }),
  };
}

export function createPostgresBundleStore(db: Database): BundleStore {
  return {
    async writeBundles(tenantId, bundles, signal) {
      checkBundles(bundles);
      await inTransaction(db.writer, signal, async (c) => {
        for (const b of bundles) {
          await query(
            c,
            'INSERT INTO bundles (name, payload, tenant_id) VALUES ($1, $2::jsonb, $3)' +
              ' ON CONFLICT (name, tenant_id) DO UPDATE SET payload = EXCLUDED.payload',
            [b.name, toPayload(b), tenantId],
            signal,
          );
        }
      });
      return bundles.map((b) => b.name);
    },

    async readBundle(tenantId, name, signal) {
      const r = await query<{ payload: unknown }>(
        db.reader,
        'SELECT payload FROM bundles WHERE tenant_id = $1 AND name = $2',
        [tenantId, name],
        signal,
      );
      const row = r.rows[0];
      if (!row) throw new PermifyError('ERROR_CODE_BUNDLE_NOT_FOUND', 'bundle not found');
      return fromPayload(name, row.payload);
    },

    async deleteBundle(tenantId, name, signal) {
      const r = await query(
        db.writer,
        'DELETE FROM bundles WHERE tenant_id = $1 AND name = $2',
        [tenantId, name],
        signal,
      );
      if (r.rowCount === 0) throw new PermifyError('ERROR_CODE_BUNDLE_NOT_FOUND', 'bundle not found');
    },
  };
}
