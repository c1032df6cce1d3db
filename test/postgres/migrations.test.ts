/**
 * Migrations: up/down/status, the final schema of §11.1, concurrent migrators, the CLI command, and
 * the index plans of the engine's queries (EXPLAIN with enable_seqscan on, after ANALYZE).
 */
import { Command } from 'commander';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Tuple } from '../../src/data/types.js';
import { registerMigrate } from '../../src/cli/commands/migrate.js';
import { createPostgresStore, migrateDown, migrateUp, migrationStatus } from '../../src/storage/postgres/index.js';
import { expiredBy } from '../../src/storage/postgres/database.js';
import { migrations } from '../../src/storage/postgres/migrations/index.js';
import { runCli } from '../support/cli-run.js';
import { createTestDatabase, stopSharedServer, type TestDatabase } from '../support/postgres.js';

const dbs: TestDatabase[] = [];
async function freshDb(): Promise<TestDatabase> {
  const d = await createTestDatabase();
  dbs.push(d);
  return d;
}

async function sql<R extends pg.QueryResultRow>(uri: string, text: string, values: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: uri });
  await c.connect();
  try {
    return (await c.query<R>(text, values)).rows;
  } finally {
    await c.end();
  }
}

afterAll(async () => {
  for (const d of dbs) await d.drop();
  await stopSharedServer();
});

describe('migrations', () => {
  it('up applies all in order, status reports them, down reverts to an empty database and up again', async () => {
    const { uri } = await freshDb();
    expect((await migrationStatus(uri)).every((s) => !s.applied)).toBe(true);
    expect(await migrateUp(uri)).toEqual(migrations.map((m) => m.version));
    expect(await migrateUp(uri)).toEqual([]);
    const status = await migrationStatus(uri);
    expect(status.map((s) => s.applied)).toEqual(migrations.map(() => true));

    const tables = await sql<{ t: string }>(
      uri,
      "SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    );
    expect(tables.map((r) => r.t)).toEqual([
      'attributes',
      'bundles',
      'migrations',
      'permify_ts_migrations',
      'relation_tuples',
      'schema_definitions',
      'tenants',
      'transactions',
    ]);
    const indexes = await sql<{ i: string }>(
      uri,
      "SELECT indexname AS i FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
    );
    expect(indexes.map((r) => r.i)).toEqual(
      expect.arrayContaining([
        'idx_tuples_subject',
        'idx_tuples_entity',
        'idx_relation_tuples_txid',
        'idx_attributes_txid',
        'idx_relation_tuples_expired_tx',
        'idx_attributes_expired_tx',
        'idx_transactions_tenant_id',
        'idx_schema_tenant_version',
        'uq_relation_tuple',
        'uq_relation_tuple_not_expired',
        'uq_attribute',
        'uq_attribute_not_expired',
        'pk_relation_tuple',
        'pk_tenants',
        'pk_bundle',
        'pk_transaction',
        'pk_schema_definition',
      ]),
    );
    expect(indexes.map((r) => r.i)).not.toContain('idx_schema_version');
    const defaults = await sql<{ d: string }>(
      uri,
      "SELECT column_default AS d FROM information_schema.columns WHERE table_name = 'relation_tuples' AND column_name = 'expired_tx_id'",
    );
    expect(defaults[0]!.d).toContain('9223372036854775807');
    expect(await sql(uri, 'SELECT id, name FROM tenants')).toEqual([{ id: 't1', name: 'example tenant' }]);

    expect(await migrateDown(uri, 2)).toEqual(
      migrations
        .slice(-2)
        .map((m) => m.version)
        .reverse(),
    );
    expect((await migrationStatus(uri)).filter((s) => !s.applied).map((s) => s.version)).toEqual(
      migrations.slice(-2).map((m) => m.version),
    );
    await migrateDown(uri, migrations.length);
    const left = await sql<{ t: string }>(
      uri,
      "SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    );
    expect(left.map((r) => r.t)).toEqual(['migrations', 'permify_ts_migrations']);
    expect(await migrateUp(uri)).toHaveLength(migrations.length);
  });

  it('down keeps data across the sentinel migration (live rows stay live)', async () => {
    const { uri } = await freshDb();
    const store = await createPostgresStore({ uri, maxOpenConnections: 2 });
    try {
      await store.ready();
      const tuple: Tuple = {
        entity: { type: 'doc', id: '1' },
        relation: 'owner',
        subject: { type: 'user', id: 'a', relation: '' },
      };
      await store.writer.write('t1', [{ writeTuples: [tuple] }]);
      // Our own steps come last; the newest of Permify's is the sentinel migration.
      await migrateDown(uri, migrations.filter((m) => m.ledger === 'own').length + 1);
      expect(await sql(uri, 'SELECT expired_tx_id::text AS e FROM relation_tuples')).toEqual([{ e: '0' }]);
      await migrateUp(uri);
      const head = await store.reader.headSnapToken('t1');
      expect(await store.reader.queryRelationships('t1', {}, head)).toEqual([tuple]);
    } finally {
      await store.close();
    }
  });

  it('several instances migrating at once apply each migration exactly once', async () => {
    const { uri } = await freshDb();
    const results = await Promise.all(Array.from({ length: 4 }, () => migrateUp(uri)));
    const applied = results.flat().sort();
    expect(applied).toEqual(migrations.map((m) => m.version).sort());
    // goose's table: the version-0 seed plus one row per Permify step; ours: one row per own step.
    const goose = await sql<{ n: string }>(uri, 'SELECT count(*)::text AS n FROM migrations');
    const own = await sql<{ n: string }>(uri, 'SELECT count(*)::text AS n FROM permify_ts_migrations');
    expect(Number(goose[0]!.n) + Number(own[0]!.n)).toBe(migrations.length + 1);
  });

  it('stores started concurrently with autoMigrate all become ready', async () => {
    const { uri } = await freshDb();
    const stores = await Promise.all(
      Array.from({ length: 3 }, () => createPostgresStore({ uri, maxOpenConnections: 1 })),
    );
    try {
      await Promise.all(stores.map((s) => s.ready()));
      expect(await Promise.all(stores.map((s) => s.isReady()))).toEqual([true, true, true]);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('permify migrate up|status|down via the CLI command, uri from flag or PERMIFY_DATABASE_URI', async () => {
    const { uri } = await freshDb();
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    const run = async (...args: string[]) => {
      const program = new Command('permify').exitOverride();
      registerMigrate(program);
      await program.parseAsync(['migrate', ...args], { from: 'user' });
    };
    try {
      await run('up', '--database-uri', uri);
      expect(out.join('')).toContain(`applied ${migrations[0]!.version}`);
      out.length = 0;
      process.env.PERMIFY_DATABASE_URI = uri;
      await run('down', '--steps', '1');
      expect(out.join('')).toBe(`reverted ${migrations[migrations.length - 1]!.version}\n`);
      out.length = 0;
      await run('status');
      const lines = out.join('').trim().split('\n');
      expect(lines).toHaveLength(migrations.length);
      expect(lines[0]).toMatch(/^20230117143902 +initial +applied/);
      expect(lines[lines.length - 1]).toMatch(/pending$/);
      delete process.env.PERMIFY_DATABASE_URI;
      await expect(run('status')).rejects.toThrow(/database uri is required/);
    } finally {
      delete process.env.PERMIFY_DATABASE_URI;
      spy.mockRestore();
    }
  });

  it('permify migrate prints progress per step on stderr ([n/N] applying/reverting ... done in)', async () => {
    const { uri } = await freshDb();
    const up = await runCli([registerMigrate], ['migrate', 'up', '--database-uri', uri]);
    expect(up.code).toBe(0);
    const n = migrations.length;
    const first = migrations[0]!;
    expect(up.err).toContain(`[1/${n}] applying ${first.version} ${first.name}...\n`);
    expect(up.err).toMatch(new RegExp(`\\[${n}/${n}\\] ${migrations[n - 1]!.version} done in \\d+ ms\\n$`));
    const down = await runCli([registerMigrate], ['migrate', 'down', '--steps', '2', '--database-uri', uri]);
    expect(down.err).toContain(`[1/2] reverting ${migrations[n - 1]!.version}`);
  });

  it('an unreachable database is ERROR_CODE_MIGRATION', async () => {
    await expect(migrateUp('postgres://postgres@127.0.0.1:1/none')).rejects.toMatchObject({
      code: 'ERROR_CODE_MIGRATION',
    });
  });
});

describe('query plans', () => {
  let uri: string;
  beforeAll(async () => {
    uri = (await freshDb()).uri;
    await migrateUp(uri);
    // 50 000 tuples over 5 000 documents and 2 000 users, plus history rows; then ANALYZE.
    await sql(
      uri,
      `INSERT INTO transactions (tenant_id) VALUES ('t1');
       INSERT INTO relation_tuples (tenant_id, entity_type, entity_id, relation, subject_type, subject_id, subject_relation)
       SELECT 't1', 'document', 'd' || (g % 5000), CASE WHEN g % 3 = 0 THEN 'owner' ELSE 'viewer' END, 'user', 'u' || (g % 2000), ''
       FROM generate_series(1, 50000) g ON CONFLICT DO NOTHING;
       INSERT INTO relation_tuples (tenant_id, entity_type, entity_id, relation, subject_type, subject_id, subject_relation)
       SELECT 't1', 'document', 'd' || g, 'viewer', 'group', 'g' || (g % 100), 'member'
       FROM generate_series(1, 1000) g ON CONFLICT DO NOTHING;
       ANALYZE relation_tuples;`,
    );
  });

  async function plan(text: string, values: unknown[]): Promise<string> {
    const c = new pg.Client({ connectionString: uri });
    await c.connect();
    try {
      await c.query('SET enable_seqscan = on');
      const r = await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, values);
      return r.rows.map((row) => row['QUERY PLAN']).join('\n');
    } finally {
      await c.end();
    }
  }

  const visibility =
    `(pg_visible_in_snapshot(created_tx_id, $9::pg_snapshot) OR created_tx_id = $8::xid8)` +
    ` AND (expired_tx_id = '9223372036854775807'::xid8 OR NOT pg_visible_in_snapshot(expired_tx_id, $9::pg_snapshot))` +
    ` AND expired_tx_id <> $8::xid8`;

  it('check (entity + relation) uses idx_tuples_entity', async () => {
    const p = await plan(
      `SELECT id FROM relation_tuples WHERE tenant_id = $1 AND entity_type = $2 AND entity_id = $3 AND relation = $4 AND $5::text IS NOT NULL AND $6::text IS NOT NULL AND $7::text IS NOT NULL AND ${visibility} ORDER BY id`,
      ['t1', 'document', 'd42', 'viewer', '', '', '', '1000', '1000:1000:'],
    );
    expect(p).toMatch(/Index (Only )?Scan using idx_tuples_entity|Bitmap Index Scan on idx_tuples_entity/);
  });

  it('lookup by subject uses idx_tuples_subject', async () => {
    const p = await plan(
      `SELECT id FROM relation_tuples WHERE tenant_id = $1 AND entity_type = $2 AND relation = $3 AND subject_type = $4 AND subject_id = $5 AND subject_relation = $6 AND $7::text IS NOT NULL AND ${visibility} ORDER BY id`,
      ['t1', 'document', 'viewer', 'user', 'u7', '', '', '1000', '1000:1000:'],
    );
    expect(p).toMatch(/Index (Only )?Scan using idx_tuples_subject|Bitmap Index Scan on idx_tuples_subject/);
  });

  it('rows created or expired by given transactions (read model cycles, Watch) use both txid indexes', async () => {
    const expired = expiredBy('ANY($2::xid8[])');
    const p = await plan(
      `SELECT id FROM relation_tuples WHERE tenant_id = ANY($1::text[]) AND (created_tx_id = ANY($2::xid8[]) OR ${expired}) ORDER BY id`,
      [['t1'], ['1000', '1001']],
    );
    // Without the partial index the expired side scans the tenant's rows (Seq Scan or a filter on idx_tuples_*).
    expect(p).toMatch(/Bitmap Index Scan on idx_relation_tuples_expired_tx/);
    expect(p).toMatch(/Bitmap Index Scan on idx_relation_tuples_txid/);
  });

  it('unique subject ids of a subject set use idx_tuples_subject', async () => {
    const p = await plan(
      `SELECT DISTINCT subject_id FROM relation_tuples WHERE tenant_id = $1 AND subject_type = $2 AND subject_relation = $3 AND $4::text IS NOT NULL AND $5::text IS NOT NULL AND $6::text IS NOT NULL AND $7::text IS NOT NULL AND ${visibility} ORDER BY subject_id`,
      ['t1', 'group', 'member', '', '', '', '', '1000', '1000:1000:'],
    );
    expect(p).toMatch(/Index (Only )?Scan using idx_tuples_subject|Bitmap Index Scan on idx_tuples_subject/);
  });
});
