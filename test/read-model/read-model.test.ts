/**
 * The read model against direct PostgreSQL reads: random writes (tuples, attributes, exact and filter
 * deletes, several concurrent writers so that tokens skip transactions applied before others), then every
 * engine read at every token answered by the model equals the direct reader's answer; a second model (as a
 * second process would have) answers a token written through the first with the write visible; tokens older
 * than the model's load fall through (still exact); a tenant deleted elsewhere leaves the model.
 */
import { Worker } from 'node:worker_threads';
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Attribute, Tuple } from '../../src/data/types.js';
import type { AttributeFilter, TupleFilter, WriteStep } from '../../src/storage/contract.js';
import { createPostgresStore, type PostgresStore } from '../../src/storage/postgres/index.js';
import { silentLogger } from '../../src/storage/postgres/database.js';
import { createReadModelStore, type ReadModelStore } from '../../src/storage/read-model/model-store.js';
import { CHANGES_STATEMENT, HEADS_STATEMENT, TAIL_SESSION_SQL } from '../../src/storage/read-model/read-model.js';
import { createTestDatabase, stopSharedServer, type TestDatabase } from '../support/postgres.js';

let db: TestDatabase;
let direct: PostgresStore;
let modelA: ReadModelStore;
let modelB: ReadModelStore;
const stores: { close(): Promise<void> }[] = [];

async function pgStore(): Promise<PostgresStore> {
  const s = await createPostgresStore({ uri: db.uri, maxOpenConnections: 6, readCacheEntries: 0 });
  await s.ready();
  return s;
}

beforeAll(async () => {
  db = await createTestDatabase();
  direct = await pgStore();
  modelA = createReadModelStore(await pgStore(), { logger: silentLogger, waitTimeoutMs: 2_000, pollIntervalMs: 20 });
  modelB = createReadModelStore(await pgStore(), { logger: silentLogger, waitTimeoutMs: 2_000, pollIntervalMs: 20 });
  stores.push(direct, modelA, modelB);
}, 60_000);

afterAll(async () => {
  for (const s of stores) await s.close();
  await db?.drop();
  await stopSharedServer();
});

/** Deterministic PRNG so failures replay. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const docs = ['d1', 'd2', 'd3', 'd4'];
const users = ['u1', 'u2', 'u3'];
const relations = ['viewer', 'editor', 'parent'];

function randomTuple(r: () => number): Tuple {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)] as T;
  const relation = pick(relations);
  if (relation === 'parent') {
    return {
      entity: { type: 'document', id: pick(docs) },
      relation,
      subject: { type: 'folder', id: pick(['f1', 'f2']), relation: '' },
    };
  }
  const userset = r() < 0.25;
  return {
    entity: { type: 'document', id: pick(docs) },
    relation,
    subject: userset
      ? { type: 'group', id: pick(['g1', 'g2']), relation: 'member' }
      : { type: 'user', id: pick(users), relation: '' },
  };
}

function randomAttribute(r: () => number): Attribute {
  return {
    entity: { type: 'document', id: docs[Math.floor(r() * docs.length)] as string },
    attribute: r() < 0.5 ? 'public' : 'level',
    value: r() < 0.5 ? { type: 'boolean', value: r() < 0.5 } : { type: 'integer', value: Math.floor(r() * 5) },
  };
}

function randomStep(r: () => number): WriteStep {
  const roll = r();
  if (roll < 0.45) return { writeTuples: [randomTuple(r), randomTuple(r)], writeAttributes: [randomAttribute(r)] };
  if (roll < 0.7) return { deleteTuples: [randomTuple(r)], writeTuples: [randomTuple(r)] };
  if (roll < 0.8)
    return {
      deleteTupleFilters: [{ entity: { type: 'document', ids: [docs[Math.floor(r() * docs.length)] as string] } }],
    };
  if (roll < 0.9) return { deleteAttributes: [{ entity: { type: 'document', id: 'd1' }, attribute: 'public' }] };
  return {
    writeTuples: [randomTuple(r)],
    deleteAttributeFilters: [{ entity: { type: 'document' }, attributes: ['level'] }],
  };
}

const tupleFilters: TupleFilter[] = [
  ...docs.flatMap((d) => relations.map((relation) => ({ entity: { type: 'document', ids: [d] }, relation }))),
  { entity: { type: 'document', ids: ['d1'] }, relation: 'viewer', subject: { type: 'group', relation: 'member' } },
  { entity: { type: 'document', ids: ['d2'] }, relation: 'viewer', subject: { type: 'user', ids: ['u1'] } },
  { entity: { type: 'document' }, relation: 'viewer' },
  { entity: { type: 'document', ids: ['d1', 'd3'] } },
  { subject: { type: 'user', ids: ['u2'] } },
  { subject: { type: 'user', relation: '...' } },
  { entity: { type: 'document' } },
];
const attributeFilters: AttributeFilter[] = [
  { entity: { type: 'document', ids: ['d1'] } },
  { entity: { type: 'document' }, attributes: ['level'] },
  { entity: { type: 'document' } },
];

async function compareAt(model: ReadModelStore, tenant: string, token: string): Promise<void> {
  for (const f of tupleFilters) {
    const want = await direct.reader.queryRelationships(tenant, f, token);
    expect(await model.reader.queryRelationships(tenant, f, token), JSON.stringify(f)).toEqual(want);
    const from = await direct.reader.queryRelationships(tenant, f, token, { entityIdFrom: 'd2' });
    expect(await model.reader.queryRelationships(tenant, f, token, { entityIdFrom: 'd2' })).toEqual(from);
  }
  for (const f of attributeFilters) {
    expect(await model.reader.queryAttributes(tenant, f, token)).toEqual(
      await direct.reader.queryAttributes(tenant, f, token),
    );
  }
  for (const d of docs) {
    for (const a of ['public', 'level']) {
      const e = { type: 'document', id: d };
      expect(await model.reader.querySingleAttribute(tenant, e, a, token)).toEqual(
        await direct.reader.querySingleAttribute(tenant, e, a, token),
      );
    }
  }
  for (const [type, rel] of [
    ['user', ''],
    ['group', 'member'],
    ['user', '...'],
  ] as const) {
    expect(await model.reader.queryUniqueSubjectIds(tenant, type, rel, token)).toEqual(
      await direct.reader.queryUniqueSubjectIds(tenant, type, rel, token),
    );
  }
}

describe('read model', () => {
  it('answers every read at every token exactly as PostgreSQL does (random concurrent writes)', async () => {
    const tenant = 't1';
    const r = rng(7);
    // Some data before the load, so the base is not empty.
    const early: string[] = [];
    for (let i = 0; i < 5; i += 1) early.push(await direct.writer.write(tenant, [randomStep(r)]));
    expect(await modelA.readModel.whenLoaded(tenant)).toBe(true);
    const tokens: string[] = [];
    for (let round = 0; round < 12; round += 1) {
      // Three writers at once: their transactions commit in an order unrelated to their ids.
      const writes = await Promise.all(
        [0, 1, 2].map(async () => modelA.writer.write(tenant, [randomStep(r), randomStep(r)])),
      );
      tokens.push(...writes);
      tokens.push(await modelA.reader.headSnapToken(tenant));
    }
    const before = modelA.readModel.stats.modelReads;
    for (const token of tokens) await compareAt(modelA, tenant, token);
    // Served by the model, not by falling through.
    expect(modelA.readModel.stats.modelReads - before).toBeGreaterThan(tokens.length * 20);
    // Tokens from before the load are older than the model's base: they fall through, still exact.
    for (const token of early) await compareAt(modelA, tenant, token);
  }, 60_000);

  it('a write through one instance is visible through another at the returned token', async () => {
    const tenant = 't1';
    expect(await modelB.readModel.whenLoaded(tenant)).toBe(true);
    for (let i = 0; i < 5; i += 1) {
      const t: Tuple = {
        entity: { type: 'document', id: `ryw${i}` },
        relation: 'viewer',
        subject: { type: 'user', id: 'u9', relation: '' },
      };
      const token = await modelA.writer.write(tenant, [{ writeTuples: [t] }]);
      const reads = modelB.readModel.stats.modelReads;
      expect(
        await modelB.reader.queryRelationships(
          tenant,
          { entity: { type: 'document', ids: [`ryw${i}`] }, relation: 'viewer' },
          token,
        ),
      ).toEqual([t]);
      expect(modelB.readModel.stats.modelReads).toBe(reads + 1);
      // And its head reaches the write shortly after.
      await expect
        .poll(async () => {
          const head = await modelB.reader.headSnapToken(tenant);
          return modelB.reader.queryRelationships(tenant, { entity: { type: 'document', ids: [`ryw${i}`] } }, head);
        })
        .toEqual([t]);
    }
  }, 30_000);

  it('tails on its own connections: with every connection of its store busy, a write elsewhere still reaches it', async () => {
    const tenant = 't1';
    const inner = await createPostgresStore({ uri: db.uri, maxOpenConnections: 2, readCacheEntries: 0 });
    await inner.ready();
    const model = createReadModelStore(inner, { logger: silentLogger, waitTimeoutMs: 2_500, pollIntervalMs: 20 });
    stores.push(model);
    expect(await model.readModel.whenLoaded(tenant)).toBe(true);
    // Both connections of the store's pool are taken for 3.5 s.
    const busy = [0, 1].map(() => inner.database.writer.query('SELECT pg_sleep(3.5)'));
    await expect.poll(() => inner.database.writer.idleCount === 0 && inner.database.writer.totalCount === 2).toBe(true);
    const t: Tuple = {
      entity: { type: 'document', id: 'busy-pool' },
      relation: 'viewer',
      subject: { type: 'user', id: 'u9', relation: '' },
    };
    const token = await modelA.writer.write(tenant, [{ writeTuples: [t] }]);
    const started = Date.now();
    expect(await model.readModel.view(tenant, token)).toBeDefined();
    expect(Date.now() - started).toBeLessThan(2_500);
    await Promise.all(busy);
  }, 30_000);

  it('tails with index scans only, even on plans made while the tables were nearly empty', async () => {
    // The tailing statements keep their generic plans for the connection's life. Made on near-empty tables,
    // such a plan scanned all of `transactions` (and `attributes`) on every cycle once they had grown.
    const fresh = await createTestDatabase();
    const store = await createPostgresStore({ uri: fresh.uri, maxOpenConnections: 2 });
    try {
      await store.ready();
      // A few transactions, and statistics that say so (as autovacuum would soon have them).
      for (let i = 0; i < 5; i += 1) {
        const tuple = {
          entity: { type: 'document', id: `few${i}` },
          relation: 'viewer',
          subject: { type: 'user', id: 'u1', relation: '' },
        };
        await store.writer.write('t1', [{ writeTuples: [tuple] }]);
      }
      await store.database.writer.query('ANALYZE transactions; ANALYZE relation_tuples; ANALYZE attributes');
      const seqScans = async (session: readonly string[]): Promise<string[]> => {
        const c = new pg.Client({ connectionString: fresh.uri });
        await c.connect();
        try {
          for (const sql of session) await c.query(sql);
          const found: string[] = [];
          for (const statement of [HEADS_STATEMENT, CHANGES_STATEMENT]) {
            const r = await c.query<{ 'QUERY PLAN': unknown }>(
              `EXPLAIN (FORMAT JSON) EXECUTE ${statement}(ARRAY['t1'], ARRAY['100:105:101,103'])`,
            );
            const walk = (node: unknown): void => {
              if (node === null || typeof node !== 'object') return;
              const n = node as Record<string, unknown>;
              if (n['Node Type'] === 'Seq Scan') found.push(`${statement}: ${String(n['Relation Name'])}`);
              for (const v of Object.values(n)) (Array.isArray(v) ? v : [v]).forEach(walk);
            };
            walk(r.rows[0]?.['QUERY PLAN']);
          }
          return found;
        } finally {
          await c.end();
        }
      };
      expect(await seqScans(TAIL_SESSION_SQL)).toEqual([]);
      // The same statements without the session's settings do scan: the check above can fail.
      const prepares = TAIL_SESSION_SQL.filter((sql) => sql.startsWith('PREPARE'));
      expect(await seqScans(['SET plan_cache_mode = force_generic_plan', ...prepares])).toContain(
        `${HEADS_STATEMENT}: transactions`,
      );
    } finally {
      await store.close();
      await fresh.drop();
    }
  }, 30_000);

  it('keeps cycling while wake-ups arrive less than a millisecond apart (one never postpones another)', async () => {
    // At 1,000 writes/s, NOTIFYs and waiting reads wake an idle model from socket events every half
    // millisecond or so. Each one re-armed the start timer (after the event loop's clock had moved past its
    // due time), so the next cycle kept being pushed back while they went on.
    const model = modelA.readModel;
    expect(await model.whenLoaded('t1')).toBe(true);
    const server = net.createServer((socket) => socket.on('data', () => model.kick()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    // Another thread sends a byte every 0.5 ms, so the events reach this thread while its loop is idle.
    const sender = new Worker(
      `const net = require('node:net');
       const { workerData } = require('node:worker_threads');
       const pause = new Int32Array(new SharedArrayBuffer(4));
       const socket = net.connect(workerData.port, '127.0.0.1', () => {
         socket.setNoDelay(true);
         const until = Date.now() + workerData.ms;
         const tick = () => {
           if (Date.now() >= until) return socket.end();
           Atomics.wait(pause, 0, 0, 0.5);
           socket.write('x', tick);
         };
         tick();
       });`,
      { eval: true, workerData: { port, ms: 500 } },
    );
    const before = model.stats.cycles;
    await new Promise((resolve) => sender.once('exit', resolve));
    const cycles = model.stats.cycles - before;
    await new Promise((resolve) => server.close(resolve));
    // About 310-325 here; 54 when each wake-up re-armed the timer.
    expect(cycles).toBeGreaterThanOrEqual(120);
  });

  it('a tenant deleted on another instance leaves the model', async () => {
    await direct.tenants.createTenant('gone', 'gone');
    const t: Tuple = {
      entity: { type: 'document', id: 'x' },
      relation: 'viewer',
      subject: { type: 'user', id: 'u1', relation: '' },
    };
    await direct.writer.write('gone', [{ writeTuples: [t] }]);
    expect(await modelB.readModel.whenLoaded('gone')).toBe(true);
    const head = await modelB.reader.headSnapToken('gone');
    expect(await modelB.reader.queryRelationships('gone', { entity: { type: 'document' } }, head)).toEqual([t]);
    await direct.tenants.deleteTenant('gone');
    await expect.poll(() => modelB.readModel.loadedTenant('gone')).toBeUndefined();
    await direct.tenants.createTenant('gone', 'again');
    const head2 = await modelB.reader.headSnapToken('gone');
    expect(await modelB.reader.queryRelationships('gone', { entity: { type: 'document' } }, head2)).toEqual([]);
  }, 30_000);

  it('schema head comes from the model and follows writes on other instances', async () => {
    const v1 = await direct.schemas.writeSchema('t1', [{ name: 'user', definition: 'entity user {}' }]);
    await expect.poll(() => modelA.schemas.headVersion('t1')).toBe(v1);
    const v2 = await modelA.schemas.writeSchema('t1', [{ name: 'user', definition: 'entity user {}' }]);
    expect(await modelA.schemas.headVersion('t1')).toBe(v2);
  });

  it('reports its state and refuses tenants over the row budget (served directly, exactly)', async () => {
    const small = createReadModelStore(await pgStore(), { logger: silentLogger, maxTuples: 10, pollIntervalMs: 20 });
    stores.push(small);
    expect(await small.readModel.whenLoaded('t1')).toBe(false);
    expect(small.readModel.state().overBudget).toContain('t1');
    const head = await small.reader.headSnapToken('t1');
    expect(await small.reader.queryRelationships('t1', { entity: { type: 'document' } }, head)).toEqual(
      await direct.reader.queryRelationships('t1', { entity: { type: 'document' } }, head),
    );
    const state = modelA.readModel.state();
    expect(state.caughtUp).toBe(true);
    expect(state.tenants.find((t) => t.tenantId === 't1')?.rows).toBeGreaterThan(0);
  });
});
