/**
 * Deleting a tenant invalidates every cache entry of that tenant (issue 8, item 6): compiled schemas, check
 * results and lookup candidate sets, on the instance that deleted it and, through the store's tenant events,
 * on every instance sharing the PostgreSQL database. A re-created tenant is never answered from its previous
 * incarnation's schema versions or snap tokens.
 */
import { create } from '@bufbuild/protobuf';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createHandlers, type Handlers } from '../../src/api/handlers/index.js';
import * as s from '../../src/api/gen/base/v1/service_pb.js';
import { loadConfig } from '../../src/config/load.js';
import { createEngine } from '../../src/engine/index.js';
import { isPermifyError } from '../../src/errors.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import type { TenantEvent } from '../../src/storage/contract.js';
import { createMemoryStore } from '../../src/storage/memory/index.js';
import { createPostgresStore } from '../../src/storage/postgres/index.js';
import { createTestDatabase, stopSharedServer } from '../support/postgres.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const ctx = () => ({ signal: new AbortController().signal, requestId: 'r1', logger: silent });

const schema = 'entity user {}\nentity doc {\n  relation viewer @user\n  permission view = viewer\n}';

async function outcome(p: Promise<{ can: number }>): Promise<string> {
  try {
    const r = await p;
    return r.can === 1 ? 'allowed' : 'denied';
  } catch (e) {
    return isPermifyError(e) ? e.code : String(e);
  }
}

/** Creates `tenant` with a schema, two docs viewable by user:u, and returns the version and snap token. */
async function populate(h: Handlers, tenant: string): Promise<{ version: string; token: string }> {
  await h['base.v1.Tenancy'].Create(create(s.TenantCreateRequestSchema, { id: tenant, name: tenant }), ctx());
  const { schemaVersion } = await h['base.v1.Schema'].Write(
    create(s.SchemaWriteRequestSchema, { tenantId: tenant, schema }),
    ctx(),
  );
  const w = await h['base.v1.Data'].Write(
    create(s.DataWriteRequestSchema, {
      tenantId: tenant,
      metadata: { schemaVersion },
      tuples: ['1', '2', '3'].map((id) => ({
        entity: { type: 'doc', id },
        relation: 'viewer',
        subject: { type: 'user', id: 'u', relation: '' },
      })),
    }),
    ctx(),
  );
  return { version: schemaVersion, token: w.snapToken };
}

function check(h: Handlers, tenant: string, version: string, token: string) {
  return h['base.v1.Permission'].Check(
    create(s.PermissionCheckRequestSchema, {
      tenantId: tenant,
      metadata: { schemaVersion: version, snapToken: token, depth: 20 },
      entity: { type: 'doc', id: '1' },
      permission: 'view',
      subject: { type: 'user', id: 'u', relation: '' },
    }),
    ctx(),
  );
}

async function readSchemaEntities(h: Handlers, tenant: string, version: string): Promise<string[]> {
  const r = await h['base.v1.Schema'].Read(
    create(s.SchemaReadRequestSchema, { tenantId: tenant, metadata: { schemaVersion: version } }),
    ctx(),
  );
  return Object.keys(r.schema?.entityDefinitions ?? {}).sort();
}

function lookupPage(h: Handlers, tenant: string, version: string, token: string, continuousToken = '') {
  return h['base.v1.Permission'].LookupEntity(
    create(s.PermissionLookupEntityRequestSchema, {
      tenantId: tenant,
      metadata: { schemaVersion: version, snapToken: token, depth: 20 },
      entityType: 'doc',
      permission: 'view',
      subject: { type: 'user', id: 'u', relation: '' },
      pageSize: 1,
      continuousToken,
    }),
    ctx(),
  );
}

async function waitFor(predicate: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('tenant deletion purges caches (memory store)', () => {
  it('an old schema version and snap token of a deleted, re-created tenant answer nothing from caches', async () => {
    const store = createMemoryStore();
    const engine = createEngine({ reader: store.reader, schemas: store.schemas, checkCacheSize: 1000 });
    const h = createHandlers({ engine, store, limits: { maxDataPerWrite: 100 } });
    const { version, token } = await populate(h, 'acme');
    expect(await outcome(check(h, 'acme', version, token))).toBe('allowed');
    expect(await readSchemaEntities(h, 'acme', version)).toEqual(['doc', 'user']);
    const first = await lookupPage(h, 'acme', version, token);
    expect(first.entityIds).toEqual(['1']);

    await h['base.v1.Tenancy'].Delete(create(s.TenantDeleteRequestSchema, { id: 'acme' }), ctx());
    await h['base.v1.Tenancy'].Create(create(s.TenantCreateRequestSchema, { id: 'acme', name: 'again' }), ctx());

    expect(await outcome(check(h, 'acme', version, token))).toBe('ERROR_CODE_SCHEMA_NOT_FOUND');
    expect(await readSchemaEntities(h, 'acme', version)).toEqual([]);
    await expect(lookupPage(h, 'acme', version, token, first.continuousToken)).rejects.toMatchObject({
      code: 'ERROR_CODE_SCHEMA_NOT_FOUND',
    });
    // The new incarnation's own schema with the old incarnation's snap token sees none of the old data.
    const { schemaVersion: again } = await h['base.v1.Schema'].Write(
      create(s.SchemaWriteRequestSchema, { tenantId: 'acme', schema }),
      ctx(),
    );
    expect(await outcome(check(h, 'acme', again, token))).toBe('denied');
  });

  it('the memory store reports its deletions to subscribers', async () => {
    const store = createMemoryStore();
    const events: TenantEvent[] = [];
    const off = store.tenants.subscribe((e) => events.push(e));
    await store.tenants.createTenant('x', 'x');
    await store.tenants.deleteTenant('x');
    off();
    await store.tenants.createTenant('y', 'y');
    await store.tenants.deleteTenant('y');
    expect(events).toEqual([{ kind: 'deleted', tenantId: 'x' }]);
  });
});

describe('tenant deletion purges caches on every instance (PostgreSQL)', () => {
  const servers: RunningServer[] = [];
  const drops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const srv of servers) await srv.close();
    for (const drop of drops) await drop();
    await stopSharedServer();
  });

  it('two stores on one database: a deletion through one is reported by both', async () => {
    const db = await createTestDatabase();
    drops.push(db.drop);
    const a = await createPostgresStore({ uri: db.uri, maxOpenConnections: 2 });
    await a.ready();
    // The database is migrated by the first store.
    const b = await createPostgresStore({ uri: db.uri, maxOpenConnections: 2, autoMigrate: false });
    try {
      await b.ready();
      const seenA: TenantEvent[] = [];
      const seenB: TenantEvent[] = [];
      const offA = a.tenants.subscribe((e) => seenA.push(e));
      const offB = b.tenants.subscribe((e) => seenB.push(e));
      // Each listener reports `missed` once it listens (nothing before that was delivered).
      await waitFor(async () => seenA.length > 0 && seenB.length > 0, 5000);
      await a.tenants.createTenant('gone', 'gone');
      await a.tenants.deleteTenant('gone');
      await expect(a.tenants.deleteTenant('gone')).rejects.toMatchObject({ code: 'ERROR_CODE_NOT_FOUND' });
      const deleted = (l: TenantEvent[]) => l.filter((e) => e.kind === 'deleted');
      await waitFor(async () => deleted(seenA).length > 0 && deleted(seenB).length > 0, 5000);
      expect(deleted(seenA)).toEqual([{ kind: 'deleted', tenantId: 'gone' }]);
      expect(deleted(seenB)).toEqual([{ kind: 'deleted', tenantId: 'gone' }]);
      offA();
      offB();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a lost LISTEN connection reports `missed`, reconnects, and later deletions are delivered again', async () => {
    const db = await createTestDatabase();
    drops.push(db.drop);
    const store = await createPostgresStore({ uri: db.uri, maxOpenConnections: 2 });
    try {
      await store.ready();
      const seen: TenantEvent[] = [];
      const off = store.tenants.subscribe((e) => seen.push(e));
      await waitFor(async () => seen.length === 1, 5000);
      expect(seen).toEqual([{ kind: 'missed' }]);
      // Kill the listening backend, as a failover or an idle-connection reaper would.
      const admin = new pg.Client({ connectionString: db.uri });
      await admin.connect();
      try {
        await admin.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'permify-ts-tenant-events'",
        );
      } finally {
        await admin.end();
      }
      // `missed` when the connection is lost, again once LISTEN is back (after the 1 s reconnect delay).
      await waitFor(async () => seen.filter((e) => e.kind === 'missed').length >= 3, 5000);
      await store.tenants.createTenant('later', 'later');
      await store.tenants.deleteTenant('later');
      await waitFor(async () => seen.some((e) => e.kind === 'deleted'), 5000);
      expect(seen.filter((e) => e.kind === 'deleted')).toEqual([{ kind: 'deleted', tenantId: 'later' }]);
      off();
    } finally {
      await store.close();
    }
  });

  it('two servers on one database: deleting through one purges the other', async () => {
    const db = await createTestDatabase();
    drops.push(db.drop);
    const start = async (): Promise<RunningServer> => {
      const { config } = loadConfig({
        env: {},
        cwd: '/nonexistent',
        flags: {
          'server.grpc.port': 0,
          'server.http.enabled': false,
          'server.rate_limit': 0,
          'database.engine': 'postgres',
          'database.uri': db.uri,
          'database.max_open_connections': 4,
        },
      });
      const srv = await startServer(config, { logger: createLogger({ level: 'silent', output: 'json' }) });
      servers.push(srv);
      return srv;
    };
    const [one, two] = [await start(), await start()];
    const { version, token } = await populate(one.handlers, 'acme');
    // Both instances answer (and cache) the check and the schema.
    expect(await outcome(check(one.handlers, 'acme', version, token))).toBe('allowed');
    expect(await outcome(check(two.handlers, 'acme', version, token))).toBe('allowed');
    expect(await readSchemaEntities(two.handlers, 'acme', version)).toEqual(['doc', 'user']);

    await one.handlers['base.v1.Tenancy'].Delete(create(s.TenantDeleteRequestSchema, { id: 'acme' }), ctx());
    await one.handlers['base.v1.Tenancy'].Create(
      create(s.TenantCreateRequestSchema, { id: 'acme', name: 'again' }),
      ctx(),
    );
    expect(await outcome(check(one.handlers, 'acme', version, token))).toBe('ERROR_CODE_SCHEMA_NOT_FOUND');
    await waitFor(
      async () => (await outcome(check(two.handlers, 'acme', version, token))) === 'ERROR_CODE_SCHEMA_NOT_FOUND',
      5000,
    );
    expect(await readSchemaEntities(two.handlers, 'acme', version)).toEqual([]);
  });
});
