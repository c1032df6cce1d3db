import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeSnapToken } from './snap-token.js';

/** The token format: standard base64 of the 8-byte little-endian transaction id. */
function reference(tx: number): string {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(BigInt(tx));
  return bytes.toString('base64');
}

describe('encodeSnapToken', () => {
  afterEach(() => vi.restoreAllMocks());

  it('encodes 8 little-endian bytes in base64 over the whole safe-integer range', () => {
    for (const tx of [0, 1, 255, 256, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 12345, Number.MAX_SAFE_INTEGER]) {
      expect(encodeSnapToken(tx)).toBe(reference(tx));
    }
    expect(encodeSnapToken(1)).toBe('AQAAAAAAAAA=');
  });

  it('a head read over and over is encoded once, then served as a string (no Buffer per call)', () => {
    const tx = 987_654_321;
    encodeSnapToken(tx);
    const alloc = vi.spyOn(Buffer, 'alloc');
    const from = vi.spyOn(Buffer, 'from');
    for (let i = 0; i < 100; i++) expect(encodeSnapToken(tx)).toBe(reference(tx));
    // reference() allocates once per call itself.
    expect(alloc).toHaveBeenCalledTimes(100);
    expect(from).not.toHaveBeenCalled();
  });
});
