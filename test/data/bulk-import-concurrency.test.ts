/**
 * permifyts.v1.Data/Import with `service.data.import_concurrency` above 1 (issue 15): several batches of one
 * stream in flight, answered in stream order with prefix counts; a client that waits for each answer before
 * sending more is answered (no deadlock); batches that carry attributes keep their order (the last value
 * sent wins); rows are numbered in stream order (an export repeats the import's order); a failing batch ends
 * the stream after the answers of the batches before it.
 */
import { create } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as pb from '../../src/api/gen/permifyts/v1/data_pb.js';
import { attributeToProto, tupleToProto } from '../../src/api/convert/data.js';
import { createDataClient, RpcError, type DataClient } from '../../src/cli/data/client.js';
import { tupleToString } from '../../src/data/notation.js';
import type { Tuple } from '../../src/data/types.js';
import type { RunningServer } from '../../src/server.js';
import { request, startTestServer } from '../e2e/rest-support.js';
import { createTestDatabase, stopSharedServer, type TestDatabase } from '../support/postgres.js';

const schema = `
entity user {}
entity document {
  relation viewer @user
  attribute level integer
}`;

const tuple = (doc: number, user: number): Tuple => ({
  entity: { type: 'document', id: `d${doc}` },
  relation: 'viewer',
  subject: { type: 'user', id: `u${user}`, relation: '' },
});
const tupleItem = (t: Tuple) => create(pb.DataItemSchema, { item: { case: 'tuple', value: tupleToProto(t) } });
const levelItem = (doc: number, level: number) =>
  create(pb.DataItemSchema, {
    item: {
      case: 'attribute',
      value: attributeToProto({ entity: { type: 'document', id: `d${doc}` }, attribute: 'level', value: { type: 'integer', value: level } }),
    },
  });

describe.each(['memory', 'postgres'] as const)('Import with 3 batches in flight (%s)', (engine) => {
  let server: RunningServer;
  let db: TestDatabase | undefined;
  let client: DataClient;
  let counter = 0;

  async function tenant(): Promise<string> {
    counter += 1;
    const id = `conc-${counter}`;
    const port = server.ports.http as number;
    expect((await request(port, 'POST', '/v1/tenants/create', { id, name: id })).status).toBe(200);
    expect((await request(port, 'POST', `/v1/tenants/${id}/schemas/write`, { schema })).status).toBe(200);
    return id;
  }

  async function liveTuples(tenantId: string): Promise<string[]> {
    const out: string[] = [];
    const snap = await server.store.reader.headSnapToken(tenantId);
    let token = '';
    do {
      const page = await server.store.reader.readRelationships(tenantId, {}, snap, { size: 1000, token });
      for (const t of page.items) out.push(tupleToString(t));
      token = page.continuousToken;
    } while (token !== '');
    return out.sort();
  }

  beforeAll(async () => {
    if (engine === 'postgres') db = await createTestDatabase();
    server = await startTestServer({
      'database.engine': engine,
      'service.data.import_concurrency': 3,
      ...(db ? { 'database.uri': db.uri, 'database.max_open_connections': 8 } : {}),
    });
    client = createDataClient({ address: `127.0.0.1:${server.ports.grpc}` });
  });

  afterAll(async () => {
    client?.close();
    await server?.close();
    await db?.drop();
    if (engine === 'postgres') await stopSharedServer();
  });

  it('answers every batch in order with prefix counts; the data is all there; the last attribute value wins', async () => {
    const tenantId = await tenant();
    const call = client.import();
    const expected = new Set<string>();
    const sizes: number[] = [];
    for (let b = 0; b < 12; b += 1) {
      const items: pb.DataItem[] = [];
      // Overlapping tuples between batches (a tuple sent twice is one live tuple).
      for (let i = 0; i < 300; i += 1) {
        const t = tuple((b * 250 + i) % 2000, i % 17);
        expected.add(tupleToString(t));
        items.push(tupleItem(t));
      }
      // Every third batch sets document d1's level: the value of the last one (b = 9) must win.
      if (b % 3 === 0) items.push(levelItem(1, b));
      sizes.push(items.length);
      await call.send(create(pb.DataImportRequestSchema, { tenantId: b === 0 ? tenantId : '', items }));
    }
    call.end();
    const answers: pb.DataImportResponse[] = [];
    for await (const r of call.responses) answers.push(r);
    expect(answers.map((a) => Number(a.batches))).toEqual(sizes.map((_, i) => i + 1));
    let sum = 0;
    expect(answers.map((a) => Number(a.applied))).toEqual(sizes.map((n) => (sum += n)));
    expect(await liveTuples(tenantId)).toEqual([...expected].sort());
    const snap = await server.store.reader.headSnapToken(tenantId);
    const attrs = await server.store.reader.readAttributes(tenantId, { entity: { type: 'document', ids: ['d1'] } }, snap, {
      size: 10,
      token: '',
    });
    expect(attrs.items.map((a) => a.value)).toEqual([{ type: 'integer', value: 9 }]);
  });

  it('numbers rows in stream order: an export lists the tuples as they were imported', async () => {
    const tenantId = await tenant();
    const call = client.import();
    const order: string[] = [];
    for (let b = 0; b < 8; b += 1) {
      const items: pb.DataItem[] = [];
      for (let i = 0; i < 1500; i += 1) {
        const t = tuple(10_000 + b * 1500 + i, i % 7);
        order.push(tupleToString(t));
        items.push(tupleItem(t));
      }
      // Batches 2 and 3 also carry an attribute: 3 waits for 2 to commit, and the batches after it must not
      // overtake it.
      if (b === 2 || b === 3) items.push(levelItem(1, b));
      await call.send(create(pb.DataImportRequestSchema, { tenantId: b === 0 ? tenantId : '', items }));
    }
    call.end();
    const answers: number[] = [];
    for await (const r of call.responses) answers.push(Number(r.batches));
    expect(answers).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const exported: string[] = [];
    const snap = await server.store.reader.headSnapToken(tenantId);
    let cursor = '';
    do {
      const page = await server.store.bulk.exportPage(tenantId, snap, cursor, 5000);
      for (const t of page.tuples) exported.push(tupleToString(t));
      cursor = page.cursor;
    } while (cursor !== '');
    expect(exported).toEqual(order);
  });

  it('answers a client that sends the next batch only after the answer to the previous one', async () => {
    const tenantId = await tenant();
    const call = client.import();
    const it = call.responses[Symbol.asyncIterator]();
    for (let b = 0; b < 5; b += 1) {
      await call.send(
        create(pb.DataImportRequestSchema, { tenantId: b === 0 ? tenantId : '', items: [tupleItem(tuple(b, b))] }),
      );
      const r = await it.next();
      expect(r.done).toBe(false);
      expect(Number((r.value as pb.DataImportResponse).batches)).toBe(b + 1);
    }
    call.end();
    expect((await it.next()).done).toBe(true);
    expect(await liveTuples(tenantId)).toHaveLength(5);
  });

  it('a batch with an invalid item ends the stream after the answers of the batches before it', async () => {
    const tenantId = await tenant();
    const call = client.import();
    for (let b = 0; b < 6; b += 1) {
      const items = [tupleItem(tuple(100 + b, b))];
      if (b === 4) items.push(tupleItem({ ...tuple(1, 1), relation: 'owner' }));
      await call.send(create(pb.DataImportRequestSchema, { tenantId: b === 0 ? tenantId : '', items }));
    }
    call.end();
    const answers: number[] = [];
    const failure = await (async () => {
      try {
        for await (const r of call.responses) answers.push(Number(r.batches));
        return undefined;
      } catch (e) {
        return e;
      }
    })();
    expect(failure).toBeInstanceOf(RpcError);
    expect((failure as RpcError).message).toMatch(/item 1/);
    expect(answers).toEqual([1, 2, 3, 4]);
    // Batches 0-3 committed; nothing after the failing batch was applied.
    const live = await liveTuples(tenantId);
    expect(live).toEqual(expect.arrayContaining([0, 1, 2, 3].map((b) => tupleToString(tuple(100 + b, b)))));
    expect(live).not.toContain(tupleToString(tuple(105, 5)));
  });
});
