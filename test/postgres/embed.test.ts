/** The embedding facade on PostgreSQL: `permify({ schema, store: await createPostgresStore(...) })` just works. */
import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresStore, permify } from '../../src/index.js';
import { createTestDatabase, stopSharedServer, type TestDatabase } from '../support/postgres.js';

let db: TestDatabase;
afterAll(async () => {
  await db?.drop();
  await stopSharedServer();
});

describe('permify() on PostgreSQL', () => {
  it('waits for the store to be migrated, writes the schema once, checks and looks up', async () => {
    db = await createTestDatabase();
    const schema = 'entity user {}\nentity doc {\n    relation owner @user\n    permission edit = owner\n}';
    // No store.ready() here: the facade waits for it.
    const authz = await permify({
      schema,
      store: await createPostgresStore({ uri: db.uri, maxOpenConnections: 2 }),
      closeStore: true,
    });
    try {
      await authz.write({ tuples: ['doc:1#owner@user:alice'] });
      expect(await authz.check('doc:1', 'edit', 'user:alice')).toBe(true);
      expect(await authz.lookupEntity('doc', 'edit', 'user:alice')).toEqual(['1']);
    } finally {
      await authz.close();
    }
    const again = await permify({
      schema,
      store: await createPostgresStore({ uri: db.uri, maxOpenConnections: 2 }),
      closeStore: true,
    });
    try {
      const page = await again.store.schemas.listVersions('t1', { size: 10 });
      expect(page.items).toHaveLength(1);
    } finally {
      await again.close();
    }
  });
});
