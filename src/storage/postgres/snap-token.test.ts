import { describe, expect, it } from 'vitest';
import { PermifyError } from '../../errors.js';
import {
  compareTokens,
  decodeToken,
  encodeToken,
  legacyToken,
  parsePgSnapshot,
  visibleAtToken,
  visibleInSnapshot,
  writeToken,
} from './snap-token.js';

describe('postgres snap tokens', () => {
  it('post-processes a write token as documented (xid 1050, snapshot 1048:1050:1048)', () => {
    const tok = writeToken(1050n, parsePgSnapshot('1048:1050:1048'));
    expect(Buffer.from(tok, 'base64').toString('ascii')).toBe('1050:1048:1051:1048,1050');
    expect(decodeToken(tok)).toEqual({ xid: 1050n, snapshot: { xmin: 1048n, xmax: 1051n, xip: [1048n, 1050n] } });
  });

  it('lowers xmin to the xid when needed and keeps the list sorted and unique', () => {
    const tok = writeToken(7n, parsePgSnapshot('9:12:11,10,10'));
    expect(Buffer.from(tok, 'base64').toString('ascii')).toBe('7:7:12:7,10,11');
  });

  it('a write whose id is past its snapshot keeps the snapshot: the ids in between stay invisible', () => {
    // Transactions 1050..1059 took ids after X's snapshot was taken; X never saw them, so its token must not.
    const tok = writeToken(1060n, parsePgSnapshot('1048:1050:1048'));
    expect(Buffer.from(tok, 'base64').toString('ascii')).toBe('1060:1048:1050:1048');
    const decoded = decodeToken(tok);
    for (let y = 1050n; y < 1060n; y += 1n) expect(visibleAtToken(y, decoded), String(y)).toBe(false);
    expect(visibleAtToken(1060n, decoded)).toBe(true);
    expect(visibleAtToken(1048n, decoded)).toBe(false);
    expect(visibleAtToken(1049n, decoded)).toBe(true);
    // A huge gap costs nothing: the token is as long as the snapshot.
    expect(Buffer.from(writeToken(10n ** 12n, parsePgSnapshot('1048:1050:1048')), 'base64').length).toBeLessThan(40);
  });

  it('orders tokens by their transaction id, across digit counts', () => {
    const a = writeToken(9_999n, parsePgSnapshot('9999:9999:'));
    const b = writeToken(10_000n, parsePgSnapshot('9999:10000:9999'));
    expect(compareTokens(a, b)).toBe(-1);
    expect(compareTokens(b, a)).toBe(1);
    expect(compareTokens(legacyToken(10_000n), b)).toBe(0);
  });

  it('encodes legacy tokens as 8-byte little-endian ids', () => {
    expect(legacyToken(0n)).toBe('AAAAAAAAAAA=');
    expect(decodeToken(legacyToken(258n))).toEqual({ xid: 258n });
    expect(encodeToken({ xid: 5n })).toBe(legacyToken(5n));
  });

  it('rejects undecodable tokens with ERROR_CODE_INVALID_ARGUMENT', () => {
    for (const bad of [
      '',
      'not base64!',
      Buffer.from('abc').toString('base64'),
      Buffer.from('1:x:y:').toString('base64'),
      Buffer.from('5:9:3:').toString('base64'),
    ]) {
      let err: unknown;
      try {
        decodeToken(bad);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(PermifyError);
      expect((err as PermifyError).code).toBe('ERROR_CODE_INVALID_ARGUMENT');
    }
  });

  it('implements pg_visible_in_snapshot', () => {
    const s = parsePgSnapshot('10:20:12,15');
    expect([9n, 10n, 12n, 15n, 16n, 20n].map((x) => visibleInSnapshot(x, s))).toEqual([
      true,
      true,
      false,
      false,
      true,
      false,
    ]);
  });
});
