/**
 * Several `permify serve` processes on one PostgreSQL database, each with its read model: a write through
 * one process followed by a check through another with the returned snap token sees the write (grants and
 * revocations alike), every process answers from its model (its /metrics counts model reads), and head
 * checks converge on every process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, stopSharedServer, type TestDatabase } from '../support/postgres.js';
import { request, startTestServer } from '../e2e/rest-support.js';

let db: TestDatabase;
const children: ChildProcess[] = [];
const ports: number[] = [];

async function serve(uri: string): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
    cwd: process.cwd(),
    env: {
      ...process.env,
      PERMIFY_HTTP_PORT: '0',
      PERMIFY_GRPC_PORT: '0',
      PERMIFY_DATABASE_ENGINE: 'postgres',
      PERMIFY_DATABASE_URI: uri,
      PERMIFY_DATABASE_MAX_OPEN_CONNECTIONS: '4',
      // Generous on a loaded test machine: the point is that a covered token is answered by the model.
      PERMIFY_DATABASE_READ_MODEL_WAIT_TIMEOUT: '2s',
      PERMIFY_LOG_OUTPUT: 'json',
      PERMIFY_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const deadline = Date.now() + 40_000;
  while (!out.includes('permify-ts serving') && Date.now() < deadline && child.exitCode === null) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const port = Number(/"httpPort":(\d+)/.exec(out)?.[1]);
  if (!(port > 0)) throw new Error(`server did not start: ${out.slice(-2000)}`);
  return port;
}

beforeAll(async () => {
  db = await createTestDatabase();
  // The first process migrates; the others start on the migrated database.
  ports.push(await serve(db.uri));
  ports.push(...(await Promise.all([serve(db.uri), serve(db.uri)])));
}, 120_000);

afterAll(async () => {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
        }),
    ),
  );
  await db?.drop();
  await stopSharedServer();
});

const schema = `entity user {}
entity document {
  relation viewer @user
  permission view = viewer
}`;

async function check(port: number, doc: string, user: string, snapToken: string): Promise<string> {
  const res = await request(port, 'POST', '/v1/tenants/t1/permissions/check', {
    metadata: { snap_token: snapToken, depth: 20 },
    entity: { type: 'document', id: doc },
    permission: 'view',
    subject: { type: 'user', id: user },
  });
  expect(res.status).toBe(200);
  return (res.json as { can: string }).can;
}

async function modelReads(port: number): Promise<number> {
  const res = await request(port, 'GET', '/metrics');
  const m = /permify_read_model_reads_total (\d+)/.exec(res.text);
  return Number(m?.[1] ?? -1);
}

describe('three processes on one database', () => {
  it('a write through one process is visible through the others at its snap token', async () => {
    const w = await request(ports[0] as number, 'POST', '/v1/tenants/t1/schemas/write', { schema });
    expect(w.status).toBe(200);
    for (let i = 0; i < 6; i += 1) {
      const writer = ports[i % 3] as number;
      const doc = `doc${i}`;
      const res = await request(writer, 'POST', '/v1/tenants/t1/data/write', {
        metadata: {},
        tuples: [{ entity: { type: 'document', id: doc }, relation: 'viewer', subject: { type: 'user', id: 'alice' } }],
      });
      expect(res.status).toBe(200);
      const token = (res.json as { snap_token: string }).snap_token;
      for (const port of ports) expect(await check(port, doc, 'alice', token)).toBe('CHECK_RESULT_ALLOWED');
      const del = await request(ports[(i + 1) % 3] as number, 'POST', '/v1/tenants/t1/data/delete', {
        tuple_filter: {
          entity: { type: 'document', ids: [doc] },
          relation: 'viewer',
          subject: { type: 'user', ids: ['alice'] },
        },
        attribute_filter: {},
      });
      expect(del.status).toBe(200);
      const after = (del.json as { snap_token: string }).snap_token;
      for (const port of ports) expect(await check(port, doc, 'alice', after)).toBe('CHECK_RESULT_DENIED');
      // The older token still reads the older state, on every process.
      for (const port of ports) expect(await check(port, doc, 'alice', token)).toBe('CHECK_RESULT_ALLOWED');
    }
    for (const port of ports) expect(await modelReads(port)).toBeGreaterThan(0);
  }, 60_000);

  it('/healthz?detail=true reports the model per tenant; plain /healthz is unchanged', async () => {
    for (const port of ports) {
      const plain = await request(port, 'GET', '/healthz');
      expect(plain.status).toBe(200);
      expect(plain.json).toEqual({ status: 'SERVING' });
      const res = await request(port, 'GET', '/healthz?detail=true');
      expect(res.status).toBe(200);
      const body = res.json as {
        status: string;
        read_model: {
          enabled: boolean;
          caught_up: boolean;
          tenants: { tenant_id: string; loaded: boolean; rows: number; position: string; lag_ms: number }[];
        };
      };
      expect(body.status).toBe('SERVING');
      expect(body.read_model.enabled).toBe(true);
      expect(body.read_model.caught_up).toBe(true);
      const t1 = body.read_model.tenants.find((t) => t.tenant_id === 't1');
      expect(t1?.loaded).toBe(true);
      expect(t1?.rows).toBeGreaterThan(0); // the deleted tuples' history
      expect(t1?.position).not.toBe('');
      expect(t1?.lag_ms).toBeGreaterThanOrEqual(0);
    }
  });
});

describe('/healthz detail without a read model', () => {
  it('says the model is disabled (memory store)', async () => {
    const server = await startTestServer();
    try {
      const res = await request(server.ports.http as number, 'GET', '/healthz?detail=1');
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ status: 'SERVING', read_model: { enabled: false } });
    } finally {
      await server.close();
    }
  });

  it('with authentication on, the detail (it names tenants) needs a valid token; plain /healthz stays open', async () => {
    const server = await startTestServer({ 'authn.enabled': true, 'authn.method': 'preshared', 'authn.preshared.keys': 'k3y' });
    try {
      const port = server.ports.http as number;
      const plain = await request(port, 'GET', '/healthz');
      expect(plain.status).toBe(200);
      expect(plain.json).toEqual({ status: 'SERVING' });
      expect((await request(port, 'GET', '/healthz?detail=true')).status).toBe(401);
      expect((await request(port, 'GET', '/healthz?detail=1', undefined, { authorization: 'Bearer wrong' })).status).toBe(401);
      const ok = await request(port, 'GET', '/healthz?detail=true', undefined, { authorization: 'Bearer k3y' });
      expect(ok.status).toBe(200);
      expect(ok.json).toEqual({ status: 'SERVING', read_model: { enabled: false } });
    } finally {
      await server.close();
    }
  });
});
