/**
 * Data safety of the PostgreSQL write path and its snap tokens:
 * - a write token names exactly one snapshot: what the writer's snapshot saw plus the write itself, so a
 *   transaction that took its id between the writer's snapshot and the writer's own id never shows up at
 *   the writer's token (not even after it commits);
 * - several writers on overlapping keys: exact final state, tokens strictly increasing in each writer's
 *   order, read-your-writes at every returned token, and reads at every token unchanged at the end.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tuple } from '../../src/data/types.js';
import { createPostgresStore, type PostgresStore } from '../../src/storage/postgres/index.js';
import { compareTokens, decodeToken, visibleAtToken } from '../../src/storage/postgres/snap-token.js';
import { createTestDatabase, stopSharedServer, type TestDatabase } from '../support/postgres.js';

const tuple = (doc: string, relation: string, user: string): Tuple => ({
  entity: { type: 'doc', id: doc },
  relation,
  subject: { type: 'user', id: user, relation: '' },
});

let db: TestDatabase;
let store: PostgresStore;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await createPostgresStore({ uri: db.uri, maxOpenConnections: 8, maxRetries: 100 });
  await store.ready();
});

afterAll(async () => {
  await store?.close();
  await db?.drop();
  await stopSharedServer();
});

async function connect(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: db.uri });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

async function waitForLockWait(observer: pg.Client): Promise<void> {
  for (let i = 0; i < 500; i += 1) {
    const r = await observer.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name = 'permify-ts-writer'",
    );
    if (r.rows[0]!.n !== '0') return;
    await new Promise((res) => setTimeout(res, 10));
  }
  throw new Error('the write never waited for the lock');
}

const docIds = async (token: string): Promise<string[]> =>
  (await store.reader.queryRelationships('gap', { entity: { type: 'doc' } }, token)).map((t) => t.entity.id).sort();

describe('postgres write tokens', () => {
  it('a transaction that took its id between the write snapshot and the write id stays invisible at the write token', async () => {
    await store.writer.write('gap', [{ writeTuples: [tuple('base', 'viewer', 'u')] }]);
    const locker = await connect();
    const other = await connect();
    const observer = await connect();
    try {
      // The write takes its snapshot when its first statement starts, then waits for this lock before its
      // INSERT INTO transactions assigns its id.
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE transactions IN ACCESS EXCLUSIVE MODE');
      const write = store.writer.write('gap', [
        { writeTuples: [tuple('mine', 'viewer', 'u')], deleteTuples: [tuple('base', 'viewer', 'u')] },
      ]);
      await waitForLockWait(observer);
      // Y: takes an id now (after the write's snapshot, before the write's id) and commits only later.
      await other.query('BEGIN');
      const y = await other.query<{ y: string }>(
        "INSERT INTO relation_tuples (tenant_id, entity_type, entity_id, relation, subject_type, subject_id, subject_relation) VALUES ('gap', 'doc', 'theirs', 'viewer', 'user', 'u', '') RETURNING created_tx_id::text AS y",
      );
      await locker.query('COMMIT');
      const token = await write;
      const decoded = decodeToken(token);
      const yId = BigInt(y.rows[0]!.y);
      expect(yId < decoded.xid).toBe(true);
      expect(visibleAtToken(yId, decoded)).toBe(false);
      expect(await docIds(token)).toEqual(['mine']);
      await other.query('COMMIT');
      // Reading at the token later gives the same answer; the head shows Y.
      expect(await docIds(token)).toEqual(['mine']);
      expect(await docIds(await store.reader.headSnapToken('gap'))).toEqual(['mine', 'theirs']);
    } finally {
      await Promise.all([locker.end(), other.end(), observer.end()]);
    }
  });
});

interface DoneWrite {
  readonly writer: number;
  readonly step: number;
  readonly doc: string;
  readonly token: string;
  readonly xid: bigint;
  readonly editor: 'add' | 'remove';
}

/** The state of the shared documents after `writes`, applied in transaction-id order. */
function replay(writes: readonly DoneWrite[]): Map<string, { viewer: string; editor: boolean; owner: number }> {
  const state = new Map<string, { viewer: string; editor: boolean; owner: number }>();
  for (const w of [...writes].sort((a, b) => (a.xid < b.xid ? -1 : 1))) {
    state.set(w.doc, { viewer: `${w.writer}-${w.step}`, editor: w.editor === 'add', owner: w.writer * 1000 + w.step });
  }
  return state;
}

async function readState(tenant: string, token: string) {
  const tuples = await store.reader.queryRelationships(tenant, { entity: { type: 'doc' } }, token);
  const attrs = await store.reader.queryAttributes(tenant, { entity: { type: 'doc' } }, token);
  const state = new Map<string, { viewer: string; editor: boolean; owner: number }>();
  const viewers = new Map<string, string[]>();
  for (const t of tuples) {
    if (t.relation === 'viewer') viewers.set(t.entity.id, [...(viewers.get(t.entity.id) ?? []), t.subject.id]);
  }
  for (const a of attrs) {
    const doc = a.entity.id;
    const v = viewers.get(doc) ?? [];
    state.set(doc, {
      viewer: v.length === 1 ? v[0]! : `?${v.join(',')}`,
      editor: tuples.some((t) => t.entity.id === doc && t.relation === 'editor'),
      owner: a.value.type === 'integer' ? a.value.value : -1,
    });
  }
  return state;
}

describe('postgres data safety', () => {
  it('writers on overlapping keys: exact final state, increasing tokens, read-your-writes, stable reads', async () => {
    const tenant = 'safety';
    const writers = 6;
    const steps = 12;
    const docs = 4;
    const done: DoneWrite[] = [];
    const seenAtReturn = new Map<string, string>();
    let readYourWrites = 0;

    // Writer w, step k, on doc d = (w + k) % docs: sets the single viewer of d to "w-k", sets the owner
    // attribute of d (every write on d updates that one row, so writes on the same doc really conflict and
    // their id order is their serial order), and adds or removes the shared editor tuple of d.
    const writer = async (w: number) => {
      let previous: string | undefined;
      for (let k = 1; k <= steps; k += 1) {
        const doc = `d${(w + k) % docs}`;
        const editor = (w + k) % 3 === 0 ? 'remove' : 'add';
        const token = await store.writer.write(tenant, [
          { deleteTupleFilters: [{ entity: { type: 'doc', ids: [doc] }, relation: 'viewer' }] },
          {
            writeTuples: [
              tuple(doc, 'viewer', `${w}-${k}`),
              ...(editor === 'add' ? [tuple(doc, 'editor', 'shared')] : []),
            ],
            deleteTuples: editor === 'remove' ? [tuple(doc, 'editor', 'shared')] : [],
            writeAttributes: [
              { entity: { type: 'doc', id: doc }, attribute: 'owner', value: { type: 'integer', value: w * 1000 + k } },
            ],
          },
        ]);
        if (previous !== undefined) expect(compareTokens(previous, token)).toBe(-1);
        previous = token;
        const mine = (await readState(tenant, token)).get(doc);
        if (mine?.viewer === `${w}-${k}` && mine.owner === w * 1000 + k && mine.editor === (editor === 'add'))
          readYourWrites += 1;
        seenAtReturn.set(token, JSON.stringify([...(await readState(tenant, token))].sort()));
        done.push({ writer: w, step: k, doc, token, xid: decodeToken(token).xid, editor });
      }
    };
    await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));

    expect(done).toHaveLength(writers * steps);
    expect(readYourWrites).toBe(writers * steps);
    expect(new Set(done.map((d) => d.xid)).size).toBe(done.length);
    for (const d of done) {
      const decoded = decodeToken(d.token);
      const expected = replay(done.filter((o) => visibleAtToken(o.xid, decoded)));
      const now = await readState(tenant, d.token);
      expect([...now].sort(), `token of ${d.writer}-${d.step}`).toEqual([...expected].sort());
      expect(JSON.stringify([...now].sort())).toBe(seenAtReturn.get(d.token));
    }
    const head = await store.reader.headSnapToken(tenant);
    const final = replay(done);
    expect([...(await readState(tenant, head))].sort()).toEqual([...final].sort());

    // The same final state straight from the tables.
    const c = await connect();
    try {
      const live = await c.query<{ entity_id: string; relation: string; subject_id: string }>(
        "SELECT entity_id, relation, subject_id FROM relation_tuples WHERE tenant_id = $1 AND expired_tx_id = '9223372036854775807' ORDER BY entity_id, relation",
        [tenant],
      );
      const expectedRows = [...final]
        .sort()
        .flatMap(([doc, s]) => [
          ...(s.editor ? [{ entity_id: doc, relation: 'editor', subject_id: 'shared' }] : []),
          { entity_id: doc, relation: 'viewer', subject_id: s.viewer },
        ]);
      expect(live.rows).toEqual(expectedRows);
    } finally {
      await c.end();
    }
  });
});
