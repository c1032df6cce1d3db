/**
 * The PostgreSQL migrations, in application order, embedded as TypeScript strings so that `tsc` emits
 * them with the rest of the build (no .sql files to copy).
 *
 * Two ledgers, so that one database serves both Permify and permify-ts:
 * - `goose` steps are Permify v1.7.3's own migrations (same versions, same resulting schema; checked
 *   against Permify's SQL by test/postgres/permify-compat.test.ts). They are recorded in goose's
 *   `migrations` table exactly as Permify's goose records them, so Permify starts on a database we
 *   migrated and we start on one Permify migrated.
 * - `own` steps are permify-ts additions, recorded in `permify_ts_migrations`, a table Permify's goose
 *   never reads: a version of ours in goose's table would make goose report Permify's later migrations
 *   as "missing" (versions below the database's newest one).
 *
 * Each statement of a step is executed separately. Steps marked `transactional: false` run outside a
 * transaction because they build indexes CONCURRENTLY.
 */
export type MigrationLedger = 'goose' | 'own';

export interface Migration {
  readonly version: string;
  /** Where the step is recorded (see the module comment). */
  readonly ledger: MigrationLedger;
  readonly name: string;
  readonly transactional: boolean;
  readonly up: readonly string[];
  readonly down: readonly string[];
}

const sentinel = '9223372036854775807';

export const migrations: readonly Migration[] = [
  {
    version: '20230117143902',
    ledger: 'goose',
    name: 'initial',
    transactional: true,
    up: [
      `CREATE TABLE IF NOT EXISTS relation_tuples (
        id SERIAL NOT NULL,
        entity_type VARCHAR NOT NULL,
        entity_id VARCHAR NOT NULL,
        relation VARCHAR NOT NULL,
        subject_type VARCHAR NOT NULL,
        subject_id VARCHAR NOT NULL,
        subject_relation VARCHAR NOT NULL,
        created_tx_id XID8 DEFAULT (pg_current_xact_id()),
        expired_tx_id XID8 DEFAULT ('0'),
        CONSTRAINT pk_relation_tuple PRIMARY KEY (id),
        CONSTRAINT uq_relation_tuple UNIQUE (entity_type, entity_id, relation, subject_type, subject_id, subject_relation, created_tx_id, expired_tx_id),
        CONSTRAINT uq_relation_tuple_not_expired UNIQUE (entity_type, entity_id, relation, subject_type, subject_id, subject_relation, expired_tx_id)
      )`,
      `CREATE INDEX IF NOT EXISTS idx_tuples_subject_relation ON relation_tuples (subject_type, subject_relation, entity_type, relation)`,
      `CREATE INDEX IF NOT EXISTS idx_tuples_subject ON relation_tuples (subject_type, subject_id, subject_relation, entity_type, relation)`,
      `CREATE TABLE IF NOT EXISTS schema_definitions (
        entity_type VARCHAR NOT NULL,
        serialized_definition BYTEA NOT NULL,
        version CHAR(20) NOT NULL,
        CONSTRAINT pk_schema_definition PRIMARY KEY (entity_type, version)
      )`,
      `CREATE TABLE IF NOT EXISTS transactions (
        id XID8 DEFAULT (pg_current_xact_id()) NOT NULL,
        snapshot PG_SNAPSHOT DEFAULT (pg_current_snapshot()) NOT NULL,
        timestamp TIMESTAMP DEFAULT (now() AT TIME ZONE 'UTC') NOT NULL,
        CONSTRAINT pk_transaction PRIMARY KEY (id)
      )`,
    ],
    down: [
      `DROP TABLE IF EXISTS transactions`,
      `DROP TABLE IF EXISTS schema_definitions`,
      `DROP TABLE IF EXISTS relation_tuples`,
    ],
  },
  {
    version: '20230117145140',
    ledger: 'goose',
    name: 'multi_tenant',
    transactional: true,
    up: [
      `CREATE TABLE IF NOT EXISTS tenants (
        id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'UTC') NOT NULL,
        CONSTRAINT pk_tenants PRIMARY KEY (id)
      )`,
      `INSERT INTO tenants (id, name) VALUES ('t1', 'example tenant') ON CONFLICT DO NOTHING`,
      `ALTER TABLE relation_tuples ADD COLUMN tenant_id VARCHAR NOT NULL DEFAULT 't1'`,
      `ALTER TABLE relation_tuples DROP CONSTRAINT uq_relation_tuple`,
      `ALTER TABLE relation_tuples DROP CONSTRAINT uq_relation_tuple_not_expired`,
      `ALTER TABLE relation_tuples ADD CONSTRAINT uq_relation_tuple UNIQUE (tenant_id, entity_type, entity_id, relation, subject_type, subject_id, subject_relation, created_tx_id, expired_tx_id)`,
      `ALTER TABLE relation_tuples ADD CONSTRAINT uq_relation_tuple_not_expired UNIQUE (tenant_id, entity_type, entity_id, relation, subject_type, subject_id, subject_relation, expired_tx_id)`,
      `ALTER TABLE schema_definitions ADD COLUMN tenant_id VARCHAR NOT NULL DEFAULT 't1'`,
      `ALTER TABLE schema_definitions DROP CONSTRAINT pk_schema_definition`,
      `ALTER TABLE schema_definitions ADD CONSTRAINT pk_schema_definition PRIMARY KEY (tenant_id, entity_type, version)`,
      `ALTER TABLE transactions ADD COLUMN tenant_id VARCHAR NOT NULL DEFAULT 't1'`,
    ],
    down: [
      `ALTER TABLE transactions DROP COLUMN tenant_id`,
      `ALTER TABLE schema_definitions DROP CONSTRAINT pk_schema_definition`,
      `ALTER TABLE schema_definitions DROP COLUMN tenant_id`,
      `ALTER TABLE schema_definitions ADD CONSTRAINT pk_schema_definition PRIMARY KEY (entity_type, version)`,
      `ALTER TABLE relation_tuples DROP CONSTRAINT uq_relation_tuple`,
      `ALTER TABLE relation_tuples DROP CONSTRAINT uq_relation_tuple_not_expired`,
      `ALTER TABLE relation_tuples DROP COLUMN tenant_id`,
      `ALTER TABLE relation_tuples ADD CONSTRAINT uq_relation_tuple UNIQUE (entity_type, entity_id, relation, subject_type, subject_id, subject_relation, created_tx_id, expired_tx_id)`,
      `ALTER TABLE relation_tuples ADD CONSTRAINT uq_relation_tuple_not_expired UNIQUE (entity_type, entity_id, relation, subject_type, subject_id, subject_relation, expired_tx_id)`,
      `DROP TABLE IF EXISTS tenants`,
    ],
  },
  {
    version: '20230118185622',
    ledger: 'goose',
    name: 'index_optimization',
    transactional: false,
    up: [
      `DROP INDEX CONCURRENTLY IF EXISTS idx_tuples_subject`,
      `DROP INDEX CONCURRENTLY IF EXISTS idx_tuples_subject_relation`,
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_tuples_subject ON relation_tuples (tenant_id, subject_type, subject_id, subject_relation, entity_type, relation)`,
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_tuples_entity ON relation_tuples (tenant_id, entity_type, entity_id, relation)`,
    ],
    down: [
      `DROP INDEX CONCURRENTLY IF EXISTS idx_tuples_entity`,
      `DROP INDEX CONCURRENTLY IF EXISTS idx_tuples_subject`,
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_tuples_subject ON relation_tuples (subject_type, subject_id, subject_relation, entity_type, relation)`,
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_tuples_subject_relation ON relation_tuples (subject_type, subject_relation, entity_type, relation)`,
    ],
  },
  {
    version: '20230729145034',
    ledger: 'goose',
    name: 'attributes',
    transactional: true,
    up: [
      `CREATE TABLE IF NOT EXISTS attributes (
        id SERIAL NOT NULL,
        entity_type VARCHAR NOT NULL,
        entity_id VARCHAR NOT NULL,
        attribute VARCHAR NOT NULL,
        value JSONB NOT NULL,
        tenant_id VARCHAR NOT NULL,
        created_tx_id XID8 DEFAULT (pg_current_xact_id()),
        expired_tx_id XID8 DEFAULT ('0'),
        CONSTRAINT pk_attribute PRIMARY KEY (id),
        CONSTRAINT uq_attribute UNIQUE (tenant_id, entity_type, entity_id, attribute, created_tx_id, expired_tx_id),
        CONSTRAINT uq_attribute_not_expired UNIQUE (tenant_id, entity_type, entity_id, attribute, expired_tx_id)
      )`,
      `ALTER TABLE schema_definitions RENAME COLUMN entity_type TO name`,
    ],
    down: [`ALTER TABLE schema_definitions RENAME COLUMN name TO entity_type`, `DROP TABLE IF EXISTS attributes`],
  },
  {
    version: '20231122120124',
    ledger: 'goose',
    name: 'bundles',
    transactional: true,
    up: [
      `CREATE TABLE IF NOT EXISTS bundles (
        name VARCHAR NOT NULL,
        payload JSONB NOT NULL,
        tenant_id VARCHAR NOT NULL,
        created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'UTC') NOT NULL,
        CONSTRAINT pk_bundle PRIMARY KEY (name, tenant_id)
      )`,
    ],
    down: [`DROP TABLE IF EXISTS bundles`],
  },
  {
    version: '20231230174418',
    ledger: 'goose',
    name: 'schema_version_index',
    transactional: false,
    up: [`CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_schema_version ON schema_definitions (version)`],
    down: [`DROP INDEX CONCURRENTLY IF EXISTS idx_schema_version`],
  },
  {
    version: '20241018182912',
    ledger: 'goose',
    name: 'add_watch_indexes',
    transactional: false,
    up: [
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_relation_tuples_txid ON relation_tuples (tenant_id, created_tx_id, expired_tx_id)`,
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_attributes_txid ON attributes (tenant_id, created_tx_id, expired_tx_id)`,
    ],
    down: [
      `DROP INDEX CONCURRENTLY IF EXISTS idx_attributes_txid`,
      `DROP INDEX CONCURRENTLY IF EXISTS idx_relation_tuples_txid`,
    ],
  },
  {
    version: '20250912101325',
    ledger: 'goose',
    name: 'add_tenant_scoped_indexes',
    transactional: false,
    up: [
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_transactions_tenant_id ON transactions (tenant_id, id)`,
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_schema_tenant_version ON schema_definitions (tenant_id, version)`,
      `DROP INDEX CONCURRENTLY IF EXISTS idx_schema_version`,
    ],
    down: [
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_schema_version ON schema_definitions (version)`,
      `DROP INDEX CONCURRENTLY IF EXISTS idx_schema_tenant_version`,
      `DROP INDEX CONCURRENTLY IF EXISTS idx_transactions_tenant_id`,
    ],
  },
  {
    version: '20250913120000',
    ledger: 'goose',
    name: 'fix_xid_wraparound',
    transactional: true,
    up: [
      `UPDATE relation_tuples SET expired_tx_id = '${sentinel}' WHERE expired_tx_id = '0'`,
      `UPDATE attributes SET expired_tx_id = '${sentinel}' WHERE expired_tx_id = '0'`,
      `ALTER TABLE relation_tuples ALTER COLUMN expired_tx_id SET DEFAULT ('${sentinel}')`,
      `ALTER TABLE attributes ALTER COLUMN expired_tx_id SET DEFAULT ('${sentinel}')`,
    ],
    down: [
      `UPDATE relation_tuples SET expired_tx_id = '0' WHERE expired_tx_id = '${sentinel}'`,
      `UPDATE attributes SET expired_tx_id = '0' WHERE expired_tx_id = '${sentinel}'`,
      `ALTER TABLE relation_tuples ALTER COLUMN expired_tx_id SET DEFAULT ('0')`,
      `ALTER TABLE attributes ALTER COLUMN expired_tx_id SET DEFAULT ('0')`,
    ],
  },
  {
    version: '20261101000000',
    ledger: 'own',
    name: 'schema_definition_position',
    transactional: true,
    up: [`ALTER TABLE schema_definitions ADD COLUMN IF NOT EXISTS position INTEGER NOT NULL DEFAULT 0`],
    down: [`ALTER TABLE schema_definitions DROP COLUMN IF EXISTS position`],
  },
  {
    // Byte-wise order for ids: lookup cursors resume at `entity_id >= $from` and unique subject ids are
    // listed `ORDER BY subject_id`, which must agree with the engine's code-unit order whatever the
    // database's default collation is. The "C" collation keeps equality (all Permify's queries use) and
    // the indexes (rebuilt by this step) intact, so Permify runs unchanged on the result.
    version: '20261101000001',
    ledger: 'own',
    name: 'byte_order_ids',
    transactional: true,
    up: [
      `ALTER TABLE relation_tuples ALTER COLUMN entity_id TYPE VARCHAR COLLATE "C", ALTER COLUMN subject_id TYPE VARCHAR COLLATE "C"`,
      `ALTER TABLE attributes ALTER COLUMN entity_id TYPE VARCHAR COLLATE "C"`,
    ],
    down: [
      `ALTER TABLE attributes ALTER COLUMN entity_id TYPE VARCHAR COLLATE "default"`,
      `ALTER TABLE relation_tuples ALTER COLUMN entity_id TYPE VARCHAR COLLATE "default", ALTER COLUMN subject_id TYPE VARCHAR COLLATE "default"`,
    ],
  },
  {
    // Rows expired by given transactions: the read model's tailing cycle and Watch ask for them. Permify's
    // (tenant_id, created_tx_id, expired_tx_id) index serves only the created side, so the expired side
    // scanned every row of the tenant (the apply lag grew with the tenant's size). Partial: live rows (the
    // vast majority) carry the sentinel and stay out of the index; queries repeat the predicate verbatim
    // so the planner can use it. Extra indexes are invisible to Permify's queries and goose.
    version: '20261203000000',
    ledger: 'own',
    name: 'expired_tx_indexes',
    transactional: false,
    up: [
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_relation_tuples_expired_tx ON relation_tuples (tenant_id, expired_tx_id) WHERE expired_tx_id <> '${sentinel}'::xid8`,
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_attributes_expired_tx ON attributes (tenant_id, expired_tx_id) WHERE expired_tx_id <> '${sentinel}'::xid8`,
    ],
    down: [
      `DROP INDEX CONCURRENTLY IF EXISTS idx_attributes_expired_tx`,
      `DROP INDEX CONCURRENTLY IF EXISTS idx_relation_tuples_expired_tx`,
    ],
  },
];
