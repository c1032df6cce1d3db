/**
 * The storage conformance suite: one set of tests written only against `../contract.ts`, run by every
 * store (memory in test/storage/memory.test.ts, PostgreSQL in test/storage/postgres.test.ts). Each test uses
 * its own tenant ids, so stores backed by a shared database can run it; the garbage collection tests run
 * last because a zero window collects history of every tenant.
 *
 * Watch tests wait for events with a generous timeout (PostgreSQL delivers by polling); nothing else
 * depends on timing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermifyError } from '../../errors.js';
import type { Attribute, AttributeValue, Tuple } from '../../data/types.js';
import { attributeToString, parseAttribute, parseTuple, tupleToString } from '../../data/notation.js';
import type {
  AttributeFilter,
  DataChanges,
  DataReader,
  Page,
  PageRequest,
  SnapToken,
  Store,
  TupleFilter,
} from '../contract.js';

export interface StoreFactoryResult {
  readonly store: Store;
  cleanup(): Promise<void>;
}

const WATCH_TIMEOUT_MS = 15_000;

let tenantCounter = 0;
const runId = Math.random().toString(36).slice(2, 8);
/** A tenant id unique to this test run and call (matches the tenant-creation pattern). */
export function uniqueTenantId(label: string): string {
  tenantCounter += 1;
  return `ct-${runId}-${label}-${tenantCounter}`;
}

const T = (s: string): Tuple => parseTuple(s);
const A = (s: string): Attribute => parseAttribute(s);
const ts = (tuples: readonly Tuple[]): string[] => tuples.map(tupleToString);
const as = (attributes: readonly Attribute[]): string[] => attributes.map(attributeToString);

/** Resolves with the PermifyError `p` rejects with; fails the test when it resolves or throws anything else. */
async function permifyErrorOf(p: Promise<unknown>): Promise<PermifyError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(PermifyError);
    return e as PermifyError;
  }
  throw new Error('expected the call to fail with a PermifyError');
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  expect((await permifyErrorOf(p)).code).toBe(code);
}

/** Reads every page of `read` with the given size and returns the items and the number of pages. */
async function allPages<T>(
  read: (page: PageRequest) => Promise<Page<T>>,
  size: number,
): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let token = '';
  let pages = 0;
  for (;;) {
    const page = await read({ size, token });
    pages += 1;
    expect(page.items.length).toBeLessThanOrEqual(size);
    items.push(...page.items);
    if (page.continuousToken === '') return { items, pages };
    expect(pages).toBeLessThan(10_000);
    token = page.continuousToken;
  }
}

/** Takes `n` elements of a watch stream, failing after a timeout; the stream stays open. */
async function take(it: AsyncIterator<DataChanges>, n: number): Promise<DataChanges[]> {
  const out: DataChanges[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`watch: no event within ${WATCH_TIMEOUT_MS} ms`)), WATCH_TIMEOUT_MS);
    });
    while (out.length < n) {
      const r = await Promise.race([it.next(), timeout]);
      if (r.done) throw new Error('watch stream ended early');
      out.push(r.value);
    }
    return out;
  } finally {
    clearTimeout(timer);
  }
}

function changeText(c: DataChanges): string[] {
  return c.changes.map((d) =>
    d.tuple !== undefined
      ? `${d.operation} ${tupleToString(d.tuple)}`
      : `${d.operation} ${attributeToString(d.attribute as Attribute)}`,
  );
}

/**
 * Registers the conformance tests for a store. `factory` is called once for the whole suite; `cleanup`
 * runs after it.
 */
export function describeStoreConformance(name: string, factory: () => Promise<StoreFactoryResult>): void {
  describe(`storage conformance: ${name}`, () => {
    let store: Store;
    let cleanup: (() => Promise<void>) | undefined;
    let reader: DataReader;

    beforeAll(async () => {
      const made = await factory();
      store = made.store;
      cleanup = made.cleanup;
      reader = store.reader;
    });

    afterAll(async () => {
      await cleanup?.();
    });

    const head = (tenant: string): Promise<SnapToken> => reader.headSnapToken(tenant);
    const all = async (tenant: string, filter: TupleFilter = {}, token?: SnapToken): Promise<string[]> =>
      ts(await reader.queryRelationships(tenant, filter, token ?? (await head(tenant))));
    const allAttributes = async (tenant: string, filter: AttributeFilter = {}, token?: SnapToken): Promise<string[]> =>
      as(await reader.queryAttributes(tenant, filter, token ?? (await head(tenant))));

    describe('store', () => {
      it('is ready and of a known kind', async () => {
        expect(['memory', 'postgres']).toContain(store.kind);
        expect(await store.isReady()).toBe(true);
      });

      it('gives a tenant without data a head token at which nothing is visible', async () => {
        const tenant = uniqueTenantId('empty');
        const token = await head(tenant);
        expect(typeof token).toBe('string');
        expect(token).not.toBe('');
        expect(await reader.queryRelationships(tenant, {}, token)).toEqual([]);
        expect(await reader.queryAttributes(tenant, {}, token)).toEqual([]);
        expect(await reader.queryUniqueSubjectIds(tenant, 'user', '', token)).toEqual([]);
        const page = await reader.readRelationships(tenant, {}, token, { size: 10 });
        expect(page).toEqual({ items: [], continuousToken: '' });
      });

      it('keeps a tenant head token when another tenant is written', async () => {
        const mine = uniqueTenantId('headmine');
        const other = uniqueTenantId('headother');
        const written = await store.writer.write(mine, [{ writeTuples: [T('document:1#viewer@user:1')] }]);
        const before = await head(mine);
        await store.writer.write(other, [{ writeTuples: [T('document:1#viewer@user:2')] }]);
        await store.writer.write(other, [{ deleteTuples: [T('document:1#viewer@user:2')] }]);
        expect(await head(mine)).toBe(before);
        expect(await all(mine, {}, before)).toEqual(['document:1#viewer@user:1']);
        expect(await all(mine, {}, written)).toEqual(['document:1#viewer@user:1']);
        // Its own write moves it, and the new head sees that write.
        await store.writer.write(mine, [{ writeTuples: [T('document:2#viewer@user:1')] }]);
        const after = await head(mine);
        expect(after).not.toBe(before);
        expect(await all(mine, {}, after)).toEqual(['document:1#viewer@user:1', 'document:2#viewer@user:1']);
        expect(await all(mine, {}, before)).toEqual(['document:1#viewer@user:1']);
      });

      it('rejects garbage snap tokens as invalid arguments (client input, never a 500)', async () => {
        const tenant = uniqueTenantId('badsnap');
        for (const bad of ['%%%not-a-token%%%', 'Zm9v']) {
          const e = await permifyErrorOf(reader.queryRelationships(tenant, {}, bad));
          expect(e.code).toBe('ERROR_CODE_INVALID_ARGUMENT');
        }
      });
    });

    describe('relationship writes and filters', () => {
      const data = [
        'document:1#viewer@user:1',
        'document:1#viewer@user:2',
        'document:1#editor@user:3',
        'document:2#viewer@user:1',
        'document:2#viewer@group:eng#member',
        'folder:1#viewer@user:1',
        'folder:2#parent@folder:1',
        'group:eng#member@user:4',
        'group:eng#manager@group:ops#member',
        'document:3#owner@user:2',
      ];
      let tenant: string;
      let token: SnapToken;

      beforeAll(async () => {
        tenant = uniqueTenantId('filters');
        token = await store.writer.write(tenant, [{ writeTuples: data.map(T) }]);
      });

      it('returns every tuple of the tenant, in insertion order, for an empty filter', async () => {
        expect(await all(tenant, {}, token)).toEqual(data);
        expect(await all(tenant, { entity: {}, subject: {} }, token)).toEqual(data);
      });

      it.each<[string, TupleFilter, string[]]>([
        ['entity type', { entity: { type: 'document' } }, data.filter((d) => d.startsWith('document:'))],
        [
          'entity type and ids',
          { entity: { type: 'document', ids: ['2', '3'] } },
          ['document:2#viewer@user:1', 'document:2#viewer@group:eng#member', 'document:3#owner@user:2'],
        ],
        [
          'entity type, id and relation',
          { entity: { type: 'document', ids: ['1'] }, relation: 'viewer' },
          ['document:1#viewer@user:1', 'document:1#viewer@user:2'],
        ],
        ['entity ids without a type', { entity: { ids: ['1'] } }, data.filter((d) => /^[a-z]+:1#/.test(d))],
        ['relation only', { relation: 'viewer' }, data.filter((d) => d.includes('#viewer@'))],
        [
          'entity type and relation',
          { entity: { type: 'document' }, relation: 'viewer' },
          data.filter((d) => d.startsWith('document:') && d.includes('#viewer@')),
        ],
        ['subject type', { subject: { type: 'group' } }, data.filter((d) => d.includes('@group:'))],
        [
          'subject type and ids',
          { subject: { type: 'user', ids: ['1', '4'] } },
          data.filter((d) => d.endsWith('@user:1') || d.endsWith('@user:4')),
        ],
        [
          'subject type and relation',
          { subject: { type: 'group', relation: 'member' } },
          ['document:2#viewer@group:eng#member', 'group:eng#manager@group:ops#member'],
        ],
        ['subject relation only', { subject: { relation: 'member' } }, data.filter((d) => d.endsWith('#member'))],
        [
          'entity and subject together',
          { entity: { type: 'document', ids: ['1', '2'] }, relation: 'viewer', subject: { type: 'user', ids: ['1'] } },
          ['document:1#viewer@user:1', 'document:2#viewer@user:1'],
        ],
        ['an unknown entity type', { entity: { type: 'nothing' } }, []],
        ['an unknown id', { entity: { type: 'document', ids: ['404'] } }, []],
        ['an unknown relation', { entity: { type: 'document' }, relation: 'nothing' }, []],
        ['an unknown subject', { subject: { type: 'user', ids: ['404'] } }, []],
        [
          'ids of which some are unknown',
          { entity: { type: 'document', ids: ['404', '3'] } },
          ['document:3#owner@user:2'],
        ],
      ])('filters by %s', async (_label, filter, expected) => {
        expect(await all(tenant, filter, token)).toEqual(expected);
      });

      it('answers long id lists (with duplicates) in insertion order', async () => {
        const t = uniqueTenantId('manyids');
        const n = 600;
        const tuples = Array.from({ length: n }, (_, i) => `doc:${(i * 37) % n}#viewer@user:${i % 7}`);
        const tok = await store.writer.write(t, [{ writeTuples: tuples.map(T) }]);
        const wanted = Array.from({ length: 400 }, (_, i) => String((i * 3) % n));
        const idList = [...wanted, ...wanted.slice(0, 50), 'missing'];
        const wantedSet = new Set(wanted);
        expect(await all(t, { entity: { type: 'doc', ids: idList }, relation: 'viewer' }, tok)).toEqual(
          tuples.filter((x) => wantedSet.has(x.slice(4, x.indexOf('#')))),
        );
        expect(await all(t, { subject: { type: 'user', ids: ['3', '5', '3'] } }, tok)).toEqual(
          tuples.filter((x) => x.endsWith('@user:3') || x.endsWith('@user:5')),
        );
      });

      it('keeps tenants apart', async () => {
        const other = uniqueTenantId('other');
        await store.writer.write(other, [{ writeTuples: [T('document:1#viewer@user:99')] }]);
        expect(await all(other)).toEqual(['document:1#viewer@user:99']);
        expect(await all(tenant)).toEqual(data);
      });

      it('returns only entities whose id is >= entityIdFrom, in insertion order', async () => {
        const t = uniqueTenantId('from');
        const ids = ['b', 'a', 'd', 'c', 'aa', 'B', 'bz'];
        const tok = await store.writer.write(t, [{ writeTuples: ids.map((id) => T(`doc:${id}#viewer@user:1`)) }]);
        const got = await reader.queryRelationships(t, { entity: { type: 'doc' }, relation: 'viewer' }, tok, {
          entityIdFrom: 'b',
        });
        expect(got.map((x) => x.entity.id)).toEqual(['b', 'd', 'c', 'bz']);
        const attrs = ids.map((id) => A(`doc:${id}$n|integer:1`));
        const tok2 = await store.writer.write(t, [{ writeAttributes: attrs }]);
        const gotA = await reader.queryAttributes(t, { entity: { type: 'doc' } }, tok2, { entityIdFrom: 'c' });
        expect(gotA.map((x) => x.entity.id)).toEqual(['d', 'c']);
      });

      it('answers distinct subject ids ascending, by exact subject relation', async () => {
        const t = uniqueTenantId('unique');
        const tok = await store.writer.write(t, [
          {
            writeTuples: [
              'doc:1#viewer@user:b',
              'doc:2#viewer@user:a',
              'doc:3#viewer@user:b',
              'doc:1#editor@user:c',
              'doc:1#viewer@group:g1#member',
              'doc:2#viewer@group:g2#member',
              'doc:2#viewer@group:g3',
              'doc:3#viewer@group:g1#member',
            ].map(T),
          },
        ]);
        expect(await reader.queryUniqueSubjectIds(t, 'user', '', tok)).toEqual(['a', 'b', 'c']);
        expect(await reader.queryUniqueSubjectIds(t, 'group', 'member', tok)).toEqual(['g1', 'g2']);
        expect(await reader.queryUniqueSubjectIds(t, 'group', '', tok)).toEqual(['g3']);
        expect(await reader.queryUniqueSubjectIds(t, 'group', 'admin', tok)).toEqual([]);
        const tok2 = await store.writer.write(t, [{ deleteTuples: [T('doc:2#viewer@user:a')] }]);
        expect(await reader.queryUniqueSubjectIds(t, 'user', '', tok2)).toEqual(['b', 'c']);
        expect(await reader.queryUniqueSubjectIds(t, 'user', '', tok)).toEqual(['a', 'b', 'c']);
      });
    });

    describe('pagination', () => {
      let tenant: string;
      let token: SnapToken;
      const tuples = Array.from({ length: 23 }, (_, i) => `doc:${(i * 7) % 23}#viewer@user:${i % 5}`);
      const attributes = Array.from({ length: 23 }, (_, i) => `doc:${i}$rank|integer:${i}`);

      beforeAll(async () => {
        tenant = uniqueTenantId('pages');
        await store.writer.write(tenant, [{ writeTuples: tuples.slice(0, 10).map(T) }]);
        token = await store.writer.write(tenant, [
          { writeTuples: tuples.slice(10).map(T), writeAttributes: attributes.map(A) },
        ]);
      });

      it.each([1, 2, 7, 100])('pages relationships with size %i in insertion order', async (size) => {
        const { items, pages } = await allPages((p) => reader.readRelationships(tenant, {}, token, p), size);
        expect(ts(items)).toEqual(tuples);
        expect(pages).toBe(Math.max(1, Math.ceil(tuples.length / size)));
        const filtered = await allPages(
          (p) => reader.readRelationships(tenant, { subject: { type: 'user', ids: ['2'] } }, token, p),
          size,
        );
        expect(ts(filtered.items)).toEqual(tuples.filter((x) => x.endsWith('@user:2')));
      });

      it.each([1, 2, 7, 100])('pages attributes with size %i in insertion order', async (size) => {
        const { items } = await allPages(
          (p) => reader.readAttributes(tenant, { entity: { type: 'doc' } }, token, p),
          size,
        );
        expect(as(items)).toEqual(attributes);
      });

      it.each([1, 3, 50])('pages type-wide filters over mixed data with size %i, at an older token too', async (size) => {
        const t = uniqueTenantId('pages-mixed');
        const mixed = Array.from({ length: 40 }, (_, i) =>
          i % 3 === 0
            ? `folder:${i}#owner@user:${i % 4}`
            : `doc:${i}#${i % 2 === 0 ? 'viewer' : 'editor'}@${i % 5 === 0 ? `group:g${i % 3}#member` : `user:${i % 4}`}`,
        );
        const before = await store.writer.write(t, [{ writeTuples: mixed.map(T) }]);
        // Deleted after `before`: gone at the head, still there at `before`.
        const gone = mixed.filter((_, i) => i % 7 === 1);
        const head = await store.writer.write(t, [{ deleteTuples: gone.map(T) }]);
        const filters: [TupleFilter, (x: string) => boolean][] = [
          [{ entity: { type: 'doc' } }, (x) => x.startsWith('doc:')],
          [{ entity: { type: 'doc' }, relation: 'viewer' }, (x) => x.startsWith('doc:') && x.includes('#viewer@')],
          [{ subject: { type: 'user' } }, (x) => x.includes('@user:')],
          [{ subject: { type: 'group', relation: 'member' } }, (x) => x.includes('@group:')],
          [{ relation: 'owner' }, (x) => x.includes('#owner@')],
        ];
        for (const [filter, keep] of filters) {
          const atBefore = await allPages((p) => reader.readRelationships(t, filter, before, p), size);
          expect(ts(atBefore.items)).toEqual(mixed.filter(keep));
          const atHead = await allPages((p) => reader.readRelationships(t, filter, head, p), size);
          expect(ts(atHead.items)).toEqual(mixed.filter((x) => keep(x) && !gone.includes(x)));
        }
      });

      it('keeps a page sequence stable while new data is written (pinned token)', async () => {
        const first = await reader.readRelationships(tenant, {}, token, { size: 5 });
        await store.writer.write(tenant, [{ writeTuples: [T('doc:new#viewer@user:9')] }]);
        const rest = await allPages(
          (p) =>
            reader.readRelationships(tenant, {}, token, p.token === '' ? { size: 5, token: first.continuousToken } : p),
          5,
        );
        expect(ts([...first.items, ...rest.items])).toEqual(tuples);
      });

      it('rejects garbage continuation tokens with ERROR_CODE_INVALID_CONTINUOUS_TOKEN', async () => {
        for (const bad of ['garbage', '!!!!', 'eyJmb28iOjF9', 'AAAAAAAAAAA=']) {
          await expectCode(
            reader.readRelationships(tenant, {}, token, { size: 2, token: bad }),
            'ERROR_CODE_INVALID_CONTINUOUS_TOKEN',
          );
          await expectCode(
            reader.readAttributes(tenant, {}, token, { size: 2, token: bad }),
            'ERROR_CODE_INVALID_CONTINUOUS_TOKEN',
          );
        }
      });

      it('rejects a continuation token reused with another filter', async () => {
        const page = await reader.readRelationships(tenant, { entity: { type: 'doc' } }, token, { size: 2 });
        expect(page.continuousToken).not.toBe('');
        await expectCode(
          reader.readRelationships(tenant, { subject: { type: 'user' } }, token, {
            size: 2,
            token: page.continuousToken,
          }),
          'ERROR_CODE_INVALID_CONTINUOUS_TOKEN',
        );
      });

      it('rejects a page size below 1 with a PermifyError', async () => {
        await permifyErrorOf(reader.readRelationships(tenant, {}, token, { size: 0 }));
      });
    });

    describe('write semantics', () => {
      it('makes tuple writes idempotent and keeps the first insertion position', async () => {
        const t = uniqueTenantId('idem');
        await store.writer.write(t, [{ writeTuples: [T('doc:1#viewer@user:1'), T('doc:1#viewer@user:2')] }]);
        await store.writer.write(t, [
          { writeTuples: [T('doc:1#viewer@user:1'), T('doc:1#viewer@user:1'), T('doc:1#viewer@user:3')] },
        ]);
        expect(await all(t)).toEqual(['doc:1#viewer@user:1', 'doc:1#viewer@user:2', 'doc:1#viewer@user:3']);
      });

      it('normalises the subject relation ... to a plain subject', async () => {
        const t = uniqueTenantId('ellipsis');
        await store.writer.write(t, [{ writeTuples: [T('project:1#company@company:c1#...')] }]);
        await store.writer.write(t, [{ writeTuples: [T('project:1#company@company:c1')] }]);
        const got = await reader.queryRelationships(t, {}, await head(t));
        expect(got).toEqual([
          {
            entity: { type: 'project', id: '1' },
            relation: 'company',
            subject: { type: 'company', id: 'c1', relation: '' },
          },
        ]);
        await store.writer.write(t, [{ deleteTuples: [T('project:1#company@company:c1#...')] }]);
        expect(await all(t)).toEqual([]);
      });

      it('returns a fresh token for every write, even one that changes nothing', async () => {
        const t = uniqueTenantId('tokens');
        const a = await store.writer.write(t, [{ writeTuples: [T('doc:1#viewer@user:1')] }]);
        const b = await store.writer.write(t, [{ writeTuples: [T('doc:1#viewer@user:1')] }]);
        const c = await store.writer.write(t, []);
        expect(new Set([a, b, c]).size).toBe(3);
        expect(await all(t, {}, c)).toEqual(['doc:1#viewer@user:1']);
        expect(await head(t)).not.toBe('');
      });

      it('replaces the live value of an attribute', async () => {
        const t = uniqueTenantId('overwrite');
        await store.writer.write(t, [
          { writeAttributes: [A('doc:1$public|boolean:true'), A('doc:1$level|integer:1'), A('doc:2$level|integer:7')] },
        ]);
        await store.writer.write(t, [{ writeAttributes: [A('doc:1$public|boolean:false')] }]);
        const tok = await head(t);
        expect(await allAttributes(t, {}, tok)).toEqual([
          'doc:1$level|integer:1',
          'doc:2$level|integer:7',
          'doc:1$public|boolean:false',
        ]);
        const one = await reader.querySingleAttribute(t, { type: 'doc', id: '1' }, 'public', tok);
        expect(one?.value).toEqual({ type: 'boolean', value: false });
        expect(await reader.querySingleAttribute(t, { type: 'doc', id: '1' }, 'missing', tok)).toBeUndefined();
        expect(await reader.querySingleAttribute(t, { type: 'doc', id: '9' }, 'public', tok)).toBeUndefined();
      });

      it('stores every attribute value type faithfully', async () => {
        const t = uniqueTenantId('values');
        const values: AttributeValue[] = [
          { type: 'boolean', value: true },
          { type: 'boolean[]', value: [true, false] },
          { type: 'string', value: 'héllo "world"' },
          { type: 'string[]', value: ['a', '', 'c'] },
          { type: 'integer', value: -2147483648 },
          { type: 'integer[]', value: [1, 2147483647] },
          { type: 'double', value: 0.1 },
          { type: 'double[]', value: [1.5, -2e-300] },
        ];
        const attributes = values.map((value, i) => ({ entity: { type: 'doc', id: '1' }, attribute: `a${i}`, value }));
        const tok = await store.writer.write(t, [{ writeAttributes: attributes }]);
        expect(await reader.queryAttributes(t, {}, tok)).toEqual(attributes);
      });

      it('filters attributes by type, ids and names', async () => {
        const t = uniqueTenantId('attrfilters');
        const data = [
          'doc:1$a|integer:1',
          'doc:1$b|integer:2',
          'doc:2$a|integer:3',
          'user:1$a|integer:4',
          'doc:3$c|integer:5',
        ];
        const tok = await store.writer.write(t, [{ writeAttributes: data.map(A) }]);
        expect(await allAttributes(t, {}, tok)).toEqual(data);
        expect(await allAttributes(t, { entity: { type: 'doc' } }, tok)).toEqual(
          data.filter((d) => d.startsWith('doc')),
        );
        expect(await allAttributes(t, { entity: { type: 'doc', ids: ['1', '3'] } }, tok)).toEqual([
          'doc:1$a|integer:1',
          'doc:1$b|integer:2',
          'doc:3$c|integer:5',
        ]);
        expect(await allAttributes(t, { entity: { type: 'doc' }, attributes: ['a'] }, tok)).toEqual([
          'doc:1$a|integer:1',
          'doc:2$a|integer:3',
        ]);
        expect(await allAttributes(t, { attributes: ['a'] }, tok)).toEqual(data.filter((d) => d.includes('$a|')));
        expect(
          await allAttributes(t, { entity: { type: 'doc', ids: ['1', '2'] }, attributes: ['a', 'c'] }, tok),
        ).toEqual(['doc:1$a|integer:1', 'doc:2$a|integer:3']);
        expect(await allAttributes(t, { entity: { type: 'nothing' } }, tok)).toEqual([]);
      });

      it('deletes exact tuples and exact attributes', async () => {
        const t = uniqueTenantId('exact');
        await store.writer.write(t, [
          {
            writeTuples: [T('doc:1#viewer@user:1'), T('doc:1#viewer@group:g#member'), T('doc:1#viewer@group:g')],
            writeAttributes: [A('doc:1$a|integer:1'), A('doc:1$b|integer:2')],
          },
        ]);
        await store.writer.write(t, [
          {
            deleteTuples: [T('doc:1#viewer@group:g'), T('doc:1#viewer@user:404')],
            deleteAttributes: [{ entity: { type: 'doc', id: '1' }, attribute: 'a' }],
          },
        ]);
        expect(await all(t)).toEqual(['doc:1#viewer@user:1', 'doc:1#viewer@group:g#member']);
        expect(await allAttributes(t)).toEqual(['doc:1$b|integer:2']);
      });

      it('deletes by filters, and an empty filter deletes nothing', async () => {
        const t = uniqueTenantId('filterdel');
        const tuples = ['doc:1#viewer@user:1', 'doc:2#viewer@user:1', 'doc:2#editor@user:2', 'folder:1#viewer@user:1'];
        await store.writer.write(t, [
          {
            writeTuples: tuples.map(T),
            writeAttributes: [A('doc:1$a|integer:1'), A('doc:2$a|integer:2'), A('doc:2$b|integer:3')],
          },
        ]);
        await store.writer.write(t, [
          { deleteTupleFilters: [{}, { entity: {}, subject: {} }], deleteAttributeFilters: [{}] },
        ]);
        expect(await all(t)).toEqual(tuples);
        expect(await allAttributes(t)).toHaveLength(3);

        await store.writer.write(t, [
          {
            deleteTupleFilters: [{ entity: { type: 'doc' }, subject: { type: 'user', ids: ['1'] } }],
            deleteAttributeFilters: [{ entity: { type: 'doc', ids: ['2'] }, attributes: ['a'] }],
          },
        ]);
        expect(await all(t)).toEqual(['doc:2#editor@user:2', 'folder:1#viewer@user:1']);
        expect(await allAttributes(t)).toEqual(['doc:1$a|integer:1', 'doc:2$b|integer:3']);

        await store.writer.write(t, [
          { deleteTupleFilters: [{ relation: 'viewer' }], deleteAttributeFilters: [{ attributes: ['b'] }] },
        ]);
        expect(await all(t)).toEqual(['doc:2#editor@user:2']);
        expect(await allAttributes(t)).toEqual(['doc:1$a|integer:1']);
      });

      it('applies steps in order within one transaction', async () => {
        const t = uniqueTenantId('steps');
        const tok = await store.writer.write(t, [
          { writeTuples: [T('doc:1#viewer@user:1'), T('doc:1#viewer@user:2')] },
          { deleteTuples: [T('doc:1#viewer@user:1')] },
          { deleteTupleFilters: [{ subject: { type: 'user', ids: ['2'] } }] },
          { writeTuples: [T('doc:1#viewer@user:2')] },
          { writeAttributes: [A('doc:1$a|integer:1')] },
          { writeAttributes: [A('doc:1$a|integer:2')] },
        ]);
        expect(await all(t, {}, tok)).toEqual(['doc:1#viewer@user:2']);
        expect(await allAttributes(t, {}, tok)).toEqual(['doc:1$a|integer:2']);
        // Within one step: writes first, then deletes.
        await store.writer.write(t, [
          { writeTuples: [T('doc:9#viewer@user:9')], deleteTuples: [T('doc:9#viewer@user:9')] },
        ]);
        expect(await all(t, { entity: { type: 'doc', ids: ['9'] } })).toEqual([]);
      });

      it('puts a tuple that was deleted and written again at the end', async () => {
        const t = uniqueTenantId('rewrite');
        await store.writer.write(t, [{ writeTuples: [T('doc:1#viewer@user:1'), T('doc:1#viewer@user:2')] }]);
        await store.writer.write(t, [{ deleteTuples: [T('doc:1#viewer@user:1')] }]);
        await store.writer.write(t, [{ writeTuples: [T('doc:1#viewer@user:1')] }]);
        expect(await all(t)).toEqual(['doc:1#viewer@user:2', 'doc:1#viewer@user:1']);
      });

      it('serialises concurrent writers: nothing lost, nothing duplicated', async () => {
        const t = uniqueTenantId('concurrent');
        const writers = 24;
        const tokens = await Promise.all(
          Array.from({ length: writers }, (_, w) =>
            store.writer.write(t, [
              {
                writeTuples: [T(`doc:${w}#viewer@user:${w}`), T('doc:shared#viewer@user:shared')],
                writeAttributes: [A(`doc:${w}$n|integer:${w}`), A(`doc:shared$last|integer:${w}`)],
              },
            ]),
          ),
        );
        expect(new Set(tokens).size).toBe(writers);
        const got = await all(t);
        expect(got).toHaveLength(writers + 1);
        expect(new Set(got).size).toBe(writers + 1);
        for (let w = 0; w < writers; w += 1) expect(got).toContain(`doc:${w}#viewer@user:${w}`);
        const attrs = await allAttributes(t);
        expect(attrs.filter((x) => x.startsWith('doc:shared$last|'))).toHaveLength(1);
        expect(attrs).toHaveLength(writers + 1);
      });

      it('rejects malformed input with a PermifyError and writes nothing', async () => {
        const t = uniqueTenantId('malformed');
        const bad = { entity: { type: 'doc' }, relation: 'viewer', subject: { type: 'user', id: '1', relation: '' } };
        await permifyErrorOf(
          store.writer.write(t, [{ writeTuples: [T('doc:1#viewer@user:1'), bad as unknown as Tuple] }]),
        );
        const badValue = { entity: { type: 'doc', id: '1' }, attribute: 'a', value: { type: 'integer', value: 'x' } };
        await permifyErrorOf(store.writer.write(t, [{ writeAttributes: [badValue as unknown as Attribute] }]));
        expect(await all(t)).toEqual([]);
        expect(await allAttributes(t)).toEqual([]);
      });
    });

    describe('snapshot isolation', () => {
      it('pins a reader to its token: later writes, deletes and overwrites are invisible', async () => {
        const t = uniqueTenantId('snapshot');
        const t1 = await store.writer.write(t, [
          {
            writeTuples: [T('doc:1#viewer@user:1'), T('doc:1#viewer@user:2')],
            writeAttributes: [A('doc:1$a|integer:1')],
          },
        ]);
        const t2 = await store.writer.write(t, [
          {
            writeTuples: [T('doc:1#viewer@user:3')],
            deleteTuples: [T('doc:1#viewer@user:1')],
            writeAttributes: [A('doc:1$a|integer:2'), A('doc:1$b|integer:5')],
          },
        ]);
        const t3 = await store.writer.write(t, [
          { deleteTupleFilters: [{ entity: { type: 'doc' } }], deleteAttributeFilters: [{ entity: { type: 'doc' } }] },
        ]);

        expect(await all(t, {}, t1)).toEqual(['doc:1#viewer@user:1', 'doc:1#viewer@user:2']);
        expect(await allAttributes(t, {}, t1)).toEqual(['doc:1$a|integer:1']);
        expect((await reader.querySingleAttribute(t, { type: 'doc', id: '1' }, 'a', t1))?.value).toEqual({
          type: 'integer',
          value: 1,
        });
        expect(await all(t, { entity: { type: 'doc', ids: ['1'] }, relation: 'viewer' }, t2)).toEqual([
          'doc:1#viewer@user:2',
          'doc:1#viewer@user:3',
        ]);
        expect(await allAttributes(t, { entity: { type: 'doc', ids: ['1'] } }, t2)).toEqual([
          'doc:1$a|integer:2',
          'doc:1$b|integer:5',
        ]);
        expect(await all(t, {}, t3)).toEqual([]);
        expect(await allAttributes(t, {}, t3)).toEqual([]);
        expect(await reader.querySingleAttribute(t, { type: 'doc', id: '1' }, 'a', t3)).toBeUndefined();
        const page = await reader.readRelationships(t, {}, t1, { size: 1 });
        expect(ts(page.items)).toEqual(['doc:1#viewer@user:1']);
        expect(ts((await reader.readRelationships(t, {}, t1, { size: 1, token: page.continuousToken })).items)).toEqual(
          ['doc:1#viewer@user:2'],
        );
      });

      it('answers a head token that sees the latest write', async () => {
        const t = uniqueTenantId('head');
        await store.writer.write(t, [{ writeTuples: [T('doc:1#viewer@user:1')] }]);
        const h = await head(t);
        expect(await all(t, {}, h)).toEqual(['doc:1#viewer@user:1']);
      });
    });

    describe('schemas', () => {
      const defs = (n: number) => [
        { name: 'user', definition: 'entity user {}' },
        { name: 'doc', definition: `entity doc {\n  relation viewer @user\n  attribute n${n} integer\n}` },
      ];

      it('stores versions: head is the newest, old versions stay readable, unknown ones are undefined', async () => {
        const t = uniqueTenantId('schema');
        expect(await store.schemas.headVersion(t)).toBeUndefined();
        const v1 = await store.schemas.writeSchema(t, defs(1));
        const v2 = await store.schemas.writeSchema(t, defs(2));
        const v3 = await store.schemas.writeSchema(t, defs(3));
        for (const v of [v1, v2, v3]) expect(v).toMatch(/^[0-9a-v]{20}$/);
        expect(v1 < v2 && v2 < v3).toBe(true);
        expect(await store.schemas.headVersion(t)).toBe(v3);
        expect(await store.schemas.readSchema(t, v1)).toEqual(defs(1));
        expect(await store.schemas.readSchema(t, v3)).toEqual(defs(3));
        expect(await store.schemas.readSchema(t, 'aaaaaaaaaaaaaaaaaaaa')).toBeUndefined();
        expect(await store.schemas.readSchema(uniqueTenantId('schema-other'), v1)).toBeUndefined();
      });

      it('lists versions newest first, with pagination', async () => {
        const t = uniqueTenantId('schemalist');
        const versions: string[] = [];
        for (let i = 0; i < 5; i += 1) versions.push(await store.schemas.writeSchema(t, defs(i)));
        const newestFirst = [...versions].reverse();
        for (const size of [1, 2, 100]) {
          const { items } = await allPages((p) => store.schemas.listVersions(t, p), size);
          expect(items.map((v) => v.version)).toEqual(newestFirst);
          for (const v of items) expect(v.createdAt).toBeInstanceOf(Date);
        }
        await expectCode(
          store.schemas.listVersions(t, { size: 2, token: 'garbage!' }),
          'ERROR_CODE_INVALID_CONTINUOUS_TOKEN',
        );
      });
    });

    describe('tenants', () => {
      it('has the default tenant t1', async () => {
        const { items } = await allPages((p) => store.tenants.listTenants(p), 100);
        const t1 = items.find((x) => x.id === 't1');
        expect(t1?.name).toBe('example tenant');
      });

      it('creates tenants, rejects duplicates and lists ascending with pagination', async () => {
        const ids = [uniqueTenantId('tn-c'), uniqueTenantId('tn-a'), uniqueTenantId('tn-b')];
        for (const id of ids) {
          const created = await store.tenants.createTenant(id, `name of ${id}`);
          expect(created.id).toBe(id);
          expect(created.name).toBe(`name of ${id}`);
          expect(created.createdAt).toBeInstanceOf(Date);
        }
        await expectCode(store.tenants.createTenant(ids[0] as string, 'again'), 'ERROR_CODE_UNIQUE_CONSTRAINT');
        for (const size of [1, 2, 100]) {
          const { items } = await allPages((p) => store.tenants.listTenants(p), size);
          const listed = items.map((x) => x.id);
          expect(listed).toEqual([...listed].sort());
          expect(new Set(listed).size).toBe(listed.length);
          expect(listed.filter((id) => ids.includes(id))).toEqual([...ids].sort());
        }
        await expectCode(store.tenants.listTenants({ size: 1, token: '!!' }), 'ERROR_CODE_INVALID_CONTINUOUS_TOKEN');
      });

      it('deleting a tenant removes all of its data; unknown tenants are NOT_FOUND', async () => {
        const t = uniqueTenantId('tn-del');
        const keep = uniqueTenantId('tn-keep');
        await store.tenants.createTenant(t, 'doomed');
        await store.tenants.createTenant(keep, 'kept');
        for (const id of [t, keep]) {
          await store.writer.write(id, [
            { writeTuples: [T('doc:1#viewer@user:1')], writeAttributes: [A('doc:1$a|integer:1')] },
          ]);
          await store.writer.write(id, [{ deleteTuples: [T('doc:1#viewer@user:1')] }]);
          await store.writer.write(id, [{ writeTuples: [T('doc:2#viewer@user:2')] }]);
          await store.schemas.writeSchema(id, [{ name: 'user', definition: 'entity user {}' }]);
          await store.bundles.writeBundles(id, [{ name: 'b', arguments: [], operations: [] }]);
        }
        await store.tenants.deleteTenant(t);
        const h = await head(t);
        expect(await reader.queryRelationships(t, {}, h)).toEqual([]);
        expect(await reader.queryAttributes(t, {}, h)).toEqual([]);
        expect(await store.schemas.headVersion(t)).toBeUndefined();
        await expectCode(store.bundles.readBundle(t, 'b'), 'ERROR_CODE_BUNDLE_NOT_FOUND');
        const { items } = await allPages((p) => store.tenants.listTenants(p), 100);
        expect(items.map((x) => x.id)).not.toContain(t);
        expect(items.map((x) => x.id)).toContain(keep);
        await expectCode(store.tenants.deleteTenant(t), 'ERROR_CODE_NOT_FOUND');

        // The other tenant is untouched, and the id can be created again, empty.
        expect(await all(keep)).toEqual(['doc:2#viewer@user:2']);
        expect(await store.schemas.headVersion(keep)).toMatch(/^[0-9a-v]{20}$/);
        await store.tenants.createTenant(t, 'reborn');
        expect(await all(t)).toEqual([]);
      });
    });

    describe('bundles', () => {
      const bundle = {
        name: 'organization_created',
        arguments: ['creatorID', 'organizationID'],
        operations: [
          {
            relationshipsWrite: ['organization:{{.organizationID}}#admin@user:{{.creatorID}}'],
            relationshipsDelete: [],
            attributesWrite: ['organization:{{.organizationID}}$public|boolean:false'],
            attributesDelete: [],
          },
        ],
      };

      it('upserts, reads and deletes bundles', async () => {
        const t = uniqueTenantId('bundles');
        const other = { name: 'other', arguments: [], operations: [] };
        expect(await store.bundles.writeBundles(t, [bundle, other])).toEqual(['organization_created', 'other']);
        expect(await store.bundles.readBundle(t, 'organization_created')).toEqual(bundle);
        const changed = { ...bundle, arguments: ['organizationID'] };
        expect(await store.bundles.writeBundles(t, [changed])).toEqual(['organization_created']);
        expect(await store.bundles.readBundle(t, 'organization_created')).toEqual(changed);
        await store.bundles.deleteBundle(t, 'organization_created');
        await expectCode(store.bundles.readBundle(t, 'organization_created'), 'ERROR_CODE_BUNDLE_NOT_FOUND');
        await expectCode(store.bundles.deleteBundle(t, 'organization_created'), 'ERROR_CODE_BUNDLE_NOT_FOUND');
        expect(await store.bundles.readBundle(t, 'other')).toEqual(other);
        await expectCode(store.bundles.readBundle(uniqueTenantId('nobundles'), 'other'), 'ERROR_CODE_BUNDLE_NOT_FOUND');
      });
    });

    describe('watch', () => {
      it('delivers one change set per write transaction, in order, resumable from any token', async () => {
        const t = uniqueTenantId('watch');
        await store.tenants.createTenant(t, 'watched');
        const start = await store.writer.write(t, [{ writeTuples: [T('doc:0#viewer@user:0')] }]);
        await store.writer.write(t, [
          {
            writeTuples: [T('doc:1#viewer@user:1'), T('doc:0#viewer@user:0')],
            writeAttributes: [A('doc:1$a|integer:1')],
          },
        ]);
        await store.writer.write(t, [
          { deleteTuples: [T('doc:0#viewer@user:0')], writeAttributes: [A('doc:1$a|integer:2')] },
        ]);
        const w3 = await store.writer.write(t, [{ writeTuples: [T('doc:1#viewer@user:1')] }]);
        await store.writer.write(t, [{ deleteTupleFilters: [{ entity: { type: 'doc' } }] }]);

        // Delivered tokens name the same transactions as the write tokens but may be spelled differently
        // (PostgreSQL emits its legacy format), so events are identified by their content and position.
        const ac = new AbortController();
        const it = store.watcher.watch(t, start, ac.signal)[Symbol.asyncIterator]();
        const delivered: DataChanges[] = [];
        try {
          delivered.push(...(await take(it, 4)));
          expect(delivered.map(changeText)).toEqual([
            ['create doc:1#viewer@user:1', 'create doc:1$a|integer:1'],
            ['delete doc:0#viewer@user:0', 'delete doc:1$a|integer:1', 'create doc:1$a|integer:2'],
            [],
            ['delete doc:1#viewer@user:1'],
          ]);
          expect(new Set(delivered.map((c) => c.snapToken)).size).toBe(4);

          // Live delivery of a later write.
          await store.writer.write(t, [{ writeTuples: [T('doc:5#viewer@user:5')] }]);
          const [live] = await take(it, 1);
          expect(changeText(live as DataChanges)).toEqual(['create doc:5#viewer@user:5']);
          // A delivered token is a valid read token.
          expect(await all(t, {}, (live as DataChanges).snapToken)).toEqual(['doc:5#viewer@user:5']);
          expect(await all(t, {}, (delivered[0] as DataChanges).snapToken)).toEqual([
            'doc:0#viewer@user:0',
            'doc:1#viewer@user:1',
          ]);
        } finally {
          ac.abort();
          await it.return?.();
        }

        // Resume from a delivered token: exactly the transactions after it.
        const ac2 = new AbortController();
        const resumeToken = (delivered[1] as DataChanges).snapToken;
        const resumed = store.watcher.watch(t, resumeToken, ac2.signal)[Symbol.asyncIterator]();
        try {
          const got = await take(resumed, 3);
          expect(got.map(changeText)).toEqual([[], ['delete doc:1#viewer@user:1'], ['create doc:5#viewer@user:5']]);
        } finally {
          ac2.abort();
          await resumed.return?.();
        }

        // Resume from a token returned by a write.
        const ac3 = new AbortController();
        const fromWrite = store.watcher.watch(t, w3, ac3.signal)[Symbol.asyncIterator]();
        try {
          const got = await take(fromWrite, 2);
          expect(got.map(changeText)).toEqual([['delete doc:1#viewer@user:1'], ['create doc:5#viewer@user:5']]);
        } finally {
          ac3.abort();
          await fromWrite.return?.();
        }
      });

      it('starts from now for an empty token and ends when the signal aborts', async () => {
        const t = uniqueTenantId('watchnow');
        await store.tenants.createTenant(t, 'watched');
        await store.writer.write(t, [{ writeTuples: [T('doc:old#viewer@user:1')] }]);
        const ac = new AbortController();
        const it = store.watcher.watch(t, '', ac.signal)[Symbol.asyncIterator]();
        const first = it.next();
        // Give a polling store a moment to establish its starting point before the write.
        await new Promise((resolve) => setTimeout(resolve, 300));
        const w = await store.writer.write(t, [{ writeTuples: [T('doc:new#viewer@user:1')] }]);
        let timer: NodeJS.Timeout | undefined;
        try {
          const r = await Promise.race([
            first,
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new Error('no watch event')), WATCH_TIMEOUT_MS);
            }),
          ]);
          expect(r.done).toBe(false);
          expect(await all(t, {}, (r.value as DataChanges).snapToken)).toEqual(await all(t, {}, w));
          expect(changeText(r.value as DataChanges)).toEqual(['create doc:new#viewer@user:1']);
        } finally {
          clearTimeout(timer);
        }
        const pending = it.next();
        ac.abort();
        const ended = await pending.then(
          (r) => r.done,
          (e: unknown) => e instanceof PermifyError && e.code === 'ERROR_CODE_CANCELLED',
        );
        expect(ended).toBe(true);
      });
    });

    describe('bulk import and export', () => {
      /** Every page of an export at `token` with page size `size`. */
      const exportAll = async (
        tenant: string,
        token: SnapToken,
        size: number,
      ): Promise<{ tuples: string[]; attributes: string[]; pages: number }> => {
        const tuples: string[] = [];
        const attributes: string[] = [];
        let cursor = '';
        let pages = 0;
        do {
          const page = await store.bulk.exportPage(tenant, token, cursor, size);
          expect(page.tuples.length + page.attributes.length).toBeLessThanOrEqual(size);
          tuples.push(...ts(page.tuples));
          attributes.push(...as(page.attributes));
          cursor = page.cursor;
          pages += 1;
          expect(pages).toBeLessThan(100);
        } while (cursor !== '');
        return { tuples, attributes, pages };
      };

      it('imports a batch as one transaction: live duplicates are no-ops, attributes overwrite (last wins)', async () => {
        const t = uniqueTenantId('bulk-import');
        await store.writer.write(t, [
          { writeTuples: [T('doc:1#viewer@user:1')], writeAttributes: [A('doc:1$a|integer:1')] },
        ]);
        const before = await head(t);
        const token = await store.bulk.importBatch(t, {
          tuples: [
            T('doc:1#viewer@user:1'),
            T('doc:2#viewer@user:2'),
            T('doc:2#viewer@user:2'),
            T('doc:3#viewer@group:g#member'),
          ],
          attributes: [A('doc:1$a|integer:2'), A('doc:2$b|boolean:true'), A('doc:1$a|integer:3')],
        });
        expect(await all(t, {}, token)).toEqual([
          'doc:1#viewer@user:1',
          'doc:2#viewer@user:2',
          'doc:3#viewer@group:g#member',
        ]);
        expect((await allAttributes(t, {}, token)).sort()).toEqual(['doc:1$a|integer:3', 'doc:2$b|boolean:true']);
        // The batch is invisible at the earlier token.
        expect(await all(t, {}, before)).toEqual(['doc:1#viewer@user:1']);
        // Re-applying the batch (a resumed import) changes no tuple.
        const again = await store.bulk.importBatch(t, {
          tuples: [T('doc:2#viewer@user:2'), T('doc:3#viewer@group:g#member')],
          attributes: [A('doc:1$a|integer:3')],
        });
        expect(await all(t, {}, again)).toEqual(await all(t, {}, token));
        expect((await allAttributes(t, {}, again)).sort()).toEqual(['doc:1$a|integer:3', 'doc:2$b|boolean:true']);
      });

      it('exports every live item at a snapshot exactly once, in pages, whatever the page size', async () => {
        const t = uniqueTenantId('bulk-export');
        const tuples = Array.from({ length: 23 }, (_, i) => T(`doc:${i}#viewer@user:${i % 5}`));
        const attributes = Array.from({ length: 7 }, (_, i) => A(`doc:${i}$n|integer:${i}`));
        await store.bulk.importBatch(t, { tuples: tuples.slice(0, 10), attributes: attributes.slice(0, 3) });
        await store.writer.write(t, [
          { deleteTuples: [T('doc:4#viewer@user:4')], writeAttributes: [A('doc:0$n|integer:9')] },
        ]);
        const snap = await store.bulk.importBatch(t, { tuples: tuples.slice(10), attributes: attributes.slice(3) });
        // Writes after the snapshot are not exported at it.
        await store.writer.write(t, [
          { writeTuples: [T('doc:99#viewer@user:1')], deleteTuples: [T('doc:0#viewer@user:0')] },
        ]);
        const expected = { tuples: await all(t, {}, snap), attributes: await allAttributes(t, {}, snap) };
        expect(expected.tuples).toHaveLength(22);
        expect(expected.attributes).toHaveLength(7);
        for (const size of [1, 4, 22, 29, 30, 1000]) {
          const got = await exportAll(t, snap, size);
          expect({ tuples: got.tuples, attributes: got.attributes }).toEqual(expected);
          expect(got.pages).toBeGreaterThanOrEqual(Math.ceil(29 / size));
        }
        expect(await exportAll(uniqueTenantId('bulk-empty'), await head(t), 10)).toEqual({
          tuples: [],
          attributes: [],
          pages: 1,
        });
        await expectCode(store.bulk.exportPage(t, snap, 'garbage', 10), 'ERROR_CODE_INVALID_CONTINUOUS_TOKEN');
      });

      it('round trip: export, import into an empty tenant, export again gives identical data', async () => {
        const t = uniqueTenantId('bulk-src');
        await store.writer.write(t, [
          {
            writeTuples: [T('doc:b#viewer@user:1'), T('doc:a#owner@org:o#member'), T('doc:c-1_x#viewer@user:2')],
            writeAttributes: [A('doc:a$tags|string[]:x,y'), A('doc:a$score|double:1.5')],
          },
        ]);
        const first = await exportAll(t, await head(t), 2);
        const u = uniqueTenantId('bulk-dst');
        await store.bulk.importBatch(u, {
          tuples: first.tuples.map(T),
          attributes: first.attributes.map(A),
        });
        const second = await exportAll(u, await head(u), 2);
        expect(second.tuples).toEqual(first.tuples);
        expect(second.attributes).toEqual(first.attributes);
      });

      it('exports values with tabs, newlines, backslashes, quotes and non-ASCII text unchanged', async () => {
        const t = uniqueTenantId("bulk-q'uote");
        const odd = 'a\tb\nc\\d\\ne\'f"g\r\u0001h €😀';
        await store.writer.write(t, [
          {
            writeTuples: [T('doc:1#viewer@user:1')],
            writeAttributes: [
              { entity: { type: 'doc', id: '1' }, attribute: 's', value: { type: 'string', value: odd } },
              { entity: { type: 'doc', id: '1' }, attribute: 'l', value: { type: 'string[]', value: [odd, '\\', ''] } },
            ],
          },
        ]);
        const page = await store.bulk.exportPage(t, await head(t), '', 10);
        expect(ts(page.tuples)).toEqual(['doc:1#viewer@user:1']);
        expect(page.attributes.map((a) => a.value)).toEqual([
          { type: 'string', value: odd },
          { type: 'string[]', value: [odd, '\\', ''] },
        ]);
        expect(page.cursor).toBe('');
      });

      it('Watch delivers an imported batch as one change set', async () => {
        const t = uniqueTenantId('bulk-watch');
        await store.tenants.createTenant(t, 'watched');
        const start = await store.writer.write(t, [{ writeTuples: [T('doc:0#viewer@user:0')] }]);
        await store.bulk.importBatch(t, {
          tuples: [T('doc:1#viewer@user:1'), T('doc:0#viewer@user:0')],
          attributes: [A('doc:1$a|integer:1')],
        });
        const ac = new AbortController();
        const it = store.watcher.watch(t, start, ac.signal)[Symbol.asyncIterator]();
        try {
          const [changes] = await take(it, 1);
          expect(changeText(changes as DataChanges)).toEqual([
            'create doc:1#viewer@user:1',
            'create doc:1$a|integer:1',
          ]);
        } finally {
          ac.abort();
          await it.return?.();
        }
      });
    });

    // Last: a zero window collects history of every tenant in the store.
    describe('garbage collection', () => {
      it('keeps history younger than the window', async () => {
        const t = uniqueTenantId('gc-keep');
        await store.tenants.createTenant(t, 'gc');
        const t1 = await store.writer.write(t, [{ writeTuples: [T('doc:1#viewer@user:1')] }]);
        await store.writer.write(t, [{ deleteTuples: [T('doc:1#viewer@user:1')] }]);
        await store.gc.collect(3_600_000);
        expect(await all(t, {}, t1)).toEqual(['doc:1#viewer@user:1']);
      });

      it('removes history older than the window and never live data', async () => {
        const t = uniqueTenantId('gc');
        await store.tenants.createTenant(t, 'gc');
        const t1 = await store.writer.write(t, [
          {
            writeTuples: [T('doc:1#viewer@user:1'), T('doc:1#viewer@user:2')],
            writeAttributes: [A('doc:1$a|integer:1')],
          },
        ]);
        await store.writer.write(t, [
          { deleteTuples: [T('doc:1#viewer@user:1')], writeAttributes: [A('doc:1$a|integer:2')] },
        ]);
        const t3 = await store.writer.write(t, [{ writeTuples: [T('doc:2#viewer@user:3')] }]);
        await new Promise((resolve) => setTimeout(resolve, 20));
        const { removedRows } = await store.gc.collect(0);
        expect(removedRows).toBeGreaterThanOrEqual(2);
        const h = await head(t);
        expect(await all(t, {}, h)).toEqual(['doc:1#viewer@user:2', 'doc:2#viewer@user:3']);
        expect(await allAttributes(t, {}, h)).toEqual(['doc:1$a|integer:2']);
        expect(await all(t, {}, t3)).toEqual(['doc:1#viewer@user:2', 'doc:2#viewer@user:3']);
        // The expired rows are physically gone: even the old snapshot no longer shows them.
        const old = await reader.queryRelationships(t, {}, t1).then(ts, () => [] as string[]);
        expect(old).not.toContain('doc:1#viewer@user:1');
        // New writes still work after a collection.
        await store.writer.write(t, [{ writeTuples: [T('doc:3#viewer@user:4')] }]);
        expect(await all(t)).toEqual(['doc:1#viewer@user:2', 'doc:2#viewer@user:3', 'doc:3#viewer@user:4']);
        const second = await store.gc.collect(3_600_000);
        expect(second.removedRows).toBe(0);
      });
    });
  });
}
