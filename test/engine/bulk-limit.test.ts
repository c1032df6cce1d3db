/**
 * `service.permission.bulk_limit` (Permify's bulk checker concurrency): at most that many candidate checks of one
 * LookupEntity(Stream) page are in flight at once, whatever `concurrency_limit` allows. Measured as the most
 * concurrent relationship reads while the candidates are checked (each candidate check reads its owners once),
 * through the engine and through a server started from configuration.
 */
import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import * as s from '../../src/api/gen/base/v1/service_pb.js';
import { loadConfig } from '../../src/config/load.js';
import { parseSubject, parseTuple } from '../../src/data/notation.js';
import { createEngine } from '../../src/engine/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer } from '../../src/server.js';
import type { DataReader, Store } from '../../src/storage/contract.js';
import { createMemoryStore } from '../../src/storage/memory/index.js';

const schema = 'entity user {}\nentity doc {\n  relation owner @user\n  relation banned @user\n  permission view = owner not banned\n}';
const DOCS = 40;

/** A memory store whose relationship reads take a few ms and are counted while in flight. */
async function slowStore(): Promise<{ store: Store; maxInFlight: () => number; reset: () => void }> {
  const store = createMemoryStore();
  await store.tenants.createTenant('b', 'b').catch(() => undefined);
  await store.schemas.writeSchema('b', [{ name: 'schema', definition: schema }]);
  const tuples = Array.from({ length: DOCS }, (_, i) => parseTuple(`doc:${i}#owner@user:u`));
  await store.writer.write('b', [{ writeTuples: tuples }]);
  let inFlight = 0;
  let max = 0;
  const inner = store.reader;
  const reader: DataReader = {
    ...inner,
    headSnapToken: (...a) => inner.headSnapToken(...a),
    async queryRelationships(...a) {
      inFlight++;
      max = Math.max(max, inFlight);
      try {
        await new Promise((r) => setTimeout(r, 3));
        return await inner.queryRelationships(...a);
      } finally {
        inFlight--;
      }
    },
  };
  return { store: { ...store, reader }, maxInFlight: () => max, reset: () => (max = 0) };
}

describe('service.permission.bulk_limit', () => {
  it('bounds the candidate checks of a LookupEntity page in flight (engine option bulkLimit)', async () => {
    const slow = await slowStore();
    const lookup = async (bulkLimit: number | undefined) => {
      const engine = createEngine({
        reader: slow.store.reader,
        schemas: slow.store.schemas,
        checkCacheSize: 0,
        candidateCacheMaxBytes: 0,
        concurrency: 100,
        ...(bulkLimit === undefined ? {} : { bulkLimit }),
      });
      slow.reset();
      const r = await engine.lookupEntity({
        tenantId: 'b',
        metadata: { depth: 10 },
        entityType: 'doc',
        permission: 'view',
        subject: parseSubject('user:u'),
        continuousToken: '',
      });
      expect(r.entityIds).toHaveLength(DOCS);
      return slow.maxInFlight();
    };
    // Each candidate check reads owner and banned at once (2 reads), so in flight ≤ 2 × bulkLimit.
    expect(await lookup(1)).toBeLessThanOrEqual(2);
    expect(await lookup(3)).toBeLessThanOrEqual(6);
    expect(await lookup(undefined)).toBeGreaterThan(6);
    expect(() => createEngine({ reader: slow.store.reader, schemas: slow.store.schemas, bulkLimit: 0 })).toThrow(
      /bulkLimit/,
    );
  });

  it('is read from the configuration by the server', async () => {
    const slow = await slowStore();
    const run = async (bulkLimit: string) => {
      const { config } = loadConfig({
        env: {},
        cwd: '/nonexistent',
        flags: {
          'server.grpc.port': 0,
          'server.http.enabled': false,
          'server.rate_limit': 0,
          'service.permission.bulk_limit': bulkLimit,
          'service.permission.cache.number_of_counters': 0,
        },
      });
      const server = await startServer(config, {
        logger: createLogger({ level: 'silent', output: 'json' }),
        store: slow.store,
      });
      try {
        slow.reset();
        const r = await server.handlers['base.v1.Permission'].LookupEntity(
          create(s.PermissionLookupEntityRequestSchema, {
            tenantId: 'b',
            metadata: { depth: 10 },
            entityType: 'doc',
            permission: 'view',
            subject: { type: 'user', id: 'u' },
          }),
          { signal: new AbortController().signal, requestId: 'r', logger: { debug() {}, info() {}, warn() {}, error() {} } } as never,
        );
        expect(r.entityIds).toHaveLength(DOCS);
        return slow.maxInFlight();
      } finally {
        await server.close();
      }
    };
    expect(await run('2')).toBeLessThanOrEqual(4);
    expect(await run('50')).toBeGreaterThan(4);
  });
});
