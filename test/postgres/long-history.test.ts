/**
 * Long history: transaction ids cross powers of ten (9,999 -> 10,000 and 99,999 -> 100,000). A throwaway
 * server is used so the id counter can be pushed just below each boundary cheaply (committed
 * subtransactions in one DO block each take an id, ~200 000 ids a second). After every write the head
 * read must show exactly the live rows of the tables (new grants and revocations visible without a token),
 * and Watch must have delivered every change set once, in order (also when resumed from a token before a
 * boundary).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tuple } from '../../src/data/types.js';
import type { DataChanges } from '../../src/storage/contract.js';
import { createPostgresStore, repairTransactionIds, type PostgresStore } from '../../src/storage/postgres/index.js';
import { decodeToken, legacyToken } from '../../src/storage/postgres/snap-token.js';
import {
  createTestDatabase,
  startEmbeddedPostgres,
  type EmbeddedServer,
  type TestDatabase,
} from '../support/postgres.js';

const tenant = 'long';
const grant = (doc: string): Tuple => ({
  entity: { type: 'doc', id: doc },
  relation: 'viewer',
  subject: { type: 'user', id: 'u', relation: '' },
});

let server: EmbeddedServer;
let db: TestDatabase;
let store: PostgresStore;
let admin: pg.Client;

beforeAll(async () => {
  server = await startEmbeddedPostgres();
  db = await createTestDatabase(server.uri);
  store = await createPostgresStore({ uri: db.uri, maxOpenConnections: 4, watchBufferSize: 4 });
  await store.ready();
  admin = new pg.Client({ connectionString: db.uri });
  await admin.connect();
  await admin.query('CREATE TABLE burn (n int)');
}, 60_000);

afterAll(async () => {
  await admin?.end();
  await store?.close();
  await server?.destroy();
});

/** Advances the cluster's transaction-id counter so that the next id is about `next`. */
async function burnTo(next: bigint): Promise<void> {
  const r = await admin.query<{ x: string }>('SELECT pg_current_xact_id()::text AS x');
  const n = next - BigInt(r.rows[0]!.x) - 2n; // the DO block's own transaction takes one id too
  if (n <= 0n) return;
  await admin.query(
    `DO $$ BEGIN FOR i IN 1..${n} LOOP BEGIN INSERT INTO burn VALUES (i); EXCEPTION WHEN others THEN NULL; END; END LOOP; END $$`,
  );
  await admin.query('TRUNCATE burn');
}

async function liveDocs(): Promise<string[]> {
  const r = await admin.query<{ entity_id: string }>(
    "SELECT entity_id FROM relation_tuples WHERE tenant_id = $1 AND expired_tx_id = '9223372036854775807'",
    [tenant],
  );
  return r.rows.map((row) => row.entity_id).sort();
}

interface Written {
  readonly xid: bigint;
  readonly changes: string[];
}

const changeKeys = (m: DataChanges): string[] =>
  m.changes.map((c) => `${c.operation}:${c.tuple?.entity.id ?? c.attribute?.entity.id ?? '?'}`).sort();

describe('postgres long history', () => {
  it('head reads and Watch stay exact while transaction ids cross 10,000 and 100,000', async () => {
    const first = await store.writer.write(tenant, [{ writeTuples: [grant('start')] }]);
    const expected = new Set<string>(['start']);
    const written: Written[] = [];

    const ac = new AbortController();
    const received: DataChanges[] = [];
    const watching = (async () => {
      for await (const m of store.watcher.watch(tenant, first, ac.signal)) received.push(m);
    })();
    let resumeFrom: string | undefined;
    try {
      for (const boundary of [10_000n, 100_000n]) {
        await burnTo(boundary - 6n);
        for (let i = 0; i < 12; i += 1) {
          const doc = `${boundary}-${i}`;
          // Every third write revokes the previous grant instead of granting a new one.
          const revoke = i % 3 === 2 ? `${boundary}-${i - 1}` : undefined;
          const token = await store.writer.write(
            tenant,
            revoke !== undefined ? [{ deleteTuples: [grant(revoke)] }] : [{ writeTuples: [grant(doc)] }],
          );
          if (revoke !== undefined) expected.delete(revoke);
          else expected.add(doc);
          const xid = decodeToken(token).xid;
          written.push({ xid, changes: [revoke !== undefined ? `delete:${revoke}` : `create:${doc}`] });
          if (boundary === 100_000n && i === 0) resumeFrom = token;

          const head = await store.reader.headSnapToken(tenant);
          expect(decodeToken(head).xid, `head after ${doc} (xid ${xid})`).toBe(xid);
          const docs = (await store.reader.queryRelationships(tenant, { entity: { type: 'doc' } }, head))
            .map((t) => t.entity.id)
            .sort();
          expect(docs, `head read after ${doc} (xid ${xid})`).toEqual([...expected].sort());
          expect(docs).toEqual(await liveDocs());
          // Watch has delivered exactly the change sets written so far, in order.
          const deadline = Date.now() + 10_000;
          while (received.length < written.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
          expect(
            received.map((m) => m.snapToken),
            `watch after ${doc} (xid ${xid})`,
          ).toEqual(written.map((w) => legacyToken(w.xid)));
        }
        expect(written[written.length - 1]!.xid >= boundary).toBe(true);
        expect(written[written.length - 12]!.xid < boundary).toBe(true);
      }
      const deadline = Date.now() + 15_000;
      while (received.length < written.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    } finally {
      ac.abort();
      await watching;
    }
    expect(received.map((m) => m.snapToken)).toEqual(written.map((w) => legacyToken(w.xid)));
    expect(received.map(changeKeys)).toEqual(written.map((w) => w.changes));

    // Resumed from the token of the write just before 100,000: every later change set, in order.
    const resumed: DataChanges[] = [];
    const rc = new AbortController();
    const timer = setTimeout(() => rc.abort(), 15_000);
    try {
      for await (const m of store.watcher.watch(tenant, resumeFrom!, rc.signal)) {
        resumed.push(m);
        if (resumed.length >= 11) break;
      }
    } finally {
      clearTimeout(timer);
      rc.abort();
    }
    expect(resumed.map((m) => m.snapToken)).toEqual(written.slice(-11).map((w) => legacyToken(w.xid)));

    // `permify repair datastore` finds the largest recorded id by number, not by its text.
    const repair = await repairTransactionIds(db.uri, { dryRun: true });
    expect(repair.maxReferenced).toBe(written[written.length - 1]!.xid);
  }, 60_000);
});
