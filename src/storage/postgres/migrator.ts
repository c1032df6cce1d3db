/**
 * Applies and reverts the embedded migrations (`migrations/index.ts`). Bookkeeping lives in the
 * `migrations` table (goose-style: one row per applied version). Several instances may migrate the same
 * database at once: a session-level advisory lock serialises them, and it is taken by polling
 * `pg_try_advisory_lock` so that a waiting instance never sits inside a statement that
 * `CREATE INDEX CONCURRENTLY` of the lock holder would in turn wait for.
 */
import pg from 'pg';
import { PermifyError } from '../../errors.js';
import { migrations, type Migration } from './migrations/index.js';

const lockKey = 7_357_001_311; // arbitrary, fixed: "permify-ts migrations"

export interface MigrationStatus {
  readonly version: string;
  readonly name: string;
  readonly applied: boolean;
  readonly appliedAt?: Date;
}

async function ensureTable(client: pg.ClientBase): Promise<void> {
  await client.query(`CREATE TABLE IF NOT EXISTS migrations (
    version_id BIGINT NOT NULL,
    name VARCHAR NOT NULL,
    applied_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    CONSTRAINT pk_migrations PRIMARY KEY (version_id)
  )`);
}

async function withLock<T>(client: pg.ClientBase, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [lockKey]);
    if (r.rows[0]?.ok) break;
    if (Date.now() > deadline)
      throw new PermifyError('ERROR_CODE_MIGRATION', 'timed out waiting for the migration lock');
    await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 50));
  }
  try {
    return await fn();
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [lockKey]).catch(() => undefined);
  }
}

async function appliedVersions(client: pg.ClientBase): Promise<Map<string, Date>> {
  const r = await client.query<{ version_id: string; applied_at: Date }>(
    'SELECT version_id::text AS version_id, applied_at FROM migrations ORDER BY version_id',
  );
  return new Map(r.rows.map((row) => [row.version_id, row.applied_at]));
}

async function runStep(client: pg.ClientBase, m: Migration, direction: 'up' | 'down'): Promise<void> {
  const statements = direction === 'up' ? m.up : m.down;
  const record =
    direction === 'up'
      ? { text: 'INSERT INTO migrations (version_id, name) VALUES ($1, $2)', values: [m.version, m.name] }
      : { text: 'DELETE FROM migrations WHERE version_id = $1', values: [m.version] };
  if (m.transactional) {
    await client.query('BEGIN');
    try {
      for (const s of statements) await client.query(s);
      await client.query(record.text, record.values);
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  } else {
    // Statements are idempotent (IF [NOT] EXISTS), so a step interrupted half-way can simply be re-run.
    for (const s of statements) await client.query(s);
    await client.query(record.text, record.values);
  }
}

function migrationError(e: unknown): PermifyError {
  if (e instanceof PermifyError) return e;
  return new PermifyError('ERROR_CODE_MIGRATION', `migration failed: ${(e as Error).message ?? String(e)}`, {
    cause: e,
  });
}

export interface MigrateOptions {
  /** How long to wait for another instance's migration lock. */
  readonly lockTimeoutMs?: number;
  /** `migrateUp` only: apply pending migrations up to and including this version (absent = all). */
  readonly upTo?: bigint;
}

/** Applies every pending migration in order (up to `options.upTo`); returns the versions applied. */
export async function migrateUp(uri: string, options: MigrateOptions = {}): Promise<string[]> {
  return withClient(uri, async (client) => {
    return withLock(client, options.lockTimeoutMs ?? 120_000, async () => {
      await ensureTable(client);
      const applied = await appliedVersions(client);
      const done: string[] = [];
      for (const m of migrations) {
        if (options.upTo !== undefined && BigInt(m.version) > options.upTo) break;
        if (applied.has(m.version)) continue;
        await runStep(client, m, 'up');
        done.push(m.version);
      }
      return done;
    });
  });
}

/** Reverts the newest `steps` applied migrations (default 1); returns the versions reverted. */
export async function migrateDown(uri: string, steps = 1, options: MigrateOptions = {}): Promise<string[]> {
  return withClient(uri, async (client) => {
    return withLock(client, options.lockTimeoutMs ?? 120_000, async () => {
      await ensureTable(client);
      const applied = await appliedVersions(client);
      const done: string[] = [];
      for (const m of [...migrations].reverse()) {
        if (done.length >= steps) break;
        if (!applied.has(m.version)) continue;
        await runStep(client, m, 'down');
        done.push(m.version);
      }
      return done;
    });
  });
}

/** Every known migration with whether (and when) it is applied. */
export async function migrationStatus(uri: string): Promise<MigrationStatus[]> {
  return withClient(uri, async (client) => {
    const exists = await client.query<{ t: string | null }>("SELECT to_regclass('migrations')::text AS t");
    const applied = exists.rows[0]?.t ? await appliedVersions(client) : new Map<string, Date>();
    return migrations.map((m) => {
      const at = applied.get(m.version);
      return at === undefined
        ? { version: m.version, name: m.name, applied: false }
        : { version: m.version, name: m.name, applied: true, appliedAt: at };
    });
  });
}

async function withClient<T>(uri: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: uri, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await fn(client);
  } catch (e) {
    throw migrationError(e);
  } finally {
    await client.end().catch(() => undefined);
  }
}
