/**
 * One PostgreSQL database for Permify v1.7.3 and permify-ts, both ways round: a database Permify migrated
 * (built from Permify's own migration files, test/fixtures) is one we start on, migrate only with our own
 * steps and read correctly; a database we migrated is one Permify's goose finds up to date and whose tables
 * take Permify's statements; our schema equals Permify's column by column apart from our documented additions.
 */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/index.js';
import { createPostgresStore, migrateDown, migrateUp, migrationStatus } from '../../src/storage/postgres/index.js';
import { migrations } from '../../src/storage/postgres/migrations/index.js';
import { createTestDatabase, stopSharedServer, type TestDatabase } from '../support/postgres.js';
import {
  applyPermifyMigrations,
  gooseAppliedVersions,
  liveSentinel,
  permifyGoosePlan,
  permifyMigrationFiles,
  permifyReadAttributes,
  permifyReadSchema,
  permifyReadTuples,
  permifyWriteData,
  permifyWriteSchema,
} from '../support/permify.js';

const dbs: TestDatabase[] = [];
async function freshDb(): Promise<string> {
  const d = await createTestDatabase();
  dbs.push(d);
  return d.uri;
}

afterAll(async () => {
  for (const d of dbs) await d.drop();
  await stopSharedServer();
});

async function sql<R extends pg.QueryResultRow>(uri: string, text: string, values: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: uri });
  await c.connect();
  try {
    return (await c.query<R>(text, values)).rows;
  } finally {
    await c.end();
  }
}

const permifyTables = ['relation_tuples', 'attributes', 'schema_definitions', 'transactions', 'tenants', 'bundles'];
const permifyVersions = permifyMigrationFiles().map((f) => f.version);
const ownVersions = migrations.filter((m) => m.ledger === 'own').map((m) => m.version);

/** Columns, constraints and indexes of the given tables, one line each, sorted. */
async function describeTables(uri: string, tables: readonly string[]): Promise<string[]> {
  const columns = await sql<{ line: string }>(
    uri,
    `SELECT concat_ws(' | ', 'column', table_name, column_name, data_type, character_maximum_length, is_nullable,
       column_default, collation_name, is_identity) AS line
     FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ANY($1)`,
    [tables],
  );
  const constraints = await sql<{ line: string }>(
    uri,
    `SELECT concat_ws(' | ', 'constraint', rel.relname, con.conname, pg_get_constraintdef(con.oid)) AS line
     FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid
     WHERE rel.relname = ANY($1) AND con.connamespace = 'public'::regnamespace`,
    [tables],
  );
  const indexes = await sql<{ line: string }>(
    uri,
    `SELECT concat_ws(' | ', 'index', tablename, indexname, indexdef) AS line FROM pg_indexes
     WHERE schemaname = 'public' AND tablename = ANY($1)`,
    [tables],
  );
  return [...columns, ...constraints, ...indexes].map((r) => r.line).sort();
}

function diff(a: readonly string[], b: readonly string[]): { onlyA: string[]; onlyB: string[] } {
  return { onlyA: a.filter((x) => !b.includes(x)), onlyB: b.filter((x) => !a.includes(x)) };
}

describe('a database Permify v1.7.3 migrated', () => {
  it('is recognised: we apply only our own steps and leave goose`s table as Permify left it', async () => {
    const uri = await freshDb();
    await applyPermifyMigrations(uri);
    const gooseBefore = await sql(uri, 'SELECT id, version_id::text AS v, is_applied FROM migrations ORDER BY id');
    expect(gooseBefore).toHaveLength(permifyVersions.length + 1);

    expect((await migrationStatus(uri)).filter((s) => !s.applied).map((s) => s.version)).toEqual(ownVersions);
    expect(await migrateUp(uri)).toEqual(ownVersions);
    expect(await migrateUp(uri)).toEqual([]);
    expect(await sql(uri, 'SELECT id, version_id::text AS v, is_applied FROM migrations ORDER BY id')).toEqual(
      gooseBefore,
    );
    expect(await permifyGoosePlan(uri)).toEqual({ missing: [], pending: [] });
  });

  it('a store says what it migrated, or, with autoMigrate off, which migrations are pending', async () => {
    const logged: { level: string; obj: object; msg?: string }[] = [];
    const logger = {
      info: (obj: object, msg?: string) => logged.push({ level: 'info', obj, msg }),
      warn: (obj: object, msg?: string) => logged.push({ level: 'warn', obj, msg }),
      error: (obj: object, msg?: string) => logged.push({ level: 'error', obj, msg }),
    };
    const uri = await freshDb();
    await applyPermifyMigrations(uri);
    const manual = await createPostgresStore({ uri, maxOpenConnections: 1, autoMigrate: false, logger });
    await manual.ready();
    await manual.close();
    expect(logged).toEqual([
      expect.objectContaining({
        level: 'warn',
        obj: { pending: ownVersions },
        msg: expect.stringContaining('permify migrate up'),
      }),
    ]);
    logged.length = 0;
    const auto = await createPostgresStore({ uri, maxOpenConnections: 1, logger });
    await auto.ready();
    await auto.close();
    expect(logged).toEqual([{ level: 'info', obj: { applied: ownVersions }, msg: 'applied database migrations' }]);
  });

  it('partly migrated by an older Permify: its missing steps go to goose`s table, in order', async () => {
    const uri = await freshDb();
    await applyPermifyMigrations(uri, { upTo: '20231122120124' });
    const rest = permifyVersions.filter((v) => BigInt(v) > 20231122120124n);
    expect(await migrateUp(uri)).toEqual([...rest, ...ownVersions]);
    const c = new pg.Client({ connectionString: uri });
    await c.connect();
    try {
      expect([...(await gooseAppliedVersions(c))].sort()).toEqual(permifyVersions);
    } finally {
      await c.end();
    }
  });

  it('has, after our steps, exactly the schema of a database we migrated (goose`s table included)', async () => {
    const permify = await freshDb();
    const ours = await freshDb();
    await applyPermifyMigrations(permify);
    await migrateUp(permify);
    await migrateUp(ours);
    const tables = [...permifyTables, 'migrations', 'permify_ts_migrations'];
    expect(diff(await describeTables(permify, tables), await describeTables(ours, tables))).toEqual({
      onlyA: [],
      onlyB: [],
    });
  });

  it('differs from ours, column by column, only by our documented additions', async () => {
    const permify = await freshDb();
    const ours = await freshDb();
    await applyPermifyMigrations(permify);
    await migrateUp(ours);
    const tables = [...permifyTables, 'migrations'];
    const d = diff(await describeTables(permify, tables), await describeTables(ours, tables));
    const name = (line: string) => line.split(' | ').slice(0, 3).join(' | ');
    // Byte-wise ids (collation "C"), the statement order of schema definitions and the expired-row indexes;
    // nothing removed.
    expect(d.onlyA.map(name).sort()).toEqual([
      'column | attributes | entity_id',
      'column | relation_tuples | entity_id',
      'column | relation_tuples | subject_id',
    ]);
    expect(d.onlyB.map(name).sort()).toEqual([
      'column | attributes | entity_id',
      'column | relation_tuples | entity_id',
      'column | relation_tuples | subject_id',
      'column | schema_definitions | position',
      'index | attributes | idx_attributes_expired_tx',
      'index | relation_tuples | idx_relation_tuples_expired_tx',
    ]);
    expect(
      d.onlyB.filter((l) => l.startsWith('column') && !l.includes('position')).every((l) => l.includes(' | C | ')),
    ).toBe(true);
    expect(d.onlyB.find((l) => l.includes('position'))).toContain('| NO | 0 |');
  });

  it('written by Permify (schema per entity, tuples, attributes, a delete) is read correctly, also by Check', async () => {
    const uri = await freshDb();
    await applyPermifyMigrations(uri);
    // A 20-character xid version, one row per entity and rule with its source text, as Permify writes them.
    await permifyWriteSchema(uri, 't1', 'cn0f3c2s4bkc73a1f6ng', [
      { name: 'user', text: 'entity user {}' },
      {
        name: 'document',
        text: 'entity document {\n    relation owner @user\n    relation viewer @user\n    attribute public boolean\n    permission view = owner or viewer or public\n}',
      },
    ]);
    const tuple = (entityId: string, relation: string, subjectId: string) => ({
      entityType: 'document',
      entityId,
      relation,
      subjectType: 'user',
      subjectId,
      subjectRelation: '',
    });
    await permifyWriteData(uri, 't1', {
      tuples: [tuple('d1', 'owner', 'alice'), tuple('d1', 'viewer', 'bob'), tuple('d2', 'viewer', 'carol')],
      attributes: [
        {
          entityType: 'document',
          entityId: 'd3',
          attribute: 'public',
          value: { '@type': 'type.googleapis.com/base.v1.BooleanValue', data: true },
        },
      ],
    });
    await permifyWriteData(uri, 't1', { deleteTuples: [tuple('d1', 'viewer', 'bob')] });
    expect(
      (
        await sql<{ e: string }>(uri, "SELECT expired_tx_id::text AS e FROM relation_tuples WHERE subject_id = 'alice'")
      )[0]!.e,
    ).toBe(liveSentinel);

    const store = await createPostgresStore({ uri, maxOpenConnections: 2 });
    try {
      await store.ready();
      expect(await store.schemas.headVersion('t1')).toBe('cn0f3c2s4bkc73a1f6ng');
      const head = await store.reader.headSnapToken('t1');
      const tuples = await store.reader.queryRelationships('t1', {}, head);
      expect(tuples.map((t) => `${t.entity.id}#${t.relation}@${t.subject.id}`)).toEqual([
        'd1#owner@alice',
        'd2#viewer@carol',
      ]);
      const engine = createEngine({ reader: store.reader, schemas: store.schemas });
      const can = async (id: string, user: string) =>
        (
          await engine.check({
            tenantId: 't1',
            entity: { type: 'document', id },
            permission: 'view',
            subject: { type: 'user', id: user, relation: '' },
            metadata: { depth: 20 },
          })
        ).can;
      expect(await can('d1', 'alice')).toBe('allowed');
      expect(await can('d1', 'bob')).toBe('denied');
      expect(await can('d2', 'carol')).toBe('allowed');
      expect(await can('d3', 'zoe')).toBe('allowed');
    } finally {
      await store.close();
    }
  });

  it('written by us is read by Permify`s queries (tuples, attributes, schema source per entity)', async () => {
    const uri = await freshDb();
    await applyPermifyMigrations(uri);
    const store = await createPostgresStore({ uri, maxOpenConnections: 2 });
    try {
      await store.ready();
      await store.schemas.writeSchema('t1', [
        { name: 'user', definition: 'entity user {}' },
        {
          name: 'document',
          definition: 'entity document {\n    relation owner @user\n    attribute public boolean\n}',
        },
      ]);
      await store.writer.write('t1', [
        {
          writeTuples: [
            {
              entity: { type: 'document', id: 'd1' },
              relation: 'owner',
              subject: { type: 'user', id: 'alice', relation: '' },
            },
            {
              entity: { type: 'document', id: 'd2' },
              relation: 'owner',
              subject: { type: 'user', id: 'bob', relation: '' },
            },
          ],
          writeAttributes: [
            { entity: { type: 'document', id: 'd1' }, attribute: 'public', value: { type: 'boolean', value: true } },
          ],
        },
      ]);
      await store.writer.write('t1', [{ deleteTupleFilters: [{ entity: { type: 'document', ids: ['d2'] } }] }]);
    } finally {
      await store.close();
    }
    expect(await permifyReadTuples(uri, 't1')).toEqual([
      {
        entityType: 'document',
        entityId: 'd1',
        relation: 'owner',
        subjectType: 'user',
        subjectId: 'alice',
        subjectRelation: '',
      },
    ]);
    expect(await permifyReadAttributes(uri, 't1')).toEqual([
      {
        entityType: 'document',
        entityId: 'd1',
        attribute: 'public',
        value: { '@type': 'type.googleapis.com/base.v1.BooleanValue', data: true },
      },
    ]);
    const schema = await permifyReadSchema(uri, 't1');
    expect(schema?.version).toMatch(/^[0-9a-v]{20}$/);
    expect(schema?.definitions.map((d) => d.name).sort()).toEqual(['document', 'user']);
    // Permify's goose would start on it without applying or missing anything.
    expect(await permifyGoosePlan(uri)).toEqual({ missing: [], pending: [] });
  });
});

describe('a database we migrated', () => {
  it('is one Permify`s goose starts on: its table, version 0 seed and Permify`s versions only', async () => {
    const uri = await freshDb();
    await migrateUp(uri);
    expect(await permifyGoosePlan(uri)).toEqual({ missing: [], pending: [] });
    const rows = await sql<{ v: string; a: boolean }>(
      uri,
      'SELECT version_id::text AS v, is_applied AS a FROM migrations ORDER BY id',
    );
    expect(rows).toEqual([{ v: '0', a: true }, ...permifyVersions.map((v) => ({ v, a: true }))]);
    // goose's own statements on its table work unchanged.
    await sql(uri, 'INSERT INTO migrations (version_id, is_applied) VALUES ($1, $2)', ['29990101000000', true]);
    await sql(uri, 'DELETE FROM migrations WHERE version_id=$1', ['29990101000000']);
    expect(
      await sql(uri, 'SELECT tstamp, is_applied FROM migrations WHERE version_id=$1 ORDER BY tstamp DESC LIMIT 1', [
        permifyVersions[0],
      ]),
    ).toHaveLength(1);
    // Our own versions are where goose never looks.
    expect(
      (await sql<{ v: string }>(uri, 'SELECT version_id::text AS v FROM permify_ts_migrations ORDER BY 1')).map(
        (r) => r.v,
      ),
    ).toEqual(ownVersions);
  });

  it('down to nothing and up again keeps both ledgers consistent', async () => {
    const uri = await freshDb();
    await migrateUp(uri);
    await migrateDown(uri, migrations.length);
    expect(await sql(uri, 'SELECT version_id::text AS v FROM migrations')).toEqual([{ v: '0' }]);
    expect(await sql(uri, 'SELECT version_id FROM permify_ts_migrations')).toEqual([]);
    expect(await migrateUp(uri)).toEqual(migrations.map((m) => m.version));
  });

  it('from an earlier permify-ts release (migrations with name/applied_at) is converted in place', async () => {
    const uri = await freshDb();
    await migrateUp(uri);
    // Rebuild the old ledger: one table `migrations` (version_id, name, applied_at) holding every step but the last.
    const old = migrations.slice(0, -1);
    await sql(
      uri,
      `DROP TABLE migrations; DROP TABLE permify_ts_migrations;
       CREATE TABLE migrations (version_id BIGINT NOT NULL, name VARCHAR NOT NULL,
         applied_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'), CONSTRAINT pk_migrations PRIMARY KEY (version_id))`,
    );
    for (const m of old)
      await sql(uri, 'INSERT INTO migrations (version_id, name) VALUES ($1, $2)', [m.version, m.name]);
    expect(await migrateUp(uri)).toEqual([migrations[migrations.length - 1]!.version]);
    expect(await permifyGoosePlan(uri)).toEqual({ missing: [], pending: [] });
    expect((await migrationStatus(uri)).every((s) => s.applied)).toBe(true);
  });
});
