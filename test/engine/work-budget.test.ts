/**
 * Per-request work budgets (issue 8, item 8; STYLE habit 20): one read-concurrency bound per request that
 * every fan-out draws from (nesting cannot multiply it, Expand and LookupSubject included), a named maximum
 * page size, lookup candidate sets kept for continuation pages, and large requests that leave the event loop
 * responsive.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import { createHandlers } from '../../src/api/handlers/index.js';
import * as s from '../../src/api/gen/base/v1/service_pb.js';
import { parseEntity, parseSubject, parseTuple } from '../../src/data/notation.js';
import { createEngine, type EngineOptions } from '../../src/engine/index.js';
import type { DataReader, Store } from '../../src/storage/contract.js';
import { createMemoryStore } from '../../src/storage/memory/index.js';
import { request, startTestServer } from '../e2e/rest-support.js';

const TENANT = 't1';
const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** `reader` with each relationship read delayed a little, counting reads in flight and reverse reads. */
function countingReader(reader: DataReader): {
  reader: DataReader;
  maxInFlight: () => number;
  candidateReads: () => number;
  /** Every relationship read (forward and reverse). */
  reads: () => number;
  reset(): void;
} {
  let inFlight = 0;
  let max = 0;
  let reverse = 0;
  let all = 0;
  const wrapped: DataReader = {
    headSnapToken: (t, s) => reader.headSnapToken(t, s),
    async queryRelationships(t, filter, snap, options) {
      all++;
      // Candidate search reads from the subject side without naming entities; checks always name theirs.
      if ((filter.entity?.ids ?? []).length === 0) reverse++;
      inFlight++;
      max = Math.max(max, inFlight);
      try {
        await new Promise((r) => setTimeout(r, 1));
        return await reader.queryRelationships(t, filter, snap, options);
      } finally {
        inFlight--;
      }
    },
    readRelationships: (t, f, snap, page, s) => reader.readRelationships(t, f, snap, page, s),
    querySingleAttribute: (t, e, a, snap, s) => reader.querySingleAttribute(t, e, a, snap, s),
    queryAttributes: (t, f, snap, o) => reader.queryAttributes(t, f, snap, o),
    readAttributes: (t, f, snap, page, s) => reader.readAttributes(t, f, snap, page, s),
    queryUniqueSubjectIds: (t, st, sr, snap, s) => reader.queryUniqueSubjectIds(t, st, sr, snap, s),
  };
  return {
    reader: wrapped,
    maxInFlight: () => max,
    candidateReads: () => reverse,
    reads: () => all,
    reset() {
      max = 0;
      reverse = 0;
      all = 0;
    },
  };
}

async function setup(
  schema: string,
  tuples: readonly string[],
  options: Partial<EngineOptions> = {},
): Promise<{ store: Store; counted: ReturnType<typeof countingReader>; engine: ReturnType<typeof createEngine> }> {
  const store = createMemoryStore();
  await store.schemas.writeSchema(TENANT, [{ name: 'schema', definition: schema }]);
  for (let i = 0; i < tuples.length; i += 5000) {
    await store.writer.write(TENANT, [{ writeTuples: tuples.slice(i, i + 5000).map(parseTuple) }]);
  }
  const counted = countingReader(store.reader);
  const engine = createEngine({ reader: counted.reader, schemas: store.schemas, checkCacheSize: 0, ...options });
  return { store, counted, engine };
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('one read-concurrency budget per request', () => {
  it('Expand over 300 usersets keeps at most `concurrency` reads in flight', async () => {
    const schema = `entity user {}
entity group { relation member @user @group#member }
entity doc { relation viewer @user @group#member }`;
    const f = await setup(
      schema,
      range(300).map((i) => `doc:1#viewer@group:g${i}#member`),
      { concurrency: 8 },
    );
    await f.engine.expand({
      tenantId: TENANT,
      metadata: {},
      entity: parseEntity('doc:1'),
      permission: 'viewer',
    });
    expect(f.counted.maxInFlight()).toBeGreaterThan(1);
    expect(f.counted.maxInFlight()).toBeLessThanOrEqual(8);
  });

  it('LookupSubject through 300 parents keeps at most `concurrency` reads in flight', async () => {
    const schema = `entity user {}
entity folder { relation viewer @user
  permission view = viewer }
entity doc { relation parent @folder
  permission view = parent.view }`;
    const f = await setup(
      schema,
      [
        ...range(300).map((i) => `doc:1#parent@folder:f${i}`),
        ...range(300).map((i) => `folder:f${i}#viewer@user:u${i}`),
      ],
      { concurrency: 8 },
    );
    const r = await f.engine.lookupSubject({
      tenantId: TENANT,
      metadata: { depth: 20 },
      entity: parseEntity('doc:1'),
      permission: 'view',
      subjectReference: { type: 'user', relation: '' },
    });
    expect(r.subjectIds).toHaveLength(300);
    expect(f.counted.maxInFlight()).toBeLessThanOrEqual(8);
  });

  it('nested Check combinations share the bound instead of multiplying it', async () => {
    const schema = `entity user {}
entity org { relation viewer @user
  permission view = viewer }
entity folder { relation parent @org
  permission view = parent.view }
entity doc { relation parent @folder
  permission view = parent.view }`;
    const tuples = [
      ...range(20).map((i) => `doc:1#parent@folder:f${i}`),
      ...range(20).flatMap((i) => range(20).map((j) => `folder:f${i}#parent@org:o${i}_${j}`)),
    ];
    const f = await setup(schema, tuples, { concurrency: 8 });
    const r = await f.engine.check({
      tenantId: TENANT,
      metadata: { depth: 20 },
      entity: parseEntity('doc:1'),
      permission: 'view',
      subject: parseSubject('user:nobody'),
    });
    expect(r.can).toBe('denied');
    expect(f.counted.maxInFlight()).toBeLessThanOrEqual(8);
  });
});

describe('page size limit', () => {
  it('a LookupEntity or LookupSubject page size above maxPageSize is rejected, naming the limit', async () => {
    const f = await setup('entity user {}\nentity doc { relation viewer @user }', ['doc:1#viewer@user:u'], {
      maxPageSize: 5,
    });
    const lookupEntity = (pageSize: number) =>
      f.engine.lookupEntity({
        tenantId: TENANT,
        metadata: { depth: 20 },
        entityType: 'doc',
        permission: 'viewer',
        subject: parseSubject('user:u'),
        pageSize,
      });
    expect((await lookupEntity(5)).entityIds).toEqual(['1']);
    await expect(lookupEntity(6)).rejects.toMatchObject({
      code: 'ERROR_CODE_VALIDATION',
      message: 'page size 6 exceeds the limit service.permission.max_page_size=5',
    });
    await expect(
      f.engine.lookupSubject({
        tenantId: TENANT,
        metadata: { depth: 20 },
        entity: parseEntity('doc:1'),
        permission: 'viewer',
        subjectReference: { type: 'user', relation: '' },
        pageSize: 6,
      }),
    ).rejects.toMatchObject({ code: 'ERROR_CODE_VALIDATION', message: /service\.permission\.max_page_size=5/ });
    // The default maximum still admits the wire default (0 = 1000) and the engine's default page size.
    const g = await setup('entity user {}\nentity doc { relation viewer @user }', ['doc:1#viewer@user:u']);
    const page = (pageSize: number) =>
      g.engine.lookupEntity({
        tenantId: TENANT,
        metadata: { depth: 20 },
        entityType: 'doc',
        permission: 'viewer',
        subject: parseSubject('user:u'),
        pageSize,
      });
    expect((await page(0)).entityIds).toEqual(['1']);
    expect((await page(10_000)).entityIds).toEqual(['1']);
    await expect(page(10_001)).rejects.toMatchObject({ code: 'ERROR_CODE_VALIDATION' });
  });
});

/** Reads the first page, runs `afterFirst`, then reads every continuation page; returns all ids in order. */
async function firstThenRest(
  read: (token: string) => Promise<{ ids: readonly string[]; token: string }>,
  afterFirst: () => void,
): Promise<string[]> {
  let r = await read('');
  const all = [...r.ids];
  afterFirst();
  while (r.token !== '') {
    r = await read(r.token);
    all.push(...r.ids);
  }
  return all;
}

function expectAllDistinctSorted(ids: readonly string[], n: number): void {
  expect(ids).toHaveLength(n);
  expect(new Set(ids).size).toBe(n);
  expect(ids).toEqual([...ids].sort());
}

describe('lookup candidate sets are kept for continuation pages', () => {
  it('continuation pages do not recompute the candidate set', async () => {
    const schema = `entity user {}
entity group { relation member @user }
entity doc { relation viewer @group#member
  permission view = viewer }`;
    const f = await setup(schema, [
      'group:g#member@user:u',
      ...range(2000).map((i) => `doc:${i}#viewer@group:g#member`),
    ]);
    const page = (continuousToken: string) =>
      f.engine.lookupEntity({
        tenantId: TENANT,
        metadata: { depth: 20 },
        entityType: 'doc',
        permission: 'view',
        subject: parseSubject('user:u'),
        pageSize: 500,
        continuousToken,
      });
    const all = await firstThenRest(
      async (token) => {
        const r = await page(token);
        return { ids: r.entityIds, token: r.continuousToken };
      },
      () => {
        expect(f.counted.candidateReads()).toBeGreaterThan(0);
        f.counted.reset();
      },
    );
    expect(f.counted.candidateReads()).toBe(0);
    expectAllDistinctSorted(all, 2000);
  });

  it('LookupSubject continuation pages do not recompute the answer', async () => {
    const schema = `entity user {}
entity group { relation member @user }
entity doc { relation viewer @group#member @user
  permission view = viewer }`;
    const f = await setup(schema, [
      ...range(1500).map((i) => `group:g#member@user:m${i}`),
      ...range(500).map((i) => `doc:1#viewer@user:d${i}`),
      'doc:1#viewer@group:g#member',
    ]);
    const page = (continuousToken: string) =>
      f.engine.lookupSubject({
        tenantId: TENANT,
        metadata: { depth: 20 },
        entity: { type: 'doc', id: '1' },
        permission: 'view',
        subjectReference: { type: 'user', relation: '' },
        pageSize: 300,
        continuousToken,
      });
    const all = await firstThenRest(
      async (token) => {
        const r = await page(token);
        return { ids: r.subjectIds, token: r.continuousToken };
      },
      () => {
        expect(f.counted.reads()).toBeGreaterThan(0);
        f.counted.reset();
      },
    );
    expect(f.counted.reads()).toBe(0);
    expectAllDistinctSorted(all, 2000);
  });
});

/**
 * Runs `work` while sampling the event-loop delay; returns its result, the elapsed and the longest stall (ms),
 * and how many times a 5 ms timer got to run meanwhile. A request that never yields stalls the loop for about
 * its whole duration and lets no timer run, so the bounds are relative to the elapsed time (robust on a loaded
 * machine, where both stretch and the process is sometimes not scheduled at all) with a floor for short runs.
 */
async function measureStalls<T>(
  work: () => Promise<T>,
): Promise<{ result: T; elapsedMs: number; maxStallMs: number; ticks: number }> {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  // The histogram samples from its first timer tick on: let it start before the work does.
  await new Promise((r) => setTimeout(r, 20));
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 5);
  const started = performance.now();
  const result = await work();
  const elapsedMs = performance.now() - started;
  clearInterval(ticker);
  // One more turn so that a stall at the very end is sampled.
  await new Promise((r) => setTimeout(r, 10));
  h.disable();
  return { result, elapsedMs, maxStallMs: h.max / 1e6, ticks };
}

const stallBound = (elapsedMs: number): number => Math.max(200, elapsedMs * 0.6);

function letters(i: number): string {
  let out = '';
  do {
    out += String.fromCharCode(97 + (i % 26));
    i = Math.floor(i / 26);
  } while (i > 0);
  return out;
}

describe('large requests leave the event loop responsive', () => {
  it('two 50k-candidate lookups with 10k pages never hold the event loop for long', async () => {
    const schema = `entity user {}
entity group { relation member @user }
entity doc { relation viewer @group#member
  relation owner @user
  permission view = viewer or owner }`;
    const n = 50_000;
    const store = createMemoryStore();
    await store.schemas.writeSchema(TENANT, [{ name: 'schema', definition: schema }]);
    const tuples = range(n).map((i) => ({
      entity: { type: 'doc', id: String(i) },
      relation: 'viewer',
      subject: { type: 'group', id: 'g', relation: 'member' },
    }));
    tuples.push({
      entity: { type: 'group', id: 'g' },
      relation: 'member',
      subject: { type: 'user', id: 'u', relation: '' },
    });
    for (let i = 0; i < tuples.length; i += 25_000) {
      await store.writer.write(TENANT, [{ writeTuples: tuples.slice(i, i + 25_000) }]);
    }
    const engine = createEngine({ reader: store.reader, schemas: store.schemas, checkCacheSize: 0 });
    const lookup = () =>
      engine.lookupEntity({
        tenantId: TENANT,
        metadata: { depth: 20 },
        entityType: 'doc',
        permission: 'view',
        subject: parseSubject('user:u'),
        pageSize: 10_000,
      });
    await lookup(); // warm-up: schema compiled, code optimised
    const m = await measureStalls(() => Promise.all([lookup(), lookup()]));
    console.info(
      `lookup x2 (${n} candidates, page 10000): ${m.elapsedMs.toFixed(0)} ms, longest event-loop stall ${m.maxStallMs.toFixed(0)} ms, ${m.ticks} timer turns`,
    );
    for (const r of m.result) expect(r.entityIds).toHaveLength(10_000);
    expect(m.maxStallMs).toBeLessThan(stallBound(m.elapsedMs));
    expect(m.ticks).toBeGreaterThanOrEqual(5);
  });

  it('/healthz keeps answering while four large lookups run (real server)', async () => {
    const server = await startTestServer({ 'service.permission.cache.number_of_counters': 0 });
    try {
      const schema = `entity user {}
entity group { relation member @user }
entity doc { relation viewer @group#member }`;
      await server.store.schemas.writeSchema(TENANT, [{ name: 'schema', definition: schema }]);
      const n = 30_000;
      const tuples = range(n).map((i) => ({
        entity: { type: 'doc', id: String(i) },
        relation: 'viewer',
        subject: { type: 'group', id: 'g', relation: 'member' },
      }));
      tuples.push({
        entity: { type: 'group', id: 'g' },
        relation: 'member',
        subject: { type: 'user', id: 'u', relation: '' },
      });
      await server.store.writer.write(TENANT, [{ writeTuples: tuples }]);
      const port = server.ports.http as number;
      const lookup = () =>
        server.handlers['base.v1.Permission'].LookupEntity(
          create(s.PermissionLookupEntityRequestSchema, {
            tenantId: TENANT,
            metadata: { depth: 20 },
            entityType: 'doc',
            permission: 'viewer',
            subject: { type: 'user', id: 'u', relation: '' },
            pageSize: 10_000,
          }),
          { signal: new AbortController().signal, requestId: 'r1', logger: silent },
        );
      await lookup();
      let running = true;
      const started = performance.now();
      const work = Promise.all([lookup(), lookup(), lookup(), lookup()]).finally(() => (running = false));
      let slowestMs = 0;
      let probes = 0;
      while (running) {
        const t = performance.now();
        expect((await request(port, 'GET', '/healthz')).status).toBe(200);
        slowestMs = Math.max(slowestMs, performance.now() - t);
        probes++;
      }
      const results = await work;
      const elapsedMs = performance.now() - started;
      console.info(
        `4 lookups (${n} candidates, page 10000): ${elapsedMs.toFixed(0)} ms; ${probes} /healthz probes, slowest ${slowestMs.toFixed(0)} ms`,
      );
      for (const r of results) expect(r.entityIds).toHaveLength(10_000);
      expect(probes).toBeGreaterThan(1);
      expect(slowestMs).toBeLessThan(stallBound(elapsedMs));
    } finally {
      await server.close();
    }
  });

  it('a 10k-entity Schema/Write compiles off the event loop', async () => {
    const store = createMemoryStore();
    const engine = createEngine({ reader: store.reader, schemas: store.schemas });
    const h = createHandlers({ engine, store, limits: { maxDataPerWrite: 100 } });
    let text = 'entity user {}\n';
    for (let i = 0; i < 10_000; i++) text += `entity e_${letters(i)} { relation owner @user }\n`;
    const ctx = () => ({ signal: new AbortController().signal, requestId: 'r1', logger: silent });
    const m = await measureStalls(() =>
      h['base.v1.Schema'].Write(create(s.SchemaWriteRequestSchema, { tenantId: TENANT, schema: text }), ctx()),
    );
    console.info(
      `schema write (10001 entities, ${text.length} bytes): ${m.elapsedMs.toFixed(0)} ms, longest event-loop stall ${m.maxStallMs.toFixed(0)} ms, ${m.ticks} timer turns`,
    );
    expect(m.result.schemaVersion).not.toBe('');
    expect(m.maxStallMs).toBeLessThan(stallBound(m.elapsedMs));
    expect(m.ticks).toBeGreaterThanOrEqual(5);
    const records = await store.schemas.readSchema(TENANT, m.result.schemaVersion);
    expect(records).toHaveLength(10_001);
    // Errors of the worker path are the compiler's, as inline.
    await expect(
      h['base.v1.Schema'].Write(
        create(s.SchemaWriteRequestSchema, { tenantId: TENANT, schema: `${text}entity broken { relation x @nope }` }),
        ctx(),
      ),
    ).rejects.toMatchObject({ grpcStatus: 3, message: expect.stringMatching(/^10002:\d+:/) });
  });
});
