/**
 * Watch (api-and-operations.md §8) by polling the `transactions` table.
 *
 * A transaction of the tenant becomes eligible only once its id is below the xmin of the current snapshot
 * (every transaction with a smaller id has finished), and eligible transactions are delivered in id order,
 * one {@link DataChanges} each, with the legacy 8-byte token of their id. Together these make the stream
 * gap-free and duplicate-free, and resumable from any delivered token (the cursor is just the id).
 *
 * Deviation: Permify orders by commit timestamp (needs `track_commit_timestamp = on`). Combined with the
 * "below the oldest running id" rule that order can skip a transaction that committed before the cursor's
 * transaction but only became eligible after it; id order cannot. Id order still respects every causal
 * dependency (a transaction that saw another one's rows got its id after that one committed). So this
 * store uses id order whether or not commit timestamps are tracked, and only reports the setting.
 *
 * Polling: 100 ms when busy, doubling up to 2 s while idle. At most `bufferSize` transactions are fetched
 * per poll.
 */
import type { Attribute, Tuple } from '../../data/types.js';
import type { DataChange, DataChanges, SnapToken, Watcher } from '../contract.js';
import { query, toStoreError, type Database } from './database.js';
import { decodeToken, legacyToken } from './snap-token.js';
import { attributeFromRow, tupleFromRow, type AttributeRow, type TupleRow } from './values.js';

const minPollMs = 100;
const maxPollMs = 2_000;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

export interface PostgresWatcher extends Watcher {
  /** Whether the server tracks commit timestamps (informational, see the module comment). */
  commitTimestampsTracked(signal?: AbortSignal): Promise<boolean>;
}

export function createPostgresWatcher(db: Database, bufferSize: number): PostgresWatcher {
  async function startCursor(tenantId: string, snapToken: SnapToken, signal: AbortSignal): Promise<bigint> {
    if (snapToken !== '') return decodeToken(snapToken).xid;
    const r = await query<{ id: string | null }>(
      db.writer,
      'SELECT max(id)::text AS id FROM transactions WHERE tenant_id = $1',
      [tenantId],
      signal,
    );
    return BigInt(r.rows[0]?.id ?? '0');
  }

  async function changesOf(tenantId: string, x: string, signal: AbortSignal): Promise<DataChange[]> {
    const tuples = await query<TupleRow & { created: boolean }>(
      db.writer,
      'SELECT id, entity_type, entity_id, relation, subject_type, subject_id, subject_relation, created_tx_id = $2::xid8 AS created' +
        ' FROM relation_tuples WHERE tenant_id = $1 AND (created_tx_id = $2::xid8 OR expired_tx_id = $2::xid8) ORDER BY id',
      [tenantId, x],
      signal,
    );
    const attributes = await query<AttributeRow & { created: boolean }>(
      db.writer,
      'SELECT id, entity_type, entity_id, attribute, value, created_tx_id = $2::xid8 AS created' +
        ' FROM attributes WHERE tenant_id = $1 AND (created_tx_id = $2::xid8 OR expired_tx_id = $2::xid8) ORDER BY id',
      [tenantId, x],
      signal,
    );
    const changes: DataChange[] = [];
    for (const row of tuples.rows) {
      const tuple: Tuple = tupleFromRow(row);
      changes.push({ operation: row.created ? 'create' : 'delete', tuple });
    }
    for (const row of attributes.rows) {
      const attribute: Attribute = attributeFromRow(row);
      changes.push({ operation: row.created ? 'create' : 'delete', attribute });
    }
    return changes;
  }

  return {
    async commitTimestampsTracked(signal) {
      const r = await query<{ v: string }>(
        db.writer,
        "SELECT current_setting('track_commit_timestamp') AS v",
        [],
        signal,
      );
      return r.rows[0]?.v === 'on';
    },

    async *watch(tenantId, snapToken, signal): AsyncIterable<DataChanges> {
      if (signal.aborted) return;
      let cursor: bigint;
      try {
        cursor = await startCursor(tenantId, snapToken, signal);
      } catch (e) {
        if (signal.aborted) return;
        throw toStoreError(e, signal);
      }
      let pollMs = minPollMs;
      while (!signal.aborted) {
        let ids: string[];
        try {
          // Sorted by the xid8 column: an alias named like the column would sort the text ('10000' < '9999').
          const r = await query<{ xid: string }>(
            db.writer,
            'SELECT t.id::text AS xid FROM transactions t WHERE t.tenant_id = $1 AND t.id > $2::xid8' +
              ' AND t.id < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY t.id LIMIT $3',
            [tenantId, cursor.toString(), Math.max(1, bufferSize)],
            signal,
          );
          ids = r.rows.map((row) => row.xid);
        } catch (e) {
          if (signal.aborted) return;
          throw toStoreError(e, signal);
        }
        for (const id of ids) {
          let changes: DataChange[];
          try {
            changes = await changesOf(tenantId, id, signal);
          } catch (e) {
            if (signal.aborted) return;
            throw toStoreError(e, signal);
          }
          if (signal.aborted) return;
          yield { snapToken: legacyToken(BigInt(id)), changes };
          cursor = BigInt(id);
        }
        if (ids.length > 0) {
          pollMs = minPollMs;
          if (ids.length >= bufferSize) continue;
        } else {
          pollMs = Math.min(maxPollMs, pollMs * 2);
        }
        await sleep(ids.length > 0 ? minPollMs : pollMs, signal);
      }
    },
  };
}
