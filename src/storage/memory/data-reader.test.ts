import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TupleFilter } from '../contract.js';
import { matchTupleRows, queryEntityRelation, tupleAt } from './data-reader.js';
import { T_EXPIRED, TenantData } from './tables.js';

const word = (prefix: string, n: number) => fc.integer({ min: 0, max: n - 1 }).map((i) => `${prefix}${i}`);
const rowArb = fc.record({
  et: word('t', 2),
  eid: word('e', 2),
  rel: word('r', 2),
  st: word('s', 2),
  sid: word('u', 8),
  srel: fc.constantFrom('', 'member', 'owner'),
  tx: fc.integer({ min: 1, max: 5 }),
  expiredAt: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
});
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const filterArb = fc.record({
  et: fc.oneof(word('t', 3), fc.constant(''), fc.constant(undefined)),
  eids: maybe(
    fc.oneof(
      word('e', 4).map((e) => [e]),
      fc.array(word('e', 4), { maxLength: 2 }),
    ),
  ),
  rel: fc.oneof(word('r', 3), word('r', 3), fc.constant(''), fc.constant(undefined)),
  st: fc.oneof(word('s', 3), word('s', 3), fc.constant(undefined)),
  sids: maybe(
    fc.oneof(
      word('u', 9).map((u) => [u]),
      fc.array(word('u', 9), { maxLength: 2 }),
    ),
  ),
  srel: maybe(fc.constantFrom('', 'member', 'owner', 'nope')),
});

describe('queryEntityRelation', () => {
  it('answers exactly what the generic filter path answers, whenever it takes the filter', () => {
    let taken = 0;
    fc.assert(
      fc.property(
        fc.array(rowArb, { minLength: 20, maxLength: 90 }),
        filterArb,
        fc.integer({ min: 0, max: 6 }),
        (rows, f, tx) => {
          const data = new TenantData();
          const s = data.strings;
          for (const r of rows) {
            const row = data.tuples.append(
              s.intern(r.et),
              s.intern(r.eid),
              s.intern(r.rel),
              s.intern(r.st),
              s.intern(r.sid),
              s.intern(r.srel),
              r.tx,
            );
            if (r.expiredAt !== undefined) data.tuples.txCol(T_EXPIRED)[row] = Math.max(r.tx + 1, r.expiredAt);
          }
          const filter: TupleFilter = {
            entity: f.et === undefined && f.eids === undefined ? undefined : { type: f.et ?? '', ids: f.eids ?? [] },
            relation: f.rel,
            subject:
              f.st === undefined && f.sids === undefined && f.srel === undefined
                ? undefined
                : { type: f.st, ids: f.sids, relation: f.srel },
          } as TupleFilter;
          const fast = queryEntityRelation(data, filter, tx);
          if (fast === undefined) return;
          taken++;
          expect(fast).toEqual(matchTupleRows(data, filter, tx).map((row) => tupleAt(data, row)));
        },
      ),
      { numRuns: 2000, seed: 7 },
    );
    expect(taken).toBeGreaterThan(100);
  });

  it('declines filters of other shapes', () => {
    const data = new TenantData();
    expect(queryEntityRelation(data, { entity: { type: 't', ids: ['a', 'b'] }, relation: 'r' }, 1)).toBeUndefined();
    expect(queryEntityRelation(data, { entity: { type: 't', ids: ['a'] } }, 1)).toBeUndefined();
    expect(queryEntityRelation(data, { entity: { type: 't', ids: ['a'] }, relation: 'r' }, 1, 'b')).toBeUndefined();
  });
});
