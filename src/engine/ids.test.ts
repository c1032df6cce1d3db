import { describe, expect, it } from 'vitest';
import { compareIds, sortIds } from './ids.js';

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
