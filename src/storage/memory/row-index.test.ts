import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChainIndex, Columns, Interner, IntList } from './row-index.js';

describe('Interner', () => {
  it('gives each distinct string one dense id and maps it back', () => {
    const s = new Interner();
    expect(s.intern('a')).toBe(0);
    expect(s.intern('b')).toBe(1);
    expect(s.intern('a')).toBe(0);
    expect(s.lookup('b')).toBe(1);
    expect(s.lookup('zzz')).toBe(-1);
    expect(s.get(1)).toBe('b');
  });
});

describe('IntList', () => {
  it('grows while keeping its contents', () => {
    const l = new IntList();
    for (let i = 0; i < 1000; i += 1) l.push(i * 3);
    expect(l.length).toBe(1000);
    expect(l.data[999]).toBe(2997);
    expect(l.data[17]).toBe(51);
  });
});

describe('ChainIndex', () => {
  it('chains every row of a key in insertion order, through growth and rehashing', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 5 })), { maxLength: 400 }),
        (keys) => {
          const table = new Columns(2);
          const index = new ChainIndex(table, [0, 1]);
          const reference = new Map<string, number[]>();
          for (const [a, b] of keys) {
            const row = table.appendRow();
            (table.cols[0] as Int32Array)[row] = a;
            (table.cols[1] as Int32Array)[row] = b;
            index.add(row);
            const k = `${a},${b}`;
            reference.set(k, [...(reference.get(k) ?? []), row]);
          }
          expect(index.keyCount).toBe(reference.size);
          for (let a = 0; a <= 31; a += 1) {
            for (let b = 0; b <= 5; b += 1) {
              const rows: number[] = [];
              for (let r = index.first([a, b]); r >= 0; r = index.next[r] as number) rows.push(r);
              const want = reference.get(`${a},${b}`) ?? [];
              expect(rows).toEqual(want);
              expect(index.last([a, b])).toBe(want.length > 0 ? want[want.length - 1] : -1);
            }
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
