/** Check cache correctness (api-and-operations §12.1): keys never mix snapshots, versions or contexts. */
import { describe, expect, it } from 'vitest';
import { parseEntity, parseSubject, parseTuple } from '../../src/data/notation.js';
import { createEngine } from '../../src/engine/index.js';
import type { CheckRequest } from '../../src/engine/types.js';
import type { DataReader } from '../../src/storage/contract.js';
import { fixture, TENANT } from './support.js';

const schema = `
entity user {}
entity doc {
    relation viewer @user
    relation parent @doc
    permission view = viewer or parent.view
}`;

const req = (snapToken = '', extra: Partial<CheckRequest> = {}): CheckRequest => ({
  tenantId: TENANT,
  metadata: { depth: 20, snapToken },
  entity: parseEntity('doc:1'),
  permission: 'view',
  subject: parseSubject('user:u'),
  ...extra,
});

/** Counts reads going to the store, to observe cache hits without relying on timing. */
function countingReader(inner: DataReader): { reader: DataReader; reads: () => number } {
  let n = 0;
  const reader: DataReader = {
    ...inner,
    headSnapToken: (t, s) => inner.headSnapToken(t, s),
    queryRelationships: (...a) => {
      n++;
      return inner.queryRelationships(...a);
    },
  };
  return { reader, reads: () => n };
}

describe('check cache', () => {
  it('hits report check_count 0 and do not read; a write makes a new token that sees new data', async () => {
    const f = await fixture(schema, ['doc:1#parent@doc:2']);
    const counted = countingReader(f.store.reader);
    const engine = createEngine({ reader: counted.reader, schemas: f.store.schemas, checkCacheSize: 1000 });
    const first = await engine.check(req());
    expect(first.can).toBe('denied');
    expect(first.metadata.checkCount).toBeGreaterThan(0);
    const reads = counted.reads();
    const second = await engine.check(req());
    expect(second).toEqual({ can: 'denied', metadata: { checkCount: 0 } });
    expect(counted.reads()).toBe(reads);

    const oldToken = await f.store.reader.headSnapToken(TENANT);
    const newToken = await f.write(['doc:2#viewer@user:u']);
    expect((await engine.check(req())).can).toBe('allowed');
    expect((await engine.check(req(newToken))).can).toBe('allowed');
    const old = await engine.check(req(oldToken));
    expect(old).toEqual({ can: 'denied', metadata: { checkCount: 0 } });
  });
  it('deletes are seen under the new token, the old answer stays for the old token', async () => {
    const f = await fixture(schema, ['doc:1#viewer@user:u'], [], { checkCacheSize: 1000 });
    const t1 = await f.store.reader.headSnapToken(TENANT);
    expect((await f.engine.check(req(t1))).can).toBe('allowed');
    const t2 = await f.remove(['doc:1#viewer@user:u']);
    expect((await f.engine.check(req(t2))).can).toBe('denied');
    expect((await f.engine.check(req(t1))).can).toBe('allowed');
  });
  it('context is part of the key', async () => {
    const f = await fixture(schema, [], [], { checkCacheSize: 1000 });
    const t = await f.store.reader.headSnapToken(TENANT);
    const withCtx = req(t, { context: { tuples: [parseTuple('doc:1#viewer@user:u')], attributes: [], data: {} } });
    expect((await f.engine.check(withCtx)).can).toBe('allowed');
    expect((await f.engine.check(req(t))).can).toBe('denied');
    expect((await f.engine.check(withCtx)).metadata.checkCount).toBe(0);
  });
  it('a cached answer is not served to a request whose depth budget is smaller', async () => {
    const f = await fixture(schema, ['doc:1#parent@doc:2', 'doc:2#parent@doc:3', 'doc:3#viewer@user:u'], [], {
      checkCacheSize: 1000,
    });
    const t = await f.store.reader.headSnapToken(TENANT);
    expect((await f.engine.check(req(t))).can).toBe('allowed');
    await expect(f.engine.check({ ...req(t), metadata: { depth: 2, snapToken: t } })).rejects.toMatchObject({
      code: 'ERROR_CODE_DEPTH_NOT_ENOUGH',
    });
    expect((await f.engine.check({ ...req(t), metadata: { depth: 30, snapToken: t } })).metadata.checkCount).toBe(0);
  });
  it('schema versions are part of the key', async () => {
    const f = await fixture(schema, ['doc:1#viewer@user:u'], [], { checkCacheSize: 1000 });
    expect((await f.engine.check(req())).can).toBe('allowed');
    await f.store.schemas.writeSchema(TENANT, [
      {
        name: 's',
        definition: 'entity user {}\nentity doc {\n relation viewer @user\n permission view = viewer not viewer\n}',
      },
    ]);
    expect((await f.engine.check(req())).can).toBe('denied');
  });
  it('errors are not cached', async () => {
    const f = await fixture(schema, ['doc:1#parent@doc:1'], [], { checkCacheSize: 1000 });
    await expect(f.engine.check(req())).rejects.toMatchObject({ code: 'ERROR_CODE_DEPTH_NOT_ENOUGH' });
    await f.write(['doc:1#viewer@user:u']);
    expect((await f.engine.check(req())).can).toBe('allowed');
  });
});
