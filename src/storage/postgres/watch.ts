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
 *
 * Sharing: all streams of one tenant share one poller (one query loop on the writer pool, however many
 * streams). A stream joins the poller at the poller's position P: it first catches up on its own over
 * (its cursor, P] (plain queries, bounded by `bufferSize` per round trip), then takes the poller's change
 * sets after P from its own queue. A stream whose queue grows past a bound (a slow consumer) is detached
 * and catches up on its own again from its last delivered id, so one slow stream never holds the others
 * back nor makes memory grow. The poller stops when its last stream ends.
 */
import type { Attribute, Tuple } from '../../data/types.js';
import type { DataChange, DataChanges, SnapToken, Watcher } from '../contract.js';
import { expiredBy, liveSentinel, query, toStoreError, type Database } from './database.js';
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
  /** Tenants with a running poller (diagnostics and tests). */
  pollingTenants(): readonly string[];
}

interface Delivery {
  readonly xid: bigint;
  readonly message: DataChanges;
}

/** One stream's side of a poller. */
class Subscriber {
  /** Change sets with ids at or below this are not for this stream. */
  after = 0n;
  queue: Delivery[] = [];
  /** Dropped by the poller for falling behind; the stream catches up on its own and joins again. */
  detached = false;
  error: unknown = undefined;
  private wake: (() => void) | undefined;

  notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  waitForNews(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }
}

/** The highest xid8 value, as an upper bound meaning "no bound". */
const noUpperBound = liveSentinel;

export function createPostgresWatcher(db: Database, bufferSize: number): PostgresWatcher {
  const limit = Math.max(1, bufferSize);
  const maxQueued = Math.max(16, 2 * limit);

  /**
   * Where a stream starts. From a token: after its transaction. From "now" (empty token): after the newest
   * transaction below the oldest one still running, skipping the tenant's transactions above it that have
   * already committed. (Starting after the newest committed id instead would lose an older transaction
   * still running now, since ids are assigned at start and committed in any order.)
   */
  async function startCursor(
    tenantId: string,
    snapToken: SnapToken,
    signal: AbortSignal,
  ): Promise<{ cursor: bigint; committed: ReadonlySet<bigint> }> {
    if (snapToken !== '') return { cursor: decodeToken(snapToken).xid, committed: new Set() };
    const r = await query<{ xid: string; eligible: boolean }>(
      db.writer,
      'WITH s AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)' +
        ' (SELECT t.id::text AS xid, true AS eligible FROM transactions t, s WHERE t.tenant_id = $1 AND t.id < s.xmin ORDER BY t.id DESC LIMIT 1)' +
        ' UNION ALL (SELECT t.id::text AS xid, false AS eligible FROM transactions t, s WHERE t.tenant_id = $1 AND t.id >= s.xmin)',
      [tenantId],
      signal,
    );
    let cursor = 0n;
    const committed = new Set<bigint>();
    for (const row of r.rows) {
      if (row.eligible) cursor = BigInt(row.xid);
      else committed.add(BigInt(row.xid));
    }
    return { cursor, committed };
  }

  /** Eligible transaction ids of the tenant in (after, upTo], ascending, at most `limit`. */
  async function eligibleIds(tenantId: string, after: bigint, upTo: string, signal: AbortSignal): Promise<bigint[]> {
    // Sorted by the xid8 column: an alias named like the column would sort the text ('10000' < '9999').
    const r = await query<{ xid: string }>(
      db.writer,
      'SELECT t.id::text AS xid FROM transactions t WHERE t.tenant_id = $1 AND t.id > $2::xid8 AND t.id <= $3::xid8' +
        ' AND t.id < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY t.id LIMIT $4',
      [tenantId, after.toString(), upTo, limit],
      signal,
    );
    return r.rows.map((row) => BigInt(row.xid));
  }

  async function changesOf(tenantId: string, xid: bigint, signal: AbortSignal): Promise<DataChanges> {
    const x = xid.toString();
    const tuples = await query<TupleRow & { created: boolean }>(
      db.writer,
      'SELECT id, entity_type, entity_id, relation, subject_type, subject_id, subject_relation, created_tx_id = $2::xid8 AS created' +
        ` FROM relation_tuples WHERE tenant_id = $1 AND (created_tx_id = $2::xid8 OR ${expiredBy('$2::xid8')}) ORDER BY id`,
      [tenantId, x],
      signal,
    );
    const attributes = await query<AttributeRow & { created: boolean }>(
      db.writer,
      'SELECT id, entity_type, entity_id, attribute, value, created_tx_id = $2::xid8 AS created' +
        ` FROM attributes WHERE tenant_id = $1 AND (created_tx_id = $2::xid8 OR ${expiredBy('$2::xid8')}) ORDER BY id`,
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
    return { snapToken: legacyToken(xid), changes };
  }

  /** The one query loop of a tenant; hands every eligible change set after `position` to its subscribers. */
  class TenantPoller {
    /** Every change set with an id at or below this has been handed out (or predates every subscriber). */
    position: bigint;
    readonly subscribers = new Set<Subscriber>();
    private readonly stop = new AbortController();

    constructor(
      private readonly tenantId: string,
      position: bigint,
    ) {
      this.position = position;
      void this.run();
    }

    /** Adds `sub`; it receives every change set after the returned position (and after `sub.after`). */
    join(sub: Subscriber): bigint {
      this.subscribers.add(sub);
      return this.position;
    }

    leave(sub: Subscriber): void {
      this.subscribers.delete(sub);
      if (this.subscribers.size === 0) this.end();
    }

    private end(): void {
      if (pollers.get(this.tenantId) === this) pollers.delete(this.tenantId);
      this.stop.abort();
    }

    private async run(): Promise<void> {
      const signal = this.stop.signal;
      let pollMs = minPollMs;
      try {
        while (!signal.aborted) {
          const ids = await eligibleIds(this.tenantId, this.position, noUpperBound, signal);
          for (const xid of ids) {
            const message = await changesOf(this.tenantId, xid, signal);
            if (signal.aborted) return;
            // Synchronous from here to the position update: a stream joining in between sees either the old
            // position and this delivery, or the new position and not this delivery.
            for (const sub of this.subscribers) {
              if (xid <= sub.after) continue;
              if (sub.queue.length >= maxQueued) {
                sub.detached = true;
                this.subscribers.delete(sub);
              } else {
                sub.queue.push({ xid, message });
              }
              sub.notify();
            }
            this.position = xid;
            if (this.subscribers.size === 0) return this.end();
          }
          if (ids.length >= limit) continue;
          pollMs = ids.length > 0 ? minPollMs : Math.min(maxPollMs, pollMs * 2);
          await sleep(ids.length > 0 ? minPollMs : pollMs, signal);
        }
      } catch (e) {
        if (signal.aborted) return;
        const error = toStoreError(e);
        for (const sub of this.subscribers) {
          sub.error = error;
          sub.notify();
        }
        this.subscribers.clear();
        this.end();
      }
    }
  }

  const pollers = new Map<string, TenantPoller>();

  function pollerFor(tenantId: string, cursor: bigint): TenantPoller {
    let poller = pollers.get(tenantId);
    if (poller === undefined) {
      poller = new TenantPoller(tenantId, cursor);
      pollers.set(tenantId, poller);
    }
    return poller;
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

    pollingTenants() {
      return [...pollers.keys()];
    },

    async *watch(tenantId, snapToken, signal): AsyncIterable<DataChanges> {
      if (signal.aborted) return;
      let cursor: bigint;
      let committedBefore: ReadonlySet<bigint>;
      try {
        ({ cursor, committed: committedBefore } = await startCursor(tenantId, snapToken, signal));
      } catch (e) {
        if (signal.aborted) return;
        throw toStoreError(e, signal);
      }
      const sub = new Subscriber();
      const onAbort = () => sub.notify();
      signal.addEventListener('abort', onAbort, { once: true });
      let poller: TenantPoller | undefined;
      try {
        while (!signal.aborted) {
          sub.after = cursor;
          sub.queue = [];
          sub.detached = false;
          poller = pollerFor(tenantId, cursor);
          const joinedAt = poller.join(sub);
          // Catch up on our own over (cursor, joinedAt]; the poller queues what comes after.
          while (cursor < joinedAt && !signal.aborted) {
            let ids: bigint[];
            try {
              ids = await eligibleIds(tenantId, cursor, joinedAt.toString(), signal);
            } catch (e) {
              if (signal.aborted) return;
              throw toStoreError(e, signal);
            }
            if (ids.length === 0) break;
            for (const xid of ids) {
              if (committedBefore.has(xid)) {
                cursor = xid;
                continue;
              }
              let message: DataChanges;
              try {
                message = await changesOf(tenantId, xid, signal);
              } catch (e) {
                if (signal.aborted) return;
                throw toStoreError(e, signal);
              }
              if (signal.aborted) return;
              yield message;
              cursor = xid;
            }
          }
          // Live: the poller's change sets, in order.
          while (!signal.aborted) {
            const next = sub.queue.shift();
            if (next !== undefined) {
              if (next.xid <= cursor) continue;
              if (!committedBefore.has(next.xid)) yield next.message;
              cursor = next.xid;
              continue;
            }
            if (sub.error !== undefined) throw sub.error;
            if (sub.detached) break;
            await sub.waitForNews();
          }
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
        poller?.leave(sub);
      }
    },
  };
}
