/**
 * Connection handling shared by every part of the PostgreSQL store: the writer and reader pools, bounded
 * queries that honour an AbortSignal, the mapping of driver errors to {@link PermifyError}, and the
 * SERIALIZABLE retry loop of the write path (api-and-operations.md §11.3).
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { PermifyError, throwIfAborted } from '../../errors.js';

export type Queryable = pg.Pool | pg.PoolClient;

/** Minimal structured logger (pino-compatible subset). */
export interface StoreLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: StoreLogger = { info() {}, warn() {}, error() {} };

export interface DatabaseOptions {
  readonly writerUri: string;
  readonly readerUri: string;
  readonly maxOpenConnections: number;
  readonly maxIdleConnections: number;
  readonly connectionTimeoutMs: number;
  readonly statementTimeoutMs: number;
  readonly maxRetries: number;
  readonly logger: StoreLogger;
}

/** The two pools plus the options every query needs. */
export interface Database {
  readonly writer: pg.Pool;
  readonly reader: pg.Pool;
  readonly options: DatabaseOptions;
  close(): Promise<void>;
}

/** Live-row sentinel of `expired_tx_id`. */
export const liveSentinel = '9223372036854775807';

// 64-bit xid8 values come back as strings; keep them as strings (never lossy numbers).
function makePool(uri: string, options: DatabaseOptions, role: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString: uri,
    max: Math.max(1, options.maxOpenConnections),
    min: 0,
    idleTimeoutMillis: 60_000,
    connectionTimeoutMillis: options.connectionTimeoutMs,
    // statement_timeout bounds the server side; query_timeout bounds the client side even when the server
    // is gone (a dead TCP peer would otherwise hang a query until the OS gives up).
    statement_timeout: options.statementTimeoutMs,
    query_timeout: options.statementTimeoutMs + 1_000,
    application_name: `permify-ts-${role}`,
    keepAlive: true,
  });
  // An idle client losing its connection emits 'error' on the pool; without a listener Node would crash.
  pool.on('error', (err) => options.logger.warn({ err: err.message, role }, 'postgres idle client error'));
  // A terminated backend can report twice (the FATAL message, then ECONNRESET on the socket) after the
  // pool has already dropped the client and its listener; a permanent listener keeps that from crashing.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return pool;
}

export function createDatabase(options: DatabaseOptions): Database {
  const writer = makePool(options.writerUri, options, 'writer');
  const reader = options.readerUri === options.writerUri ? writer : makePool(options.readerUri, options, 'reader');
  let closed = false;
  return {
    writer,
    reader,
    options,
    async close() {
      if (closed) return;
      closed = true;
      await writer.end();
      if (reader !== writer) await reader.end();
    },
  };
}

interface PgLikeError {
  code?: string;
  message?: string;
}

const connectionErrorCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);

/** True for failures that mean "the database is not reachable right now". */
export function isConnectionError(e: unknown): boolean {
  const err = e as PgLikeError | undefined;
  if (!err || typeof err !== 'object') return false;
  if (err.code !== undefined && connectionErrorCodes.has(err.code)) return true;
  // 57P01 admin shutdown / terminated backend, 57P02 crash shutdown, 57P03 cannot connect now, 08xxx connection.
  if (err.code === '57P01' || err.code === '57P02' || err.code === '57P03') return true;
  if (err.code?.startsWith('08')) return true;
  const m = err.message ?? '';
  return /Connection terminated|timeout exceeded when trying to connect|Query read timeout|connection error|Client has encountered a connection error|Connection terminated unexpectedly|the database system is (starting up|shutting down)/i.test(
    m,
  );
}

/** True for conflicts the write path retries (§11.3). */
export function isRetryableWriteError(e: unknown): boolean {
  const err = e as PgLikeError | undefined;
  if (!err || typeof err !== 'object') return false;
  if (err.code === '40001' || err.code === '40P01' || err.code === '23505') return true;
  const m = err.message ?? '';
  return /could not serialize|duplicate key value/.test(m);
}

/** Normalises a driver failure. Abort wins over everything; connection loss answers UNAVAILABLE. */
export function toStoreError(e: unknown, signal?: AbortSignal): PermifyError {
  if (e instanceof PermifyError) return e;
  if (signal?.aborted) {
    const reason: unknown = signal.reason;
    const timeout = reason instanceof Error && reason.name === 'TimeoutError';
    return new PermifyError(timeout ? 'DEADLINE_EXCEEDED' : 'ERROR_CODE_CANCELLED', undefined, { cause: e });
  }
  if (isConnectionError(e)) return new PermifyError('UNAVAILABLE', 'database unavailable', { cause: e });
  const code = (e as PgLikeError | undefined)?.code;
  if (code === '57014') return new PermifyError('ERROR_CODE_DATASTORE', 'statement timeout', { cause: e });
  return new PermifyError('ERROR_CODE_DATASTORE', 'datastore error', { cause: e });
}

/**
 * Runs `work` but settles as soon as `signal` aborts (the statement then finishes or times out on its own;
 * its connection is released by the owner of `work`).
 */
export async function raceAbort<T>(work: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return work;
  throwIfAborted(signal);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(toStoreError(new Error('aborted'), signal));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  work.catch(() => undefined);
  try {
    return await Promise.race([work, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

const statementNames = new Map<string, string>();

/** A stable prepared-statement name for a SQL text (pg prepares named statements once per connection). */
export function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (name === undefined) {
    name = 'p_' + createHash('sha1').update(sql).digest('hex').slice(0, 20);
    statementNames.set(sql, name);
  }
  return name;
}

/** One query as a named prepared statement, mapped errors, abortable. */
export async function query<R extends pg.QueryResultRow>(
  db: Queryable,
  sql: string,
  values: readonly unknown[],
  signal?: AbortSignal,
): Promise<pg.QueryResult<R>> {
  try {
    return await raceAbort(db.query<R>({ name: statementName(sql), text: sql, values: values as unknown[] }), signal);
  } catch (e) {
    throw toStoreError(e, signal);
  }
}

/** Runs `fn` in a READ COMMITTED transaction on the writer pool. */
export async function inTransaction<T>(
  pool: pg.Pool,
  signal: AbortSignal | undefined,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  throwIfAborted(signal);
  let client: pg.PoolClient;
  try {
    client = await raceAbort(pool.connect(), signal);
  } catch (e) {
    throw toStoreError(e, signal);
  }
  let broken = false;
  try {
    await raceAbort(client.query('BEGIN'), signal);
    const result = await fn(client);
    await raceAbort(client.query('COMMIT'), signal);
    return result;
  } catch (e) {
    broken = await rollback(client);
    throw toStoreError(e, signal);
  } finally {
    client.release(broken ? true : undefined);
  }
}

/** Rolls back; returns true when the connection should be discarded. */
async function rollback(client: pg.PoolClient): Promise<boolean> {
  try {
    await client.query('ROLLBACK');
    return false;
  } catch {
    return true;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(toStoreError(new Error('aborted'), signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Back-off of §11.3: 20 ms × 2^min(attempt,5), capped at 1 s, plus 0–50 % jitter. */
export function backoffMs(attempt: number): number {
  const base = Math.min(1000, 20 * 2 ** Math.min(attempt, 5));
  return base + Math.random() * base * 0.5;
}

/**
 * Runs `fn` in a SERIALIZABLE transaction, retrying serialization failures, unique violations and
 * connection losses up to `maxRetries` times (so at most `maxRetries + 1` attempts), then
 * ERROR_CODE_ERROR_MAX_RETRIES. Other failures are not retried.
 */
export async function serializableWrite<T>(
  db: Database,
  signal: AbortSignal | undefined,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const attempts = Math.max(0, db.options.maxRetries) + 1;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    throwIfAborted(signal);
    if (attempt > 0) await sleep(backoffMs(attempt), signal);
    let client: pg.PoolClient;
    try {
      client = await raceAbort(db.writer.connect(), signal);
    } catch (e) {
      const err = toStoreError(e, signal);
      if (err.code === 'UNAVAILABLE' && !signal?.aborted) {
        lastError = e;
        continue;
      }
      throw err;
    }
    let broken = false;
    try {
      await raceAbort(client.query('BEGIN ISOLATION LEVEL SERIALIZABLE READ WRITE'), signal);
      const result = await fn(client);
      await raceAbort(client.query('COMMIT'), signal);
      return result;
    } catch (e) {
      broken = await rollback(client);
      if (signal?.aborted) throw toStoreError(e, signal);
      const cause = e instanceof PermifyError && e.cause !== undefined ? e.cause : e;
      if (isRetryableWriteError(cause) || isConnectionError(cause)) {
        lastError = cause;
        db.options.logger.info({ attempt, err: (cause as Error).message }, 'postgres write retry');
        continue;
      }
      throw toStoreError(e, signal);
    } finally {
      client.release(broken ? true : undefined);
    }
  }
  throw new PermifyError('ERROR_CODE_ERROR_MAX_RETRIES', `write failed after ${attempts} attempts`, {
    cause: lastError,
    details: { limit: 'database.max_retries' },
  });
}
