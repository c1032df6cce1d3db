/**
 * The read model across a real PostgreSQL restart (a throwaway server this file controls): tailing fails
 * while the server is down, then resumes from its position: every write committed before, during (refused)
 * and after the outage is applied exactly once (answers equal direct reads at every token, and the model's
 * applied-transaction count equals the writes). Also: head reads on the writing instance show its own
 * write at once, and tokens older than the model's load fall through to PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tuple } from '../../src/data/types.js';
import { silentLogger } from '../../src/storage/postgres/database.js';
import { createPostgresStore, type PostgresStore } from '../../src/storage/postgres/index.js';
import { createReadModelStore, type ReadModelStore } from '../../src/storage/read-model/model-store.js';
import {
  createTestDatabase,
  startEmbeddedPostgres,
  type EmbeddedServer,
  type TestDatabase,
} from '../support/postgres.js';

let server: EmbeddedServer;
let db: TestDatabase;
let direct: PostgresStore;
let model: ReadModelStore;

beforeAll(async () => {
  server = await startEmbeddedPostgres();
  db = await createTestDatabase(server.uri);
  direct = await createPostgresStore({
    uri: db.uri,
    maxOpenConnections: 4,
    readCacheEntries: 0,
    connectionTimeoutMs: 1_000,
  });
  await direct.ready();
  const inner = await createPostgresStore({ uri: db.uri, maxOpenConnections: 4, connectionTimeoutMs: 1_000 });
  await inner.ready();
  model = createReadModelStore(inner, {
    logger: silentLogger,
    pollIntervalMs: 20,
    waitTimeoutMs: 2_000,
    staleAfterMs: 500,
  });
}, 120_000);

afterAll(async () => {
  await model?.close();
  await direct?.close();
  await server?.destroy();
});

const tuple = (doc: string): Tuple => ({
  entity: { type: 'document', id: doc },
  relation: 'viewer',
  subject: { type: 'user', id: 'u1', relation: '' },
});
const all = { entity: { type: 'document' } };

describe('read model faults', () => {
  it('resumes after a restart without losing or applying twice any transaction', async () => {
    const early = await direct.writer.write('t1', [{ writeTuples: [tuple('early')] }]);
    expect(await model.readModel.whenLoaded('t1')).toBe(true);
    const tokens: string[] = [];
    let writes = 0;
    for (let i = 0; i < 5; i += 1) {
      tokens.push(
        await model.writer.write('t1', [{ writeTuples: [tuple(`a${i}`)] }, { deleteTuples: [tuple(`a${i - 1}`)] }]),
      );
      writes += 1;
      // Head reads here show this instance's own write at once.
      const head = await model.reader.headSnapToken('t1');
      expect(
        await model.reader.queryRelationships('t1', { entity: { type: 'document', ids: [`a${i}`] } }, head),
      ).toEqual([tuple(`a${i}`)]);
    }
    // Written by another instance, not yet applied when the server goes away.
    tokens.push(await direct.writer.write('t1', [{ writeTuples: [tuple('before-stop')] }]));
    writes += 1;
    await server.stop();
    await expect(direct.writer.write('t1', [{ writeTuples: [tuple('refused')] }])).rejects.toThrow();
    // The model notices: it is no longer fresh, so head reads no longer come from it.
    await expect.poll(() => model.readModel.fresh, { timeout: 5_000 }).toBe(false);
    expect(model.readModel.stats.failedCycles).toBeGreaterThan(0);
    await server.start();
    await expect.poll(() => direct.isReady(), { timeout: 20_000 }).toBe(true);
    for (let i = 0; i < 3; i += 1) {
      tokens.push(await direct.writer.write('t1', [{ writeTuples: [tuple(`b${i}`)] }]));
      writes += 1;
    }
    await expect.poll(() => model.readModel.fresh, { timeout: 20_000 }).toBe(true);
    const before = model.readModel.stats.modelReads;
    for (const token of tokens) {
      expect(await model.reader.queryRelationships('t1', all, token)).toEqual(
        await direct.reader.queryRelationships('t1', all, token),
      );
    }
    expect(model.readModel.stats.modelReads - before).toBe(tokens.length);
    expect(model.readModel.stats.appliedTransactions).toBe(writes);
    // A token older than the load falls through (and is still exact).
    const fallbacks = model.readModel.stats.fallbacks;
    expect(await model.reader.queryRelationships('t1', all, early)).toEqual([tuple('early')]);
    expect(model.readModel.stats.fallbacks).toBe(fallbacks + 1);
  }, 90_000);
});
