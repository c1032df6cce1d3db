import { describe, expect, it } from 'vitest';
import { PermifyError } from '../../errors.js';
import { decodeToken, encodeToken, legacyToken, parsePgSnapshot, visibleInSnapshot, writeToken } from './snap-token.js';

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
