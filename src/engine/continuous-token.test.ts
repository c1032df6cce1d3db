import { describe, expect, it } from 'vitest';
import { isPermifyError } from '../errors.js';
import { decodeToken, encodeToken, hashRequest } from './continuous-token.js';

const code = (f: () => unknown): string => {
  try {
    f();
    return 'ok';
  } catch (e) {
    return isPermifyError(e) ? e.code : 'other';
  }
};

describe('continuation tokens', () => {
  const h = hashRequest(['lookup', 't1', 'doc', 'view']);
  it('round-trip', () => {
    const t = encodeToken({ next: '10', snapToken: 'abc', schemaVersion: 'v1', requestHash: h });
    expect(decodeToken(t, h)).toEqual({ next: '10', snapToken: 'abc', schemaVersion: 'v1', requestHash: h });
  });
  it('rejects garbage and tokens of other requests', () => {
    const t = encodeToken({ next: '10', snapToken: 'abc', schemaVersion: 'v1', requestHash: h });
    expect(code(() => decodeToken(t, hashRequest(['lookup', 't1', 'doc', 'edit'])))).toBe(
      'ERROR_CODE_INVALID_CONTINUOUS_TOKEN',
    );
    expect(code(() => decodeToken('Mg==', h))).toBe('ERROR_CODE_INVALID_CONTINUOUS_TOKEN');
    expect(code(() => decodeToken('not a token', h))).toBe('ERROR_CODE_INVALID_CONTINUOUS_TOKEN');
    expect(code(() => decodeToken(Buffer.from('{"v":1}').toString('base64url'), h))).toBe(
      'ERROR_CODE_INVALID_CONTINUOUS_TOKEN',
    );
  });
  it('hash separates parts unambiguously', () => {
    expect(hashRequest(['ab', 'c'])).not.toBe(hashRequest(['a', 'bc']));
  });
});
