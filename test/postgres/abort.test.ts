/**
 * Aborts and timeouts of PostgreSQL statements: an abort stops the statement on the server (not only the
 * client's wait), a write whose COMMIT was sent is never reported as cancelled, and
 * `database.statement_timeout` is honoured. Slow statements come from triggers installed in the test
 * database (they sleep only for the tenants named here).
 */
import { tmpdir } from 'node:os';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { Tuple } from '../../src/data/types.js';
import { PermifyError } from '../../src/errors.js';
import { createPostgresStore, type PostgresStore } from '../../src/storage/postgres/index.js';
import { createTestDatabase, stopSharedServer, type TestDatabase } from '../support/postgres.js';

const tuple = (doc: string): Tuple => ({
  entity: { type: 'doc', id: doc },
  relation: 'viewer',
  subject: { type: 'user', id: 'u', relation: '' },
});

let db: TestDatabase;
let store: PostgresStore;
let admin: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await createPostgresStore({ uri: db.uri, maxOpenConnections: 4 });
  await store.ready();
  admin = new pg.Client({ connectionString: db.uri });
  await admin.connect();
  // 'slow': every inserted tuple sleeps 5 s. 'slow-commit': the commit sleeps 0.8 s (deferred trigger).
  await admin.query(`
    CREATE FUNCTION test_sleep() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.tenant_id = 'slow' THEN PERFORM pg_sleep(5); END IF;
      IF NEW.tenant_id = 'slow-commit' THEN PERFORM pg_sleep(0.8); END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER test_slow BEFORE INSERT ON relation_tuples FOR EACH ROW WHEN (NEW.tenant_id = 'slow')
      EXECUTE FUNCTION test_sleep();
    CREATE CONSTRAINT TRIGGER test_slow_commit AFTER INSERT ON relation_tuples DEFERRABLE INITIALLY DEFERRED
      FOR EACH ROW WHEN (NEW.tenant_id = 'slow-commit') EXECUTE FUNCTION test_sleep();
  `);
});

afterAll(async () => {
  await admin?.end();
  await store?.close();
  await db?.drop();
  await stopSharedServer();
});

/** Statements of the store's pools currently running in the test database whose text matches `like`. */
async function running(like: string): Promise<number> {
  const r = await admin.query<{ n: string }>(
    "SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND application_name LIKE 'permify-ts-%' AND query LIKE $1",
    [like],
  );
  return Number(r.rows[0]!.n);
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 5_000): Promise<number> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - start;
}

const settle = <T>(p: Promise<T>) =>
  p.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );

describe('postgres aborts', () => {
  it('an aborted write stops its statement on the server', async () => {
    const ac = new AbortController();
    const write = settle(store.writer.write('slow', [{ writeTuples: [tuple('1')] }], ac.signal));
    await until('the insert to run', async () => (await running('%INSERT INTO relation_tuples%')) > 0);
    const abortedAt = Date.now();
    ac.abort();
    const outcome = await write;
    expect(Date.now() - abortedAt).toBeLessThan(1_000);
    expect('error' in outcome && outcome.error).toMatchObject({ code: 'ERROR_CODE_CANCELLED' });
    // Gone from the server well before the 5 s sleep ends.
    const gone = await until(
      'the insert to stop',
      async () => (await running('%INSERT INTO relation_tuples%')) === 0,
      2_000,
    );
    expect(gone).toBeLessThan(2_000);
    const head = await store.reader.headSnapToken('slow');
    expect(await store.reader.queryRelationships('slow', {}, head)).toEqual([]);
    // The pool still works.
    await store.writer.write('fast', [{ writeTuples: [tuple('1')] }]);
  });

  it('an aborted read stops its statement on the server', async () => {
    await admin.query('BEGIN');
    await admin.query('LOCK TABLE relation_tuples IN ACCESS EXCLUSIVE MODE');
    try {
      const ac = new AbortController();
      const read = settle(store.reader.readRelationships('fast', {}, 'AAAAAAAAAAA=', { size: 10 }, ac.signal));
      const observer = new pg.Client({ connectionString: db.uri });
      await observer.connect();
      try {
        const lockWaits = async () =>
          Number(
            (
              await observer.query<{ n: string }>(
                "SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name LIKE 'permify-ts-%'",
              )
            ).rows[0]!.n,
          );
        await until('the read to wait for the lock', async () => (await lockWaits()) > 0);
        ac.abort();
        expect(await read).toMatchObject({ error: { code: 'ERROR_CODE_CANCELLED' } });
        await until('the read to stop waiting', async () => (await lockWaits()) === 0, 2_000);
      } finally {
        await observer.end();
      }
    } finally {
      await admin.query('ROLLBACK');
    }
  });

  it('an aborted engine read (shared read cache) stops its statement once no caller waits for it', async () => {
    await admin.query('BEGIN');
    await admin.query('LOCK TABLE relation_tuples IN ACCESS EXCLUSIVE MODE');
    const observer = new pg.Client({ connectionString: db.uri });
    await observer.connect();
    try {
      const lockWaits = async () =>
        Number(
          (
            await observer.query<{ n: string }>(
              "SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name LIKE 'permify-ts-%'",
            )
          ).rows[0]!.n,
        );
      const first = new AbortController();
      const second = new AbortController();
      const filter = { entity: { type: 'doc' } };
      const a = settle(store.reader.queryRelationships('cached', filter, 'AAAAAAAAAAA=', { signal: first.signal }));
      const b = settle(store.reader.queryRelationships('cached', filter, 'AAAAAAAAAAA=', { signal: second.signal }));
      await until('the read to wait for the lock', async () => (await lockWaits()) > 0);
      expect(await lockWaits()).toBe(1); // one shared statement
      first.abort();
      expect(await a).toMatchObject({ error: { code: 'ERROR_CODE_CANCELLED' } });
      await new Promise((r) => setTimeout(r, 100));
      expect(await lockWaits()).toBe(1); // the second caller still waits for it
      second.abort();
      expect(await b).toMatchObject({ error: { code: 'ERROR_CODE_CANCELLED' } });
      await until('the shared read to stop', async () => (await lockWaits()) === 0, 2_000);
    } finally {
      await observer.end();
      await admin.query('ROLLBACK');
    }
    // A later read of the same key runs afresh.
    expect(await store.reader.queryRelationships('cached', { entity: { type: 'doc' } }, 'AAAAAAAAAAA=')).toEqual([]);
  });

  it('a write whose COMMIT was sent is not reported as cancelled', async () => {
    const ac = new AbortController();
    const write = settle(store.writer.write('slow-commit', [{ writeTuples: [tuple('1')] }], ac.signal));
    await until('the commit to run', async () => (await running('COMMIT')) > 0);
    ac.abort();
    const outcome = await write;
    expect(outcome).toHaveProperty('value');
    const token = (outcome as { value: string }).value;
    expect((await store.reader.queryRelationships('slow-commit', {}, token)).map((t) => t.entity.id)).toEqual(['1']);
  });

  it('isReady answers from its own connection: a saturated pool is still ready', async () => {
    const s = await createPostgresStore({ uri: db.uri, maxOpenConnections: 1, connectionTimeoutMs: 2_000 });
    const ac = new AbortController();
    try {
      await s.ready();
      const write = settle(s.writer.write('slow', [{ writeTuples: [tuple('3')] }], ac.signal));
      await until('the insert to run', async () => (await running('%INSERT INTO relation_tuples%')) > 0);
      const started = Date.now();
      expect(await s.isReady()).toBe(true);
      expect(Date.now() - started).toBeLessThan(1_000);
      ac.abort();
      await write;
    } finally {
      ac.abort();
      await s.close();
    }
  });

  it('a statement whose backend is terminated (admin shutdown), and a closed store, answer UNAVAILABLE', async () => {
    const s = await createPostgresStore({ uri: db.uri, maxOpenConnections: 2, maxRetries: 0 });
    await s.ready();
    await admin.query('BEGIN');
    await admin.query('LOCK TABLE relation_tuples IN ACCESS EXCLUSIVE MODE');
    try {
      const read = settle(s.reader.readRelationships('t', {}, 'AAAAAAAAAAA=', { size: 1 }));
      const observer = new pg.Client({ connectionString: db.uri });
      await observer.connect();
      try {
        const waiting = async () =>
          (
            await observer.query<{ pid: number }>(
              "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name = 'permify-ts-writer'",
            )
          ).rows;
        await until('the read to wait', async () => (await waiting()).length > 0);
        for (const { pid } of await waiting()) await observer.query('SELECT pg_terminate_backend($1)', [pid]);
      } finally {
        await observer.end();
      }
      expect(await read).toMatchObject({ error: { code: 'UNAVAILABLE' } });
    } finally {
      await admin.query('ROLLBACK');
    }
    await s.close();
    await expect(s.reader.readRelationships('t', {}, 'AAAAAAAAAAA=', { size: 1 })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
    await expect(s.writer.write('t', [{ writeTuples: [tuple('1')] }])).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('database.statement_timeout bounds a statement (config key, flag and env)', async () => {
    expect(loadConfig({ env: {}, cwd: tmpdir() }).config.database.statement_timeout).toBe(30_000);
    expect(
      loadConfig({ env: { PERMIFY_DATABASE_STATEMENT_TIMEOUT: '250ms' }, cwd: tmpdir() }).config.database
        .statement_timeout,
    ).toBe(250);
    expect(
      loadConfig({ env: {}, cwd: tmpdir(), flags: { 'database.statement_timeout': '2s' } }).config.database
        .statement_timeout,
    ).toBe(2_000);

    const s = await createPostgresStore({ uri: db.uri, maxOpenConnections: 2, statementTimeoutMs: 300 });
    try {
      await s.ready();
      const started = Date.now();
      const failed = await settle(s.writer.write('slow', [{ writeTuples: [tuple('2')] }]));
      expect(Date.now() - started).toBeLessThan(2_000);
      expect('error' in failed && failed.error).toBeInstanceOf(PermifyError);
      expect((failed as { error: PermifyError }).error.code).toBe('ERROR_CODE_DATASTORE');
    } finally {
      await s.close();
    }
  });
});
