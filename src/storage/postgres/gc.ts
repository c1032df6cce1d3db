/**
 * Garbage collection (api-and-operations.md §11.6). For every tenant in `tenants` (ascending id), with
 * cutoff = database now() (UTC) − window: L = the tenant's newest transaction older than the cutoff; rows
 * expired by a transaction below L and transactions below L are deleted physically. Live rows are never
 * touched, and every row visible at a token younger than the window survives: such a token's snapshot
 * sees every transaction below L as committed, so a row expired below L is invisible to it anyway.
 * A failing tenant is logged and skipped.
 */
import type { GarbageCollector } from '../contract.js';
import { inTransaction, liveSentinel, query, type Database } from './database.js';

export interface PostgresGarbageCollector extends GarbageCollector {
  /** Starts the interval loop (no-op when already running). */
  start(intervalMs: number, windowMs: number, timeoutMs: number): void;
  /** Stops the loop and waits for a running pass. */
  close(): Promise<void>;
}

export function createPostgresGarbageCollector(db: Database): PostgresGarbageCollector {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = false;

  async function collectTenant(tenantId: string, windowMs: number, signal?: AbortSignal): Promise<number> {
    return inTransaction(db.writer, signal, async (c) => {
      const l = await query<{ id: string | null }>(
        c,
        "SELECT max(id)::text AS id FROM transactions WHERE tenant_id = $1 AND timestamp < (now() AT TIME ZONE 'UTC') - make_interval(secs => $2::double precision / 1000)",
        [tenantId, windowMs],
        signal,
      );
      const limit = l.rows[0]?.id;
      if (!limit) return 0;
      let removed = 0;
      for (const table of ['relation_tuples', 'attributes']) {
        const r = await query(
          c,
          `DELETE FROM ${table} WHERE tenant_id = $1 AND expired_tx_id <> '${liveSentinel}'::xid8 AND expired_tx_id < $2::xid8`,
          [tenantId, limit],
          signal,
        );
        removed += r.rowCount ?? 0;
      }
      const t = await query(
        c,
        'DELETE FROM transactions WHERE tenant_id = $1 AND id < $2::xid8',
        [tenantId, limit],
        signal,
      );
      return removed + (t.rowCount ?? 0);
    });
  }

  const gc: PostgresGarbageCollector = {
    async collect(windowMs, signal) {
      const tenants = await query<{ id: string }>(
        db.writer,
        'SELECT id FROM tenants ORDER BY id COLLATE "C"',
        [],
        signal,
      );
      let removedRows = 0;
      for (const { id } of tenants.rows) {
        if (signal?.aborted) break;
        try {
          removedRows += await collectTenant(id, windowMs, signal);
        } catch (e) {
          db.options.logger.warn({ tenant: id, err: (e as Error).message }, 'garbage collection failed for tenant');
        }
      }
      return { removedRows };
    },

    start(intervalMs, windowMs, timeoutMs) {
      if (timer || stopped || intervalMs <= 0 || timeoutMs <= 0) return;
      const tick = () => {
        if (stopped || running) return;
        const signal = AbortSignal.timeout(timeoutMs);
        running = gc
          .collect(windowMs, signal)
          .then((r) => db.options.logger.info({ removedRows: r.removedRows }, 'garbage collection pass'))
          .catch((e: unknown) =>
            db.options.logger.warn({ err: (e as Error).message }, 'garbage collection pass failed'),
          )
          .finally(() => {
            running = undefined;
          });
      };
      timer = setInterval(tick, intervalMs);
      timer.unref();
    },

    async close() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
  return gc;
}
