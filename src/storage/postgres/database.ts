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
  /** Connections a pool keeps open when idle (pg-pool `min`; capped at `maxOpenConnections`). */
  readonly minConnections: number;
  /** A connection is closed once it is this old, when next idle (0 = never); whole seconds, rounded up. */
  readonly maxConnectionLifetimeMs: number;
  /** An idle connection beyond `minConnections` is closed after this long (0 = never). */
  readonly maxConnectionIdleTimeMs: number;
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
  /**
   * A cheap connectivity probe: `SELECT 1` on each role's control connection (a one-connection pool beside
   * the role's pool, so a saturated pool does not read as an unreachable database). True when every role
   * answered within `connectionTimeoutMs`.
   */
  probe(signal?: AbortSignal): Promise<boolean>;
  /** Closes the pools after the pending server-side cancels are sent. */
  close(): Promise<void>;
}

/** Live-row sentinel of `expired_tx_id`. */
export const liveSentinel = '9223372036854775807';

/**
 * SQL for "expired by `xids`" (an xid8 expression: `$2::xid8`, `ANY($2::xid8[])`), written so that the
 * planner can use the partial expired-row indexes (own migration expired_tx_indexes), whose predicate must
 * appear verbatim in the query.
 */
export function expiredBy(xids: string): string {
  return `(expired_tx_id = ${xids} AND expired_tx_id <> '${liveSentinel}'::xid8)`;
}

/**
 * Sends cancels to the server of one role: `pg_cancel_backend(pid)` on a control connection. The protocol's
 * own cancel request would need a second connection per cancel anyway, and SQL also works behind TLS.
 */
class Canceller {
  readonly pool: pg.Pool;
  private readonly pending = new Set<Promise<void>>();

  constructor(uri: string, options: DatabaseOptions, role: string) {
    this.pool = new pg.Pool({
      connectionString: uri,
      max: 1,
      min: 0,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: options.connectionTimeoutMs,
      statement_timeout: options.connectionTimeoutMs,
      query_timeout: options.connectionTimeoutMs + 1_000,
      application_name: `permify-ts-${role}-control`,
      keepAlive: true,
    });
    this.pool.on('error', (err) => options.logger.warn({ err: err.message, role }, 'postgres control client error'));
    this.pool.on('connect', (client) => {
      client.on('error', () => undefined);
    });
    this.logger = options.logger;
  }

  private readonly logger: StoreLogger;

  /** Cancels whatever backend `pid` runs now; the caller discards that connection, so nothing else runs there. */
  cancel(pid: number): void {
    const sent = this.pool
      .query('SELECT pg_cancel_backend($1)', [pid])
      .then(
        () => undefined,
        (e: unknown) => this.logger.warn({ err: (e as Error).message, pid }, 'postgres statement cancel failed'),
      )
      .finally(() => this.pending.delete(sent));
    this.pending.add(sent);
  }

  async probe(signal: AbortSignal): Promise<boolean> {
    try {
      await raceAbort(this.pool.query('SELECT 1'), signal);
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.pending]);
    await this.pool.end();
  }
}

/** The canceller of the server a pool or pooled client talks to. */
const cancellers = new WeakMap<object, Canceller>();
/** Clients whose statement was cancelled on abort: never reused (a late cancel must not hit another statement). */
const poisoned = new WeakSet<object>();

// 64-bit xid8 values come back as strings; keep them as strings (never lossy numbers).
function makePool(uri: string, options: DatabaseOptions, role: string, canceller: Canceller): pg.Pool {
  const pool = new pg.Pool({
    connectionString: uri,
    max: Math.max(1, options.maxOpenConnections),
    min: Math.min(Math.max(0, options.minConnections), Math.max(1, options.maxOpenConnections)),
    idleTimeoutMillis: Math.max(0, options.maxConnectionIdleTimeMs),
    maxLifetimeSeconds: Math.ceil(Math.max(0, options.maxConnectionLifetimeMs) / 1000),
    connectionTimeoutMillis: options.connectionTimeoutMs,
    // statement_timeout bounds the server side; query_timeout bounds the client side even when the server
    // is gone (a dead TCP peer would otherwise hang a query until the OS gives up).
    // 0 disables both (PostgreSQL's own meaning of statement_timeout = 0).
    ...(options.statementTimeoutMs > 0
      ? { statement_timeout: options.statementTimeoutMs, query_timeout: options.statementTimeoutMs + 1_000 }
      : {}),
    application_name: `permify-ts-${role}`,
    keepAlive: true,
  });
  // An idle client losing its connection emits 'error' on the pool; without a listener Node would crash.
  pool.on('error', (err) => options.logger.warn({ err: err.message, role }, 'postgres idle client error'));
  // A terminated backend can report twice (the FATAL message, then ECONNRESET on the socket) after the
  // pool has already dropped the client and its listener; a permanent listener keeps that from crashing.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
    cancellers.set(client, canceller);
  });
  cancellers.set(pool, canceller);
  return pool;
}

/**
 * A small pool of its own on the writer (the primary), with the database's options but `size` connections,
 * kept open once made: for background work that must neither queue behind requests for a connection of the
 * shared pool nor wait for a new connection to be set up (the read model's tailing cycles). Close it with
 * `end()`.
 */
export function createSidePool(db: Database, role: string, size: number): pg.Pool {
  const canceller = cancellers.get(db.writer);
  if (canceller === undefined) throw new Error('createSidePool: not a pool of createDatabase');
  const n = Math.max(1, size);
  return makePool(db.options.writerUri, { ...db.options, maxOpenConnections: n, minConnections: n }, role, canceller);
}

export function createDatabase(options: DatabaseOptions): Database {
  const writerControl = new Canceller(options.writerUri, options, 'writer');
  const writer = makePool(options.writerUri, options, 'writer', writerControl);
  const shared = options.readerUri === options.writerUri;
  const readerControl = shared ? writerControl : new Canceller(options.readerUri, options, 'reader');
  const reader = shared ? writer : makePool(options.readerUri, options, 'reader', readerControl);
  const controls = shared ? [writerControl] : [writerControl, readerControl];
  let closed = false;
  return {
    writer,
    reader,
    options,
    async probe(signal) {
      if (closed) return false;
      const bounded = AbortSignal.timeout(options.connectionTimeoutMs);
      const s = signal ? AbortSignal.any([signal, bounded]) : bounded;
      const answers = await Promise.all(controls.map((c) => c.probe(s)));
      return answers.every(Boolean);
    },
    async close() {
      if (closed) return;
      closed = true;
      await writer.end();
      if (reader !== writer) await reader.end();
      await Promise.all(controls.map((c) => c.close()));
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
  // Node reports a refused connection to a name with several addresses as an AggregateError.
  if (e instanceof AggregateError && e.errors.some((inner) => isConnectionError(inner))) return true;
  // 57P01 admin shutdown / terminated backend, 57P02 crash shutdown, 57P03 cannot connect now, 08xxx connection.
  if (err.code === '57P01' || err.code === '57P02' || err.code === '57P03') return true;
  if (err.code?.startsWith('08')) return true;
  const m = err.message ?? '';
  return /Connection terminated|timeout exceeded when trying to connect|Query read timeout|connection error|Client has encountered a connection error|Connection terminated unexpectedly|the database system is (starting up|shutting down)|Cannot use a pool after calling end|Client was closed and is not queryable/i.test(
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

/**
 * Checks a client out of `pool`, giving up when `signal` aborts; a connection that arrives after the abort
 * goes straight back to the pool.
 */
export async function connect(pool: pg.Pool, signal?: AbortSignal): Promise<pg.PoolClient> {
  throwIfAborted(signal);
  const connecting = pool.connect();
  try {
    return await raceAbort(connecting, signal);
  } catch (e) {
    connecting.then(
      (late) => late.release(),
      () => undefined,
    );
    throw toStoreError(e, signal);
  }
}

/** Whether `client` had a statement cancelled and must be discarded rather than returned to its pool. */
export function mustDiscard(client: pg.PoolClient): boolean {
  return poisoned.has(client);
}

/**
 * Runs one statement on `client`. When `signal` aborts, the caller is answered at once and the statement is
 * cancelled on the server (pg_cancel_backend of the client's backend); the client is then marked for
 * discarding, so that a cancel arriving late can only hit a connection nobody uses any more.
 */
async function runAbortable<R extends pg.QueryResultRow>(
  client: pg.PoolClient,
  config: pg.QueryConfig,
  signal: AbortSignal,
): Promise<pg.QueryResult<R>> {
  throwIfAborted(signal);
  const running = client.query<R>(config);
  running.catch(() => undefined);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      poisoned.add(client);
      const pid = (client as unknown as { processID?: number | null }).processID;
      if (typeof pid === 'number') cancellers.get(client)?.cancel(pid);
      reject(toStoreError(new Error('aborted'), signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([running, aborted]);
  } catch (e) {
    throw toStoreError(e, signal);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/** One query as a named prepared statement, mapped errors, cancelled on the server when `signal` aborts. */
export async function query<R extends pg.QueryResultRow>(
  db: Queryable,
  sql: string,
  values: readonly unknown[],
  signal?: AbortSignal,
): Promise<pg.QueryResult<R>> {
  const config: pg.QueryConfig = { name: statementName(sql), text: sql, values: values as unknown[] };
  if (signal === undefined) {
    try {
      return await db.query<R>(config);
    } catch (e) {
      throw toStoreError(e);
    }
  }
  if (!(db instanceof pg.Pool)) return runAbortable<R>(db, config, signal);
  const client = await connect(db, signal);
  let failed = false;
  try {
    return await runAbortable<R>(client, config, signal);
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    // As pg-pool's own pool.query does: a client whose query failed is not reused (it may be broken).
    client.release(failed || mustDiscard(client) ? true : undefined);
  }
}

/**
 * Commits. Once COMMIT is sent the outcome is the database's, not the caller's: the signal is no longer
 * consulted (a committed write is never reported as cancelled). A connection lost during COMMIT leaves the
 * outcome unknown; that is UNAVAILABLE and never retried (a retry could apply the write twice).
 */
async function commit(client: pg.PoolClient): Promise<void> {
  try {
    await client.query('COMMIT');
  } catch (e) {
    if (isConnectionError(e)) {
      throw new PermifyError('UNAVAILABLE', 'connection lost during commit; the write may have been applied', {
        cause: e,
      });
    }
    throw e;
  }
}

/** Runs `fn` in a READ COMMITTED transaction on the writer pool. */
export async function inTransaction<T>(
  pool: pg.Pool,
  signal: AbortSignal | undefined,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await connect(pool, signal);
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    throwIfAborted(signal);
    await commit(client);
    return result;
  } catch (e) {
    broken = mustDiscard(client) || (await rollback(client));
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

const maxConnectFailures = 3;

/**
 * Runs `fn` in a SERIALIZABLE transaction, retrying serialization failures, unique violations and
 * connection losses up to `maxRetries` times (so at most `maxRetries + 1` attempts), then
 * ERROR_CODE_ERROR_MAX_RETRIES, or UNAVAILABLE when the last failure was the database being unreachable
 * (at most three attempts to get a connection at all). Other failures are not retried.
 */
export async function serializableWrite<T>(
  db: Database,
  signal: AbortSignal | undefined,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const attempts = Math.max(0, db.options.maxRetries) + 1;
  let lastError: unknown;
  // Failing to get a connection at all means the database is down or unreachable, which more retries
  // rarely cure: give up after a few (each waits up to connectionTimeoutMs) and answer UNAVAILABLE.
  let connectFailures = 0;
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    if (connectFailures >= maxConnectFailures) break;
    throwIfAborted(signal);
    if (attempt > 0) await sleep(backoffMs(attempt), signal);
    let client: pg.PoolClient;
    try {
      client = await connect(db.writer, signal);
    } catch (e) {
      const err = toStoreError(e, signal);
      if (err.code === 'UNAVAILABLE' && !signal?.aborted) {
        lastError = err.cause ?? e;
        connectFailures += 1;
        continue;
      }
      throw err;
    }
    let broken = false;
    let commitSent = false;
    try {
      await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE READ WRITE');
      const result = await fn(client);
      throwIfAborted(signal);
      commitSent = true;
      await commit(client);
      return result;
    } catch (e) {
      broken = mustDiscard(client) || (await rollback(client));
      if (signal?.aborted && !commitSent) throw toStoreError(e, signal);
      if (e instanceof PermifyError && e.code === 'UNAVAILABLE' && commitSent) throw e;
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
  // The database being unreachable is not a conflict: callers should see UNAVAILABLE (gRPC 14, HTTP 503).
  if (isConnectionError(lastError)) {
    throw new PermifyError('UNAVAILABLE', `database unavailable (write failed after ${attempts} attempts)`, {
      cause: lastError,
    });
  }
  throw new PermifyError('ERROR_CODE_ERROR_MAX_RETRIES', `write failed after ${attempts} attempts`, {
    cause: lastError,
    details: { limit: 'database.max_retries' },
  });
}
