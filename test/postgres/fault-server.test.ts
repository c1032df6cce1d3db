/**
 * Faults under the whole server: `startServer()` (port 0) on a throwaway PostgreSQL that this file controls,
 * driven over gRPC with the official client while backends are terminated and the database is stopped and
 * restarted mid-load. Proves: no acknowledged write is lost; failures while the database is away are
 * UNAVAILABLE (never INTERNAL); the server recovers by itself; health reflects the outage (NOT_SERVING during,
 * SERVING after). Also: close() stays bounded by server.shutdown_timeout while a write is stuck on a lock.
 */
import * as grpc from '@grpc/grpc-js';
import * as permify from '@permify/permify-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import {
  createTestDatabase,
  startEmbeddedPostgres,
  type EmbeddedServer,
  type TestDatabase,
} from '../support/postgres.js';

const schema = `
entity user {}
entity doc {
    relation viewer @user
    permission view = viewer
}
`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * `p`, or a failure naming `step` when it has not settled within `ms`: a hang then says where it hung instead of
 * running into the test timeout (this test once timed out at 30 s in a loaded full run, not reproduced since).
 */
async function within<T>(step: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${step}: not settled within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function startOn(db: TestDatabase, flags: Record<string, unknown> = {}): Promise<RunningServer> {
  const { config } = loadConfig({
    env: {},
    cwd: '/nonexistent',
    flags: {
      'server.grpc.port': 0,
      'server.http.port': 0,
      'server.host': '127.0.0.1',
      'server.rate_limit': 0,
      'server.shutdown_timeout': '2s',
      'server.readiness.interval': '100ms',
      'server.readiness.timeout': '500ms',
      'server.readiness.failure_threshold': 2,
      'server.readiness.success_threshold': 2,
      'database.engine': 'postgres',
      'database.uri': db.uri,
      'database.max_open_connections': 8,
      'database.connect_timeout': '1s',
      'database.max_retries': 2,
      'service.permission.cache.number_of_counters': 0,
      ...flags,
    },
  });
  return startServer(config, { logger: createLogger({ level: 'silent', output: 'json' }) });
}

function clientOf(port: number): ReturnType<typeof permify.grpc.newClient> {
  return permify.grpc.newClient({
    endpoint: `127.0.0.1:${port}`,
    cert: null,
    pk: null,
    certChain: null,
    insecure: true,
  });
}

/** grpc.health.v1.Health/Check: 1 SERVING, 2 NOT_SERVING (0 when the call itself failed). */
function health(port: number): Promise<number> {
  const ch = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise<number>((resolve) => {
    ch.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.alloc(0),
      { deadline: Date.now() + 2_000 },
      (err, res) => {
        ch.close();
        resolve(err || !res || res.length < 2 ? 0 : (res[1] as number));
      },
    );
  });
}

async function until(what: string, predicate: () => Promise<boolean>, ms: number): Promise<number> {
  const started = Date.now();
  while (!(await predicate())) {
    if (Date.now() - started > ms) throw new Error(`${what}: not reached within ${ms} ms`);
    await sleep(50);
  }
  return Date.now() - started;
}

const codeOf = (e: unknown): number => (e as { code?: number }).code ?? -1;

let pgServer: EmbeddedServer;

beforeAll(async () => {
  pgServer = await startEmbeddedPostgres();
});

afterAll(async () => {
  await pgServer?.destroy();
});

describe('server on a failing database', () => {
  it('writes and checks under terminated backends and a stop/restart: no acknowledged write lost, UNAVAILABLE only, health follows, recovers alone', async () => {
    const db = await createTestDatabase(pgServer.uri);
    const server = await startOn(db);
    const client = clientOf(server.ports.grpc);
    const admin = new pg.Client({ connectionString: pgServer.uri });
    admin.on('error', () => undefined);
    await admin.connect();
    try {
      const { schemaVersion } = await client.schema.write({ tenantId: 't1', schema });
      const acknowledged = new Map<string, string>(); // doc id -> snap token of the write that returned it
      const failures = new Map<number, number>(); // gRPC code -> count
      const fail = (e: unknown): void => {
        const c = codeOf(e);
        failures.set(c, (failures.get(c) ?? 0) + 1);
      };
      let running = true;
      let next = 0;
      const writer = async (): Promise<void> => {
        while (running) {
          const id = `d${next++}`;
          try {
            const { snapToken } = await client.data.write({
              tenantId: 't1',
              metadata: { schemaVersion },
              tuples: [
                { entity: { type: 'doc', id }, relation: 'viewer', subject: { type: 'user', id: 'u', relation: '' } },
              ],
              attributes: [],
            });
            acknowledged.set(id, snapToken);
          } catch (e) {
            fail(e);
            await sleep(20);
          }
        }
      };
      const checker = async (): Promise<void> => {
        while (running) {
          const ids = [...acknowledged.keys()];
          const id = ids[Math.floor(Math.random() * ids.length)];
          if (id === undefined) {
            await sleep(10);
            continue;
          }
          try {
            const res = await client.permission.check({
              tenantId: 't1',
              metadata: { schemaVersion, snapToken: acknowledged.get(id) as string, depth: 20 },
              entity: { type: 'doc', id },
              permission: 'view',
              subject: { type: 'user', id: 'u', relation: '' },
            });
            expect(res.can).toBe(permify.grpc.base.CheckResult.CHECK_RESULT_ALLOWED);
          } catch (e) {
            fail(e);
            await sleep(20);
          }
        }
      };
      const load = Promise.all([writer(), writer(), writer(), writer(), checker(), checker()]);

      await sleep(500);
      // 1. Every backend of our database is terminated under load.
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [db.name]);
      await sleep(500);
      const beforeOutage = acknowledged.size;
      expect(beforeOutage).toBeGreaterThan(0);

      // 2. The database goes away.
      await admin.end();
      await pgServer.stop();
      const downFor = await until('health NOT_SERVING', async () => (await health(server.ports.grpc)) === 2, 10_000);
      const rest = await fetch(`http://127.0.0.1:${server.ports.http}/healthz`);
      expect(rest.status).toBe(503);
      // The REST transport maps the same failure to 503 with gRPC code 14 in the body.
      const restWrite = await fetch(`http://127.0.0.1:${server.ports.http}/v1/tenants/t1/data/write`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          metadata: { schema_version: schemaVersion },
          tuples: [{ entity: { type: 'doc', id: 'rest' }, relation: 'viewer', subject: { type: 'user', id: 'u' } }],
        }),
      });
      expect(restWrite.status).toBe(503);
      expect(((await restWrite.json()) as { code: number }).code).toBe(14);
      const failuresBeforeRestart = [...failures.values()].reduce((a, b) => a + b, 0);
      await sleep(500);

      // 3. It comes back; our server is not restarted.
      await pgServer.start();
      const upFor = await until('health SERVING', async () => (await health(server.ports.grpc)) === 1, 15_000);
      const resumedAt = acknowledged.size;
      await until('writes resume', async () => acknowledged.size > resumedAt + 5, 15_000);
      running = false;
      await load;

      // No acknowledged write is lost: every id that returned a token is readable at the newest of them.
      const ids = new Set<string>();
      let token = '';
      do {
        const page = await client.data.readRelationships({
          tenantId: 't1',
          metadata: { snapToken: '' },
          filter: { entity: { type: 'doc', ids: [] }, relation: '', subject: { type: '', ids: [], relation: '' } },
          pageSize: 100,
          continuousToken: token,
        });
        for (const t of page.tuples) ids.add(t.entity?.id ?? '');
        token = page.continuousToken;
      } while (token !== '');
      const lost = [...acknowledged.keys()].filter((id) => !ids.has(id));
      expect(lost).toEqual([]);
      // Failures were only "unavailable" (never INTERNAL or UNKNOWN).
      expect(failuresBeforeRestart).toBeGreaterThan(0);
      expect([...failures.keys()].filter((c) => c !== grpc.status.UNAVAILABLE)).toEqual([]);
      console.info(
        `fault-server: ${acknowledged.size} acknowledged writes, ${beforeOutage} before the outage, failures by code ${JSON.stringify(Object.fromEntries(failures))}, NOT_SERVING ${downFor} ms after stop, SERVING ${upFor} ms after restart`,
      );
    } finally {
      await admin.end().catch(() => undefined);
      await pgServer.start();
      await server.close();
      await db.drop();
    }
  }, 60_000);

  it('close() stays within server.shutdown_timeout while a write waits on a lock', async () => {
    const db = await within('create database', 10_000, createTestDatabase(pgServer.uri));
    const server = await within('start server', 10_000, startOn(db, { 'server.shutdown_timeout': '1s' }));
    const client = clientOf(server.ports.grpc);
    const locker = new pg.Client({ connectionString: db.uri });
    locker.on('error', () => undefined);
    await within('connect locker', 5_000, locker.connect());
    try {
      const { schemaVersion } = await within('schema write', 5_000, client.schema.write({ tenantId: 't1', schema }));
      await locker.query('BEGIN');
      await within('lock relation_tuples', 5_000, locker.query('LOCK TABLE relation_tuples IN ACCESS EXCLUSIVE MODE'));
      const stuck = client.data
        .write({
          tenantId: 't1',
          metadata: { schemaVersion },
          tuples: [
            { entity: { type: 'doc', id: 'x' }, relation: 'viewer', subject: { type: 'user', id: 'u', relation: '' } },
          ],
          attributes: [],
        })
        .then(
          () => 'written',
          (e: unknown) => codeOf(e),
        );
      await sleep(300);
      const started = Date.now();
      await within('server.close()', 5_000, server.close());
      const took = Date.now() - started;
      console.info(`fault-server: close() with a write stuck on a lock took ${took} ms (shutdown_timeout 1000 ms)`);
      expect(took).toBeLessThan(2_000);
      // The server ended the call when it closed: the client has its status at once, not at some deadline.
      expect(await within('the stuck write answered after close()', 3_000, stuck)).not.toBe('written');
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
      await server.close();
      await within('drop database', 10_000, db.drop());
    }
  }, 30_000);
});
