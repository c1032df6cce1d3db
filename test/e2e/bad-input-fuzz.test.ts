/**
 * Bad input on both transports, reproducible (fixed fast-check seeds): every REST route and every gRPC
 * method gets requests built from a plausible body with one to three fields replaced by hostile values
 * (wrong types, huge and deeply nested values, invalid ids, bad snap tokens and schema versions, oversized
 * page sizes and depths, regex bombs in `context.data` for a rule using `matches()`, huge schemas), plus bad
 * JSON. No answer may be a 5xx / INTERNAL / UNKNOWN, and the server's event loop (the server runs in this
 * process) must never stall for 100 ms or more: one slow request would hold up every other client.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fromJson, getOption, toBinary, type DescMessage } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { services } from '../../src/api/handlers/types.js';
import { http as httpRule } from '../../src/api/gen/google/api/annotations_pb.js';
import { jsonRegistry } from '../../src/api/rest/json.js';
import type { RunningServer } from '../../src/server.js';
import { request, startTestServer } from './rest-support.js';

const STALL_MS = 100;

const SCHEMA = `
entity user {}
entity doc {
    relation owner @user
    relation parent @doc
    attribute title string
    attribute open boolean
    permission view = owner or open or parent.view
    permission titled = check_title(title)
}
rule check_title(title string) {
    title.matches(context.data.pattern)
}
`;

/** Patterns that backtrack exponentially (or nearly) in a backtracking engine on `a…a!`. */
const REGEX_BOMBS = [
  '(a+)+$',
  '(a|a)*$',
  '(a*)*b',
  '(a|aa)+$',
  '((a+)+)+c',
  '(.*a){12}',
  '(\\w+\\s?)+$',
  'a{0,1000}a{0,1000}b',
];

const stringValue = (s: string) => ({ '@type': 'type.googleapis.com/base.v1.StringValue', data: s });

/** A body with a plausible value for every request field of every RPC (unknown fields are ignored). */
function plausibleBody(): Record<string, unknown> {
  return {
    tenant_id: 'fz',
    metadata: { snap_token: '', schema_version: '', depth: 20, only_permission: false },
    entity: { type: 'doc', id: 'bomb' },
    subject: { type: 'user', id: 'u1', relation: '' },
    permission: 'titled',
    entity_type: 'doc',
    subject_reference: { type: 'user', relation: '' },
    context: { tuples: [], attributes: [], data: { pattern: 'a+' } },
    items: [{ entity: { type: 'doc', id: '1' }, permission: 'view', subject: { type: 'user', id: 'u1' } }],
    tuples: [{ entity: { type: 'doc', id: '1' }, relation: 'owner', subject: { type: 'user', id: 'u1' } }],
    attributes: [{ entity: { type: 'doc', id: '1' }, attribute: 'title', value: stringValue('hello') }],
    filter: { entity: { type: 'doc', ids: ['1'] }, relation: 'owner' },
    tuple_filter: { entity: { type: 'doc', ids: ['zz'] } },
    attribute_filter: { entity: { type: 'doc', ids: ['zz'] } },
    page_size: 10,
    continuous_token: '',
    schema: SCHEMA,
    partials: { doc: { write: ['relation viewer @user'], update: [], delete: [] } },
    name: 'b1',
    bundles: [{ name: 'b1', arguments: ['x'], operations: [{ relationships_write: ['doc:{{.x}}#owner@user:u1'] }] }],
    id: 'fz-new',
    snap_token: '',
  };
}

const deep = (depth: number, leaf: unknown = 1): unknown => {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i += 1) v = i % 2 === 0 ? [v] : { k: v };
  return v;
};

const hugeSchema = (entities: number): string =>
  'entity user {}\n' +
  Array.from(
    { length: entities },
    (_, i) => `entity e${i} {\n  relation r @user\n  relation p @e${Math.max(0, i - 1)}\n  permission v = r or p.v\n}`,
  ).join('\n');

/**
 * Hostile replacement values, each tagged for the report of slow requests. Sizes stay below what takes
 * 100 ms merely to parse (a request of about a megabyte of JSON or Struct values costs that much in decoding
 * alone, which no server can interleave), so that a stall points at work out of proportion to the input.
 */
const badValue: fc.Arbitrary<[string, unknown]> = fc.oneof(
  fc.constantFrom<[string, unknown]>(
    ['empty', ''],
    ['space', ' '],
    ['path', '../../etc'],
    ['unicode', 'ünï©ødé'],
    ['nul', 'a\u0000b'],
    ['star', '*'],
    ['notation', 'doc:1#owner@user:1'],
    ['long-id', 'a'.repeat(200)],
    ['neg', -1],
    ['zero', 0],
    ['int32max', 2 ** 31],
    ['int64', 2 ** 53],
    ['float', 1.5],
    ['exp', 1e300],
    ['numstr', '1e3'],
    ['bool', true],
    ['null', null],
    ['array', ['x']],
    ['object', { a: 1 }],
    ['token-zero', 'AAAAAAAAAAA='],
    ['token-max', '//////////8='],
    ['token-garbage', '%%%not-base64%%%'],
    ['token-long', 'QUFB'.repeat(500)],
    ['version', 'c0000000000000000000'],
    ['any-bad', { '@type': 'type.googleapis.com/nope.Nothing', x: 1 }],
    ['any-int', { '@type': 'type.googleapis.com/base.v1.IntegerValue', data: '99999999999' }],
  ),
  fc.constantFrom(...REGEX_BOMBS).map((p): [string, unknown] => ['bomb', { pattern: p }]),
  fc.integer({ min: 1_000, max: 100_000 }).map((n): [string, unknown] => [`huge-string-${n}`, 'x'.repeat(n)]),
  fc.integer({ min: 50, max: 1_000 }).map((n): [string, unknown] => [`deep-${n}`, deep(n)]),
  fc.integer({ min: 100, max: 1_000 }).map((n): [string, unknown] => [
    `big-list-${n}`,
    Array.from({ length: n }, (_, i) => ({
      entity: { type: 'doc', id: `d${i}` },
      permission: 'view',
      subject: { type: 'user', id: 'u1' },
    })),
  ]),
);

/** Fields a mutation may replace (dotted; numbers index lists). */
const targets = [
  'tenant_id',
  'metadata',
  'metadata.snap_token',
  'metadata.schema_version',
  'metadata.depth',
  'entity',
  'entity.id',
  'entity.type',
  'subject.id',
  'subject.relation',
  'permission',
  'entity_type',
  'context',
  'context.data',
  'context.data.pattern',
  'context.tuples',
  'items',
  'tuples',
  'tuples.0.entity.id',
  'attributes.0.value',
  'attributes.0.value.data',
  'filter',
  'filter.entity.ids',
  'page_size',
  'continuous_token',
  'schema',
  'partials',
  'bundles.0.operations',
  'name',
  'arguments',
  'snap_token',
];

const mutation = fc.tuple(fc.constantFrom(...targets), badValue);
const body = fc.array(mutation, { minLength: 1, maxLength: 3 }).map((ms) => {
  const b = plausibleBody();
  for (const [path, [, value]] of ms) setPath(b, path, value);
  return { body: b, label: ms.map(([path, [tag]]) => `${path}=${tag}`).join(' ') };
});

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur: unknown = obj;
  for (const k of keys.slice(0, -1)) {
    if (typeof cur !== 'object' || cur === null) return;
    cur = (cur as Record<string, unknown>)[k];
  }
  if (typeof cur === 'object' && cur !== null) (cur as Record<string, unknown>)[keys.at(-1) as string] = value;
}

/**
 * Requests with the longest event-loop delay while they were in flight, for the failure message and report.
 * `cpuMs` is the CPU time the process used meanwhile: on a loaded machine the process can wait for a core
 * for 100 ms without doing anything, which is not a stall; a stall is the event loop blocked while this
 * process computes, so it counts only when the CPU time is at least most of the delay.
 */
const slow: Array<{ loopMs: number; cpuMs: number; ms: number; what: string }> = [];
let maxLoopMs = 0;
let maxStallMs = 0;
function timed<T>(what: string, work: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const cpu = process.cpuUsage();
  loop.reset();
  return work().finally(() => {
    const loopMs = Math.round(loop.max / 1e6);
    const used = process.cpuUsage(cpu);
    const cpuMs = Math.round((used.user + used.system) / 1000);
    maxLoopMs = Math.max(maxLoopMs, loopMs);
    if (cpuMs >= 0.8 * loopMs) maxStallMs = Math.max(maxStallMs, loopMs);
    slow.push({ loopMs, cpuMs, ms: Math.round(performance.now() - start), what: what.slice(0, 160) });
    slow.sort((x, y) => y.loopMs - x.loopMs);
    slow.length = Math.min(slow.length, 6);
  });
}

let server: RunningServer;
const loop = monitorEventLoopDelay({ resolution: 10 });

beforeAll(async () => {
  server = await startTestServer({ account_id: 'fuzz', 'service.watch.enabled': true });
  const port = server.ports.http as number;
  await request(port, 'POST', '/v1/tenants', { id: 'fz', name: 'fuzz' });
  expect((await request(port, 'POST', '/v1/tenants/fz/schemas/write', { schema: SCHEMA })).status).toBe(200);
  const write = await request(port, 'POST', '/v1/tenants/fz/data/write', {
    metadata: { schema_version: '' },
    tuples: [
      { entity: { type: 'doc', id: '1' }, relation: 'owner', subject: { type: 'user', id: 'u1' } },
      ...Array.from({ length: 50 }, (_, i) => ({
        entity: { type: 'doc', id: `c${i}` },
        relation: 'parent',
        subject: { type: 'doc', id: i === 0 ? '1' : `c${i - 1}` },
      })),
    ],
    attributes: [{ entity: { type: 'doc', id: 'bomb' }, attribute: 'title', value: stringValue(`${'a'.repeat(30)}!`) }],
  });
  expect(write.status, write.text).toBe(200);
  buildCases();
  // Measured from here: the cases are built, so what remains on this event loop is the server's work
  // (and the clients' sending and receiving).
  loop.enable();
}, 30_000);

afterAll(async () => {
  loop.disable();
  await server?.close();
});

interface RestCase {
  readonly method: string;
  readonly path: string;
  readonly text: string;
  readonly what: string;
}
interface GrpcCase {
  readonly path: string;
  readonly kind: string;
  readonly bytes: Uint8Array;
  readonly what: string;
  readonly encoded: boolean;
}
let restCases: RestCase[] = [];
let grpcCases: GrpcCase[] = [];

/** Every request of the two fuzz runs, from fixed seeds, serialised ahead of time. */
function buildCases(): void {
  const routes = restRoutes();
  const tenants = fc.constantFrom('fz', 'fz', '', 'no-such', '%ZZ', 'a'.repeat(300));
  restCases = fc.sample(fc.tuple(body, tenants), { numRuns: 600, seed: 20_251_202 }).map(([b, tenant], i) => {
    const route = routes[i % routes.length] as { method: string; path: string };
    // Tenancy.Delete would remove the fuzzed tenant: aim it elsewhere.
    const path = route.path.replace(/\{[a-z_]+\}/, route.path === '/v1/tenants/{id}' ? 'victim' : tenant);
    return { method: route.method, path, text: JSON.stringify(b.body), what: `${route.method} ${path} ${b.label}` };
  });

  const methods = Object.values(services).flatMap((s) =>
    s.methods.map((m) => ({
      path: `/${s.typeName}/${m.name}`,
      input: m.input as DescMessage,
      kind: m.methodKind as string,
    })),
  );
  const encode = (m: (typeof methods)[number], json: Record<string, unknown>): Uint8Array =>
    toBinary(m.input, fromJson(m.input, json as never, { ignoreUnknownFields: true, registry: jsonRegistry }));
  grpcCases = fc.sample(body, { numRuns: 500, seed: 4_242_025 }).map(({ body: b, label }, i) => {
    const m = methods[i % methods.length] as (typeof methods)[number];
    if (m.path === '/base.v1.Tenancy/Delete') b['id'] = 'victim';
    const what = `${m.path} ${label}`;
    try {
      return { path: m.path, kind: m.kind, bytes: encode(m, b), what, encoded: true };
    } catch {
      // A value of the wrong JSON type cannot be encoded: the plausible message with malformed bytes appended.
      const valid = encode(m, plausibleBody());
      const bytes = new Uint8Array([...valid, 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);
      return { path: m.path, kind: m.kind, bytes, what, encoded: false };
    }
  });
}

function restRoutes(): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = [];
  for (const s of Object.values(services)) {
    for (const m of s.methods) {
      const rule = getOption(m, httpRule);
      if (rule.pattern.case && rule.pattern.case !== 'custom') {
        out.push({ method: rule.pattern.case.toUpperCase(), path: rule.pattern.value });
      }
    }
  }
  return out;
}

/** Every failing answer, collected so that one run reports them all. */
const failures: string[] = [];

function expectClean(status: number, text: string, what: string): void {
  // 501 is Permify's answer to a known path with the wrong method; anything else 5xx is a server failure.
  if (status === 501 || status < 500) return;
  failures.push(`${status} for ${what}: ${text.slice(0, 300)}`);
}

describe('bad input over REST', () => {
  it('mutated bodies on every route: no 5xx', async () => {
    const port = server.ports.http as number;
    for (const { method, path, text, what } of restCases) {
      const res = await timed(what, () => request(port, method, path, text));
      expectClean(res.status, res.text, what);
    }
  }, 60_000);

  it('bad JSON on every route: no 5xx', async () => {
    const port = server.ports.http as number;
    const raw = [
      '{',
      '{"tenant_id": }',
      '[]',
      '42',
      'null',
      '"str"',
      '{"metadata": NaN}',
      '{"a":1}garbage',
      '\u00ff\u00fe',
      '['.repeat(100_000),
      `{"schema": "${'\\u0000'.repeat(10)}"}`,
      // Nested far deeper than any stack: built as text.
      `{"context":{"data":{"k":${'{"k":'.repeat(50_000)}1${'}'.repeat(50_000)}}}}`,
      `{"metadata":${'['.repeat(50_000)}${']'.repeat(50_000)}}`,
    ];
    for (const route of restRoutes()) {
      const path = route.path.replace(/\{[a-z_]+\}/, route.path === '/v1/tenants/{id}' ? 'victim' : 'fz');
      for (const text of raw) {
        const what = `${route.method} ${path} raw:${text.slice(0, 20)}`;
        const res = await timed(what, () => request(port, route.method, path, text));
        expectClean(res.status, res.text, what);
      }
    }
  }, 60_000);

  it('regex bombs in context.data, huge schemas and deep lookups: no 5xx', async () => {
    const port = server.ports.http as number;
    for (const pattern of REGEX_BOMBS) {
      const what = `check matches(${pattern})`;
      const res = await timed(what, () =>
        request(port, 'POST', '/v1/tenants/fz/permissions/check', {
          metadata: { depth: 20 },
          entity: { type: 'doc', id: 'bomb' },
          permission: 'titled',
          subject: { type: 'user', id: 'u1' },
          context: { data: { pattern } },
        }),
      );
      expectClean(res.status, res.text, what);
    }
    for (const n of [2_000, 20_000]) {
      const what = `schema write of ${n} entities`;
      const res = await timed(what, () =>
        request(port, 'POST', '/v1/tenants/huge/schemas/write', { schema: hugeSchema(n) }),
      );
      expectClean(res.status, res.text, what);
    }
    const what = 'lookup-entity over a 50-deep parent chain';
    const res = await timed(what, () =>
      request(port, 'POST', '/v1/tenants/fz/permissions/lookup-entity', {
        metadata: { depth: 100 },
        entity_type: 'doc',
        permission: 'view',
        subject: { type: 'user', id: 'u1' },
        page_size: 100,
      }),
    );
    expectClean(res.status, res.text, what);
  }, 60_000);
});

describe('bad input over gRPC', () => {
  let ch: grpc.Client;
  beforeAll(() => {
    ch = new grpc.Client(`127.0.0.1:${server.ports.grpc}`, grpc.credentials.createInsecure());
  });
  afterAll(() => ch.close());

  const identity = (b: Buffer): Buffer => b;
  /** One call of any kind; a client stream sends the message twice, then ends. */
  function call(path: string, kind: string, bytes: Uint8Array): Promise<{ code: number; details: string }> {
    return new Promise((resolve) => {
      const buf = Buffer.from(bytes);
      const done = (err: grpc.ServiceError | null): void =>
        resolve({ code: err?.code ?? 0, details: err?.details ?? '' });
      const deadline = { deadline: Date.now() + 10_000 };
      if (kind === 'unary') {
        ch.makeUnaryRequest(path, identity, identity, buf, deadline, done);
        return;
      }
      if (kind === 'client_streaming') {
        const stream = ch.makeClientStreamRequest(path, identity, identity, deadline, done);
        stream.write(buf);
        stream.write(buf);
        stream.end();
        return;
      }
      // Watch never ends on its own: the short deadline ends it (DEADLINE_EXCEEDED is then expected).
      const options = { deadline: Date.now() + (path.endsWith('/Watch') ? 200 : 10_000) };
      const stream =
        kind === 'bidi_streaming'
          ? ch.makeBidiStreamRequest(path, identity, identity, options)
          : ch.makeServerStreamRequest(path, identity, identity, buf, options);
      if (kind === 'bidi_streaming') {
        const duplex = stream as grpc.ClientDuplexStream<Buffer, Buffer>;
        duplex.write(buf);
        duplex.end();
      }
      stream.on('data', () => {});
      stream.on('error', (err: grpc.ServiceError) => done(err));
      stream.on('end', () => done(null));
    });
  }

  it('mutated messages to every method: never INTERNAL or UNKNOWN', async () => {
    for (const { path, kind, bytes, what } of grpcCases) {
      const res = await timed(what, () => call(path, kind, bytes));
      const bad = path.endsWith('/Watch') ? [2, 13] : [2, 4, 13];
      if (bad.includes(res.code)) {
        failures.push(`${res.code} ${res.details.slice(0, 300)} for ${what}`);
      }
      expect(res.details).not.toMatch(/\n\s+at |\/work\/|node_modules/);
    }
    // Most mutants are well-typed and reach validation and the handlers.
    expect(grpcCases.filter((c) => c.encoded).length).toBeGreaterThan(250);
  }, 60_000);
});

describe('answers', () => {
  it('none was a 5xx, INTERNAL or UNKNOWN', () => {
    expect(failures).toEqual([]);
  });
});

describe('event loop', () => {
  it(`never stalled for ${STALL_MS} ms or more while serving all of the above`, () => {
    const report =
      `max event-loop delay ${maxLoopMs} ms, of which a stall (CPU-bound) ${maxStallMs} ms; ` +
      `requests in flight during the longest delays: ${JSON.stringify(slow)}`;
    console.info(report);
    expect(maxStallMs, report).toBeLessThan(STALL_MS);
  });
});
