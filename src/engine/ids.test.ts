import { describe, expect, it } from 'vitest';
import { compareIds, LazySortedIds, sortIds } from './ids.js';

describe('compareIds', () => {
  it('orders byte-wise', () => {
    expect(sortIds(['2', '10', '1', 'b', 'B', 'a'])).toEqual(['1', '10', '2', 'B', 'a', 'b']);
  });
  it('sortIds switches to the code point comparison when surrogates occur', () => {
    expect(sortIds(['\u{1F600}', '\uFF21', 'a'])).toEqual(['a', '\uFF21', '\u{1F600}']);
  });
  it('matches UTF-8 byte order for astral vs high-BMP characters', () => {
    const astral = '\u{1F600}';
    const highBmp = '\uFF21';
    expect(compareIds(astral, highBmp)).toBeGreaterThan(0);
    expect(Buffer.compare(Buffer.from(astral), Buffer.from(highBmp))).toBeGreaterThan(0);
    expect(compareIds('ab', 'abc')).toBeLessThan(0);
    expect(compareIds('x', 'x')).toBe(0);
  });
  it('agrees with Buffer.compare on random strings', () => {
    const pool = ['a', 'Z', '0', '\u00e9', '\uFF21', '\u{1F600}', '\u{10000}', '\uE000'];
    for (let n = 0; n < 500; n++) {
      const mk = () =>
        Array.from({ length: 1 + (n % 4) }, (_, i) => pool[(n * 7 + i * 13 + (n >> 2)) % pool.length]).join('');
      const a = mk();
      const b = Array.from(mk()).reverse().join('');
      expect(Math.sign(compareIds(a, b))).toBe(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
    }
  });
});

describe('LazySortedIds', () => {
  const pool = ['a', 'b', 'Z', '0', '9', '\u00e9', '\uFF21', '\u{1F600}', '\u{10000}', '\uE000'];
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const randomIds = (n: number, astral: boolean): string[] => {
    const set = new Set<string>();
    while (set.size < n) {
      const len = 1 + rnd(6);
      let s = '';
      for (let i = 0; i < len; i++) s += pool[rnd(astral ? pool.length : 5)] as string;
      set.add(s);
    }
    return [...set];
  };
  it('reads back exactly the sorted order, for any chunk size, with and without surrogates and a lower bound', () => {
    for (let round = 0; round < 300; round++) {
      const n = rnd(400);
      const ids = randomIds(n, round % 2 === 0);
      const from = round % 3 === 0 && n > 0 ? ids[rnd(n)] : undefined;
      const expected = sortIds(ids.slice()).filter((id) => from === undefined || compareIds(id, from) >= 0);
      const lazy = new LazySortedIds(ids.slice(), 1 + rnd(50), from);
      expect(lazy.length).toBe(expected.length);
      const got: string[] = [];
      // Random access forward with occasional look-backs, as the lookup window does.
      for (let i = 0; i < lazy.length; i++) {
        if (i > 0 && rnd(5) === 0) {
          const j = rnd(i);
          expect(lazy.at(j)).toBe(expected[j]);
        }
        got.push(lazy.at(i) as string);
      }
      expect(got).toEqual(expected);
      expect(lazy.at(lazy.length)).toBeUndefined();
    }
  });
  it('sorts only a prefix when only the first ids are read', () => {
    const ids = Array.from({ length: 100_000 }, (_, i) => `doc-${(i * 7919) % 100_000}`);
    const lazy = new LazySortedIds(ids, 128);
    const first = Array.from({ length: 100 }, (_, i) => lazy.at(i));
    expect(first).toEqual(sortIds(ids.slice()).slice(0, 100));
  });
});
