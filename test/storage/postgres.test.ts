/**
 * The shared storage conformance suite on the PostgreSQL store, against a fresh real database
 * (PERMIFY_TEST_DATABASE_URI or an embedded server; see test/support/postgres.ts).
 */
import { describeStoreConformance } from '../../src/storage/conformance/index.js';
import { createPostgresStore } from '../../src/storage/postgres/index.js';
import { createTestDatabase, stopSharedServer } from '../support/postgres.js';

describeStoreConformance('postgres', async () => {
  const db = await createTestDatabase();
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
