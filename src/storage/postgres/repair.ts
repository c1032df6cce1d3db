/**
 * `permify repair datastore`: after a database is restored or copied into another PostgreSQL cluster, that
 * cluster's transaction-id counter may be behind the ids recorded in `transactions`, so new writes would sort
 * before old ones and snapshots would hide them. This advances the counter past the largest recorded id by
 * starting (and committing) empty transactions that each take an id. Rows are never modified.
 */
import pg from 'pg';
import { PermifyError } from '../../errors.js';

export interface RepairOptions {
  /** Ids taken per round trip. */
  readonly batchSize?: number;
  /** Only report what would be done. */
  readonly dryRun?: boolean;
  /** Retries of a failed batch before giving up. */
  readonly retries?: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
}

export interface RepairResult {
  /** Largest id in `transactions` (0 when the table is empty). */
  readonly maxReferenced: bigint;
  /** The cluster's counter before the repair. */
  readonly currentBefore: bigint;
  /** Transaction ids taken (would be taken, on a dry run). */
  readonly advanced: bigint;
}

async function currentXid(client: pg.Client): Promise<bigint> {
  // Outside an explicit transaction each statement is its own transaction, so this takes one id.
  const r = await client.query<{ x: string }>('SELECT pg_current_xact_id()::text AS x');
  return BigInt(r.rows[0]?.x ?? '0');
}

/** Advances the transaction-id counter of the cluster behind `uri` past every id in `transactions`. */
export async function repairTransactionIds(uri: string, options: RepairOptions = {}): Promise<RepairResult> {
  const batchSize = options.batchSize ?? 1000;
  const retries = options.retries ?? 3;
  const log = options.log ?? (() => undefined);
  const client = new pg.Client({ connectionString: uri, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const exists = await client.query<{ t: string | null }>("SELECT to_regclass('transactions')::text AS t");
    if (!exists.rows[0]?.t)
      throw new PermifyError('ERROR_CODE_MIGRATION', 'no transactions table: run migrations first');
    // Ordered by the xid8 column, not by its text form ('9999' > '10000').
    const maxRow = await client.query<{ xid: string }>(
      'SELECT t.id::text AS xid FROM transactions t ORDER BY t.id DESC LIMIT 1',
    );
    const maxReferenced = BigInt(maxRow.rows[0]?.xid ?? '0');
    const currentBefore = await currentXid(client);
    const needed = maxReferenced >= currentBefore ? maxReferenced - currentBefore + 1n : 0n;
    log(`largest referenced transaction id: ${maxReferenced}; current: ${currentBefore}; to advance: ${needed}`);
    if (options.dryRun === true || needed === 0n) return { maxReferenced, currentBefore, advanced: needed };

    let done = 0n;
    while (done < needed) {
      if (options.signal?.aborted) throw new PermifyError('ERROR_CODE_CANCELLED', 'repair cancelled');
      const n = Number(needed - done < BigInt(batchSize) ? needed - done : BigInt(batchSize));
      for (let attempt = 0; ; attempt++) {
        try {
          // One round trip: each BEGIN ... COMMIT block of the script is its own transaction and takes an id.
          await client.query('BEGIN; SELECT pg_current_xact_id(); COMMIT; '.repeat(n));
          break;
        } catch (e) {
          if (attempt >= retries) throw e;
          log(`batch failed (${(e as Error).message}); retrying`);
        }
      }
      done += BigInt(n);
      log(`advanced ${done}/${needed}`);
    }
    return { maxReferenced, currentBefore, advanced: needed };
  } catch (e) {
    if (e instanceof PermifyError) throw e;
    throw new PermifyError('ERROR_CODE_MIGRATION', `repair failed: ${(e as Error).message ?? String(e)}`, { cause: e });
  } finally {
    await client.end().catch(() => undefined);
  }
}
