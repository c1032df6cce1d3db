/**
 * The database pool keys of the configuration reach the PostgreSQL pools (they were accepted and ignored):
 * `min_connections` (or the deprecated `max_idle_connections` when it is 0), `max_connection_lifetime` and
 * `max_connection_idle_time`.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer } from '../../src/server.js';
import type { PostgresStore } from '../../src/storage/postgres/index.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

async function poolOptions(flags: Record<string, string>): Promise<Record<string, unknown>> {
  const { config } = loadConfig({
    env: {},
    cwd: '/nonexistent',
    flags: {
      account_id: 'acme',
      'server.grpc.port': '0',
      'server.http.enabled': 'false',
      'database.engine': 'postgres',
      'database.uri': db.uri,
      ...flags,
    },
  });
  const quiet = new Writable({ write: (_chunk, _enc, done) => done() });
  const server = await startServer(config, {
    logger: createLogger({ level: 'info', output: 'json', destination: quiet }),
  });
  try {
    const store = server.store as PostgresStore;
    const { min, idleTimeoutMillis, maxLifetimeSeconds } = store.database.writer.options as unknown as Record<
      string,
      unknown
    >;
    return { min, idleTimeoutMillis, maxLifetimeSeconds };
  } finally {
    await server.close();
  }
}

describe('database pool keys', () => {
  it('apply Permify defaults: minimum 1 (max_idle_connections), 300 s lifetime, 60 s idle time', async () => {
    expect(await poolOptions({})).toEqual({ min: 1, idleTimeoutMillis: 60_000, maxLifetimeSeconds: 300 });
  });

  it('apply configured values; min_connections wins over max_idle_connections', async () => {
    expect(
      await poolOptions({
        'database.min_connections': '3',
        'database.max_idle_connections': '2',
        'database.max_connection_lifetime': '90s',
        'database.max_connection_idle_time': '1500ms',
      }),
    ).toEqual({ min: 3, idleTimeoutMillis: 1500, maxLifetimeSeconds: 90 });
    expect((await poolOptions({ 'database.max_idle_connections': '2' })).min).toBe(2);
  });
});
