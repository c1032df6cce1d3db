/**
 * Bounded soak: about 16 s of mixed load (writes, attribute writes, deletes, checks, bulk checks, lookups,
 * reads, schema and tenant churn, long-lived and short-lived Watch streams) against the real server with the
 * memory store, all in this process. After a warm-up that fills the caches, the heap measured after full
 * garbage collections must stay flat, and nothing may be left behind by the streams and tenants that came and
 * went. The figures are printed.
 */
import { setMaxListeners } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as permify from '@permify/permify-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import { createMemoryStore, inspectMemoryStore } from '../../src/storage/memory/index.js';
import type { Store } from '../../src/storage/contract.js';
import { startTestServer } from './rest-support.js';

const WARM_UP_MS = 6_000;
const MEASURE_MS = 10_000;
const WORKERS = 6;
/** A small id space: the live data set reaches its steady size during the warm-up. */
const DOCS = 40;
/**
 * Allowed heap growth after the warm-up. A clean run grows by about 1 MB, which a heap-snapshot diff shows
 * to be mostly V8 still optimising code; a leak of a few kilobytes per operation (a retained request,
 * stream or tenant) exceeds the bound. Tenant and Watch state left behind is checked exactly, below.
 */
const MAX_GROWTH_BYTES = 8 * 1024 * 1024;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const SCHEMA = `
entity user {}
entity team {
    relation member @user
}
entity doc {
    relation owner @user
    relation viewer @user @team#member
    attribute public boolean
    permission edit = owner
    permission view = viewer or edit or public
}
`;

/** mulberry32: a seeded generator, so the operation mix is the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Client = ReturnType<typeof permify.grpc.newClient>;
const user = (id: string) => ({ type: 'user', id, relation: '' });
const md = { schemaVersion: '', snapToken: '', depth: 20 };

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

let server: RunningServer;
// The memory store itself (the server sees it through instrumentation wrappers), for inspectMemoryStore.
let store: Store;
let client: Client;
/**
 * One connection per worker, as separate application instances would have (each its own loopback address:
 * grpc-js shares one connection between clients of the same address; on Linux only, see below). Node 20's HTTP/2 (nghttp2) closes a
 * connection with GOAWAY INTERNAL_ERROR once its client has reset more than about 1000 streams at over 33 per
 * second (the rapid-reset guard, not configurable on Node 20), and this mix cancels a Watch stream in about
 * one operation in ten: on one shared connection a fast machine crosses that within 16 s.
 */
let clients: Client[];

beforeAll(async () => {
  store = createMemoryStore({ gcWindowMs: 1_000 });
  server = await startTestServer({
    account_id: 'soak',
    'service.watch.enabled': true,
    // History older than a second is collected, as a production setting would, so that only leaks remain.
    'database.garbage_collection.enabled': true,
    'database.garbage_collection.window': '1s',
    // Small caches fill during the warm-up, so that what grows afterwards is not a cache filling up.
    'service.permission.cache.number_of_counters': 200,
    'service.schema.cache.number_of_counters': 20,
  }, { store });
  const connect = (host: string): Client =>
    permify.grpc.newClient({
      endpoint: `${host}:${server.ports.grpc}`,
      cert: null,
      pk: null,
      certChain: null,
      insecure: true,
    });
  client = connect('127.0.0.1');
  // Linux routes all of 127.0.0.0/8 to the loopback interface; elsewhere (macOS) only 127.0.0.1 exists.
  clients = Array.from({ length: WORKERS }, (_, i) => connect(process.platform === 'linux' ? `127.0.0.${i + 2}` : '127.0.0.1'));
  await client.tenancy.create({ id: 'soak', name: 'soak' });
  await client.schema.write({ tenantId: 'soak', schema: SCHEMA });
});

afterAll(async () => {
  await server?.close();
});

describe('soak', () => {
  it('keeps the heap flat under mixed load after warm-up and leaves nothing behind', async () => {
    const counts: Record<string, number> = {};
    const errors: string[] = [];
    const stop = new AbortController();
    setMaxListeners(100, stop.signal);
    const count = (op: string): void => {
      counts[op] = (counts[op] ?? 0) + 1;
    };

    // One Watch stream for the whole run.
    let watched = 0;
    const longWatch = (async () => {
      try {
        for await (const msg of client.watch.watch({ tenantId: 'soak', snapToken: '' }, { signal: stop.signal })) {
          watched += msg.changes?.dataChanges.length ?? 0;
        }
      } catch {
        // ended by stop
      }
    })();

    const operation = async (r: () => number, worker: number): Promise<void> => {
      const client = clients[worker] as Client;
      const doc = `d${Math.floor(r() * DOCS)}`;
      const who = `u${Math.floor(r() * 12)}`;
      const x = r();
      if (x < 0.15) {
        count('write');
        await client.data.write({
          tenantId: 'soak',
          metadata: { schemaVersion: '' },
          tuples: [
            { entity: { type: 'doc', id: doc }, relation: r() < 0.5 ? 'owner' : 'viewer', subject: user(who) },
            {
              entity: { type: 'doc', id: doc },
              relation: 'viewer',
              subject: { type: 'team', id: `t${Math.floor(r() * 4)}`, relation: 'member' },
            },
            { entity: { type: 'team', id: `t${Math.floor(r() * 4)}` }, relation: 'member', subject: user(who) },
          ],
          attributes: [
            {
              entity: { type: 'doc', id: doc },
              attribute: 'public',
              value: {
                typeUrl: 'type.googleapis.com/base.v1.BooleanValue',
                value: Buffer.from(permify.grpc.base.BooleanValue.encode({ data: r() < 0.1 }).finish()),
              },
            },
          ],
        });
      } else if (x < 0.25) {
        count('delete');
        await client.data.deleteRelationships({
          tenantId: 'soak',
          filter: { entity: { type: 'doc', ids: [doc] }, relation: '', subject: undefined },
        });
      } else if (x < 0.55) {
        count('check');
        await client.permission.check({
          tenantId: 'soak',
          metadata: md,
          entity: { type: 'doc', id: doc },
          permission: r() < 0.5 ? 'view' : 'edit',
          subject: user(who),
          context: undefined,
          arguments: [],
        });
      } else if (x < 0.62) {
        count('bulk-check');
        await client.permission.bulkCheck({
          tenantId: 'soak',
          metadata: md,
          items: Array.from({ length: 10 }, (_, i) => ({
            entity: { type: 'doc', id: `d${(Number(doc.slice(1)) + i) % DOCS}` },
            permission: 'view',
            subject: user(who),
          })),
        });
      } else if (x < 0.72) {
        count('lookup-entity');
        await client.permission.lookupEntity({
          tenantId: 'soak',
          metadata: md,
          entityType: 'doc',
          permission: 'view',
          subject: user(who),
          pageSize: 20,
          continuousToken: '',
        });
      } else if (x < 0.8) {
        count('lookup-subject');
        await client.permission.lookupSubject({
          tenantId: 'soak',
          metadata: md,
          entity: { type: 'doc', id: doc },
          permission: 'view',
          subjectReference: { type: 'user', relation: '' },
          pageSize: 20,
          continuousToken: '',
        });
      } else if (x < 0.88) {
        count('read');
        await client.data.readRelationships({
          tenantId: 'soak',
          metadata: { snapToken: '' },
          filter: { entity: { type: 'doc', ids: [doc] }, relation: '', subject: undefined },
          pageSize: 50,
          continuousToken: '',
        });
      } else if (x < 0.93) {
        // A short-lived Watch: opened, fed by one write, cancelled.
        count('watch');
        const ac = new AbortController();
        const stream = client.watch.watch({ tenantId: 'soak', snapToken: '' }, { signal: ac.signal });
        const first = (async () => {
          try {
            for await (const _ of stream) break;
          } catch {
            // cancelled
          }
        })();
        await new Promise((resolve) => setTimeout(resolve, 5));
        ac.abort();
        await first;
      } else if (x < 0.97) {
        // Tenant churn: a tenant with a schema and data that is deleted again (its state must go).
        count('tenant');
        const id = `churn-${worker}-${Math.floor(r() * 1e9)}`;
        await client.tenancy.create({ id, name: id });
        await client.schema.write({ tenantId: id, schema: SCHEMA });
        await client.data.writeRelationships({
          tenantId: id,
          metadata: { schemaVersion: '' },
          tuples: [{ entity: { type: 'doc', id: doc }, relation: 'owner', subject: user(who) }],
        });
        await client.permission.check({
          tenantId: id,
          metadata: md,
          entity: { type: 'doc', id: doc },
          permission: 'view',
          subject: user(who),
          context: undefined,
          arguments: [],
        });
        await client.tenancy.delete({ id });
      } else {
        // A Watch on a tenant that does not exist, cancelled at once (its state must not stay).
        count('watch-unknown');
        const ac = new AbortController();
        const done = (async () => {
          try {
            for await (const _ of client.watch.watch(
              { tenantId: `ghost-${Math.floor(r() * 1e9)}`, snapToken: '' },
              { signal: ac.signal },
            ))
              break;
          } catch {
            // cancelled
          }
        })();
        await new Promise((resolve) => setTimeout(resolve, 2));
        ac.abort();
        await done;
      }
    };

    const runUntil = async (deadline: number): Promise<void> => {
      await Promise.all(
        Array.from({ length: WORKERS }, async (_, worker) => {
          const r = rng(1000 + worker);
          while (Date.now() < deadline) {
            try {
              await operation(r, worker);
            } catch (e) {
              errors.push(String((e as Error).message).slice(0, 200));
            }
          }
        }),
      );
    };

    const started = Date.now();
    await runUntil(started + WARM_UP_MS);
    const samples: number[] = [heapAfterGc()];
    const warmed = Date.now();
    // Load in slices, with a heap sample (after full collections) between slices.
    while (Date.now() < warmed + MEASURE_MS) {
      await runUntil(Date.now() + 2_000);
      samples.push(heapAfterGc());
    }
    stop.abort();
    await longWatch;
    // Let cancelled streams finish their clean-up.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const end = heapAfterGc();
    const state = inspectMemoryStore(store);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const growth = end - (samples[0] as number);
    const mb = (n: number): string => (n / 1024 / 1024).toFixed(1);
    console.info(
      `soak: ${total} operations in ${((Date.now() - started) / 1000).toFixed(1)} s ${JSON.stringify(counts)}; ` +
        `${watched} changes watched; heap after warm-up ${mb(samples[0] as number)} MB, samples ${samples.map(mb).join(' ')} MB, ` +
        `end ${mb(end)} MB, growth ${mb(growth)} MB; store ${JSON.stringify(state)}; errors ${errors.length}`,
    );
    expect(errors.slice(0, 5)).toEqual([]);
    expect(total).toBeGreaterThan(500);
    expect(watched).toBeGreaterThan(0);
    expect(growth, `heap grew by ${mb(growth)} MB after warm-up`).toBeLessThan(MAX_GROWTH_BYTES);
    // Only the soak tenant holds state; no Watch stream is left waiting.
    expect(state).toEqual({ tenantStates: 1, waitingWatchers: 0 });
  }, 60_000);
});
