/**
 * The shared storage conformance suite on a PostgreSQL database that Permify v1.7.3 migrated first (its own
 * migration files, applied as goose applies them); the store then adds only its own steps.
 */
import { describeStoreConformance } from '../../src/storage/conformance/index.js';
import { createPostgresStore } from '../../src/storage/postgres/index.js';
import { applyPermifyMigrations } from '../support/permify.js';
import { createTestDatabase, stopSharedServer } from '../support/postgres.js';

describeStoreConformance('postgres (database migrated by Permify v1.7.3)', async () => {
  const db = await createTestDatabase();
  await applyPermifyMigrations(db.uri);
  const store = await createPostgresStore({ uri: db.uri, maxOpenConnections: 8 });
  await store.ready();
  return {
    store,
    async cleanup() {
      await store.close();
      await db.drop();
      await stopSharedServer();
    },
  };
});
