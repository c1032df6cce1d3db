/**
 * Caches are bounded by bytes, not only entries, and schema size has a named limit (issue 8, item 4).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { createHandlers } from '../../src/api/handlers/index.js';
import * as s from '../../src/api/gen/base/v1/service_pb.js';
import { loadConfig } from '../../src/config/load.js';
import { createCheckCache } from '../../src/engine/check-cache.js';
import { createEngine } from '../../src/engine/index.js';
import { compiledSchemaWeight } from '../../src/engine/schema-resolver.js';
import { createMemoryStore } from '../../src/storage/memory/index.js';
import { parseEntity, parseSubject } from '../../src/data/notation.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const ctx = () => ({ signal: new AbortController().signal, requestId: 'r1', logger: silent });

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function letters(i: number): string {
  let out = '';
  do {
    out += String.fromCharCode(97 + (i % 26));
    i = Math.floor(i / 26);
  } while (i > 0);
  return out;
}

/** A schema of `n` entity types (about 150 bytes each); `tag` makes versions distinct. */
function bigSchema(n: number, tag: string): string {
  let text = `entity user {}\nentity t_${tag} {}\n`;
  for (let i = 0; i < n; i++) {
    const name = `doc_${letters(i)}`;
    const parent = `doc_${letters(Math.max(0, i - 1))}`;
    text += `entity ${name} {\n  relation owner @user\n  relation parent @${parent}\n  attribute public boolean\n  permission view = owner or parent.view or public\n}\n`;
  }
  return text;
}

describe('schema cache bounded by bytes', () => {
  it('many large versions keep about schemaCacheMaxBytes of compiled schemas, not all of them', async () => {
    const store = createMemoryStore();
    const text = (tag: string) => bigSchema(400, tag); // ~55 KB of text, ~0.8 MB compiled
    const weight = compiledSchemaWeight(Buffer.byteLength(text('a')));
    const maxBytes = 3 * weight;
    const engine = createEngine({
      reader: store.reader,
      schemas: store.schemas,
      checkCacheSize: 0,
      schemaCacheMaxBytes: maxBytes,
    });
    const h = createHandlers({ engine, store, limits: { maxDataPerWrite: 100 } });
    const versions: string[] = [];
    for (let i = 0; i < 24; i++) {
      const w = await h['base.v1.Schema'].Write(
        create(s.SchemaWriteRequestSchema, { tenantId: 't1', schema: text(letters(i)) }),
        ctx(),
      );
      versions.push(w.schemaVersion);
    }
    gc();
    const before = process.memoryUsage().heapUsed;
    for (const v of versions) {
      const r = await engine.check({
        tenantId: 't1',
        metadata: { schemaVersion: v, depth: 10 },
        entity: parseEntity('doc_a:1'),
        permission: 'view',
        subject: parseSubject('user:u'),
      });
      expect(r.can).toBe('denied');
    }
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // 24 compiled versions weigh ~20 MB; the bound keeps 3 (~3 MB by the estimate, which over-counts).
    expect(grown).toBeLessThan(maxBytes + 4 * 1024 * 1024);
  });
});

describe('check cache bounded by bytes', () => {
  it('long keys are counted by size: the cache stays within maxBytes', () => {
    const cache = createCheckCache(1_000_000, 64 * 1024);
    const view = cache.view('t1', 'v', 's', '') ?? expect.fail('no view');
    for (let i = 0; i < 5000; i++)
      cache.set(view, { type: 'doc', id: `${'x'.repeat(100)}${i}` }, 'view', { type: 'user', id: 'u', relation: '' }, undefined, 5, 'allowed');
    expect(cache.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(cache.size).toBeGreaterThan(100);
    expect(cache.size).toBeLessThan(5000);
  });

  it('max_cost keys configure the bounds and are validated', () => {
    const load = (flags: Record<string, unknown>) => loadConfig({ env: {}, cwd: '/nonexistent', flags });
    const { config } = load({});
    expect(config.service.permission.cache.max_cost).toBe(10 * 1024 * 1024);
    expect(config.service.schema.cache.max_cost).toBe(64 * 1024 * 1024);
    expect(config.service.schema.max_size).toBe(1024 * 1024);
    expect(config.service.permission.max_page_size).toBe(10_000);
    expect(config.service.permission.time_slice).toBe(10);
    expect(() => load({ 'service.permission.time_slice': '0s' })).toThrow(/service\.permission\.time_slice/);
    expect(() => load({ 'service.schema.max_size': '0' })).toThrow(/service\.schema\.max_size/);
    expect(() => load({ 'service.schema.cache.max_cost': '0' })).toThrow(/service\.schema\.cache\.max_cost/);
    expect(() => load({ 'service.permission.max_page_size': 0 })).toThrow(/service\.permission\.max_page_size/);
  });
});

describe('schema size limit', () => {
  it('Schema/Write and PartialWrite reject a schema over service.schema.max_size, naming the limit', async () => {
    const store = createMemoryStore();
    const engine = createEngine({ reader: store.reader, schemas: store.schemas });
    const h = createHandlers({ engine, store, limits: { maxDataPerWrite: 100, maxSchemaBytes: 4096 } });
    const small = bigSchema(5, 'a');
    await h['base.v1.Schema'].Write(create(s.SchemaWriteRequestSchema, { tenantId: 't1', schema: small }), ctx());
    const big = bigSchema(60, 'b');
    await expect(
      h['base.v1.Schema'].Write(create(s.SchemaWriteRequestSchema, { tenantId: 't1', schema: big }), ctx()),
    ).rejects.toMatchObject({
      code: 'ERROR_CODE_VALIDATION',
      grpcStatus: 3,
      message: expect.stringMatching(/exceeds the limit service\.schema\.max_size=4096/),
    });
    // PartialWrite: the resulting schema counts.
    const write = Array.from({ length: 120 }, (_, i) => `permission p_${letters(i)} = owner or parent.view`);
    await expect(
      h['base.v1.Schema'].PartialWrite(
        create(s.SchemaPartialWriteRequestSchema, {
          tenantId: 't1',
          metadata: {},
          partials: { doc_a: { write, update: [], delete: [] } },
        }),
        ctx(),
      ),
    ).rejects.toMatchObject({
      code: 'ERROR_CODE_VALIDATION',
      message: expect.stringMatching(/service\.schema\.max_size/),
    });
  });
});
