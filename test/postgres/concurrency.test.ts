/**
 * Concurrency: many writers contending on shared attributes plus readers, all in parallel. Afterwards the
 * state at every returned snap token must equal the serial replay of exactly the writes that token sees
 * (writes are replayed in transaction-id order, which for conflicting writes is their commit order because
 * a loser of a SERIALIZABLE conflict retries with a new id), and the head must equal the full replay.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tuple } from '../../src/data/types.js';
import { createPostgresStore, type PostgresStore } from '../../src/storage/postgres/index.js';
import { decodeToken, visibleInSnapshot } from '../../src/storage/postgres/snap-token.js';
import { createTestDatabase, stopSharedServer, type TestDatabase } from '../support/postgres.js';

const tuple = (doc: string, user: string): Tuple => ({
  entity: { type: 'doc', id: doc },
  relation: 'viewer',
  subject: { type: 'user', id: user, relation: '' },
});

let db: TestDatabase;
let store: PostgresStore;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await createPostgresStore({ uri: db.uri, maxOpenConnections: 10, maxRetries: 50 });
  await store.ready();
});

afterAll(async () => {
  await store?.close();
  await db?.drop();
  await stopSharedServer();
});

interface DoneWrite {
  readonly writer: number;
  readonly step: number;
  readonly token: string;
  readonly xid: bigint;
}

describe('postgres concurrency', () => {
  it('parallel writers and readers: every token reads the serial state of the writes it sees', async () => {
    const tenant = 'conc';
    const writers = 8;
    const steps = 12;
    const shared = { type: 'counter', id: 'c' };
    const done: DoneWrite[] = [];
    const readerErrors: string[] = [];
    let writing = true;

    // Writer w, step k: adds doc:w-k, removes doc:w-(k-1), and overwrites the shared attribute with w*100+k
    // (every writer contends on that one row).
    const writer = async (w: number) => {
      for (let k = 1; k <= steps; k += 1) {
        const token = await store.writer.write(tenant, [
          {
            writeTuples: [tuple(`${w}-${k}`, `u${w}`)],
            deleteTuples: k > 1 ? [tuple(`${w}-${k - 1}`, `u${w}`)] : [],
            writeAttributes: [{ entity: shared, attribute: 'v', value: { type: 'integer', value: w * 100 + k } }],
          },
        ]);
        done.push({ writer: w, step: k, token, xid: decodeToken(token).xid });
      }
    };
    // Readers: at head, each writer has at most one document.
    const reader = async () => {
      while (writing) {
        const head = await store.reader.headSnapToken(tenant);
        const rows = await store.reader.queryRelationships(tenant, { entity: { type: 'doc' } }, head);
        const perWriter = new Map<string, number>();
        for (const r of rows) perWriter.set(r.subject.id, (perWriter.get(r.subject.id) ?? 0) + 1);
        for (const [w, n] of perWriter) if (n > 1) readerErrors.push(`${w} has ${n} documents at ${head}`);
        // The head token and a repeated read may both be cache hits (no I/O): let the writers run.
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const readers = Array.from({ length: 3 }, reader);
    await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
    writing = false;
    await Promise.all(readers);
    expect(readerErrors).toEqual([]);
    expect(done).toHaveLength(writers * steps);
    expect(new Set(done.map((d) => d.xid)).size).toBe(done.length);

    const expectedAt = (visible: DoneWrite[]) => {
      const docs: string[] = [];
      for (let w = 0; w < writers; w += 1) {
        const mine = visible.filter((d) => d.writer === w);
        const last = Math.max(0, ...mine.map((d) => d.step));
        if (last > 0) docs.push(`${w}-${last}`);
        // a writer's writes are sequential, so it sees a prefix of its own program
        expect(mine.map((d) => d.step).sort((a, b) => a - b)).toEqual(Array.from({ length: last }, (_, i) => i + 1));
      }
      const newest = [...visible].sort((a, b) => (a.xid < b.xid ? -1 : 1)).pop();
      return { docs: docs.sort(), value: newest ? newest.writer * 100 + newest.step : undefined };
    };

    for (const d of done) {
      const snap = decodeToken(d.token).snapshot!;
      const visible = done.filter((o) => o.xid === d.xid || (visibleInSnapshot(o.xid, snap) && o.xid !== d.xid));
      const exp = expectedAt(visible);
      const rows = await store.reader.queryRelationships(tenant, { entity: { type: 'doc' } }, d.token);
      expect(rows.map((r) => r.entity.id).sort()).toEqual(exp.docs);
      const attr = await store.reader.querySingleAttribute(tenant, shared, 'v', d.token);
      expect(attr?.value).toEqual({ type: 'integer', value: exp.value });
    }

    const head = await store.reader.headSnapToken(tenant);
    const final = expectedAt(done);
    expect(final.docs).toEqual(Array.from({ length: writers }, (_, w) => `${w}-${steps}`).sort());
    const rows = await store.reader.queryRelationships(tenant, { entity: { type: 'doc' } }, head);
    expect(rows.map((r) => r.entity.id).sort()).toEqual(final.docs);
    expect((await store.reader.querySingleAttribute(tenant, shared, 'v', head))?.value).toEqual({
      type: 'integer',
      value: final.value,
    });
  });

  it('a serialization conflict is retried; beyond maxRetries it is ERROR_CODE_ERROR_MAX_RETRIES', async () => {
    const e = { type: 'counter', id: 'hot' };
    const attempt = async (maxRetries: number, value: number) => {
      const s = await createPostgresStore({ uri: db.uri, maxOpenConnections: 2, maxRetries });
      const admin = new pg.Client({ connectionString: db.uri });
      await admin.connect();
      // pg_stat_activity is snapshotted once per transaction, so the lock wait is observed from outside it.
      const observer = new pg.Client({ connectionString: db.uri });
      await observer.connect();
      try {
        await s.ready();
        // Another transaction updates the live attribute row and holds its lock ...
        await admin.query('BEGIN');
        const locked = await admin.query(
          "UPDATE attributes SET value = value WHERE tenant_id = 'hot' AND expired_tx_id = '9223372036854775807'",
        );
        expect(locked.rowCount).toBe(1);
        const write = s.writer
          .write('hot', [{ writeAttributes: [{ entity: e, attribute: 'v', value: { type: 'integer', value } }] }])
          .then(
            (token) => ({ token }),
            (error: unknown) => ({ error }),
          );
        // ... until our write is blocked on it; committing then makes our write a serialization failure.
        for (;;) {
          const r = await observer.query<{ n: string }>(
            "SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name = 'permify-ts-writer'",
          );
          if (r.rows[0]!.n !== '0') break;
          await new Promise((res) => setTimeout(res, 20));
        }
        await admin.query('COMMIT');
        return await write;
      } finally {
        await admin.end();
        await observer.end();
        await s.close();
      }
    };
    await store.writer.write('hot', [
      { writeAttributes: [{ entity: e, attribute: 'v', value: { type: 'integer', value: 0 } }] },
    ]);
    const failed = await attempt(0, 1);
    expect('error' in failed && failed.error).toMatchObject({ code: 'ERROR_CODE_ERROR_MAX_RETRIES' });
    const retried = await attempt(1, 2);
    expect('token' in retried).toBe(true);
    const head = await store.reader.headSnapToken('hot');
    expect(await store.reader.queryAttributes('hot', {}, head)).toEqual([
      { entity: e, attribute: 'v', value: { type: 'integer', value: 2 } },
    ]);
  });
});
