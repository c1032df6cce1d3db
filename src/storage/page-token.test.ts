import { describe, expect, it } from 'vitest';
import { PermifyError } from '../errors.js';
import { checkPageSize, decodePageToken, encodePageToken, tupleFilterKey } from './page-token.js';

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof PermifyError) return e.code;
    throw e;
  }
  return 'no error';
}

describe('page tokens', () => {
  const key = tupleFilterKey({ entity: { type: 'doc' } });

  it('round-trip a position for the same listing and request', () => {
    const token = encodePageToken('tuples', '42', key);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodePageToken(token, 'tuples', key)).toBe('42');
  });

  it('treat empty and missing filter fields alike', () => {
    expect(tupleFilterKey({})).toBe(tupleFilterKey({ entity: { type: '', ids: [] }, relation: '', subject: {} }));
  });

  it('reject garbage, another listing and another request', () => {
    const token = encodePageToken('tuples', '42', key);
    for (const bad of ['', 'garbage!', 'AAAA', Buffer.from('{"k":"tuples"}').toString('base64url')]) {
      expect(codeOf(() => decodePageToken(bad, 'tuples', key))).toBe('ERROR_CODE_INVALID_CONTINUOUS_TOKEN');
    }
    expect(codeOf(() => decodePageToken(token, 'attributes', key))).toBe('ERROR_CODE_INVALID_CONTINUOUS_TOKEN');
    expect(codeOf(() => decodePageToken(token, 'tuples', tupleFilterKey({})))).toBe(
      'ERROR_CODE_INVALID_CONTINUOUS_TOKEN',
    );
  });

  it('require an integer page size of at least 1', () => {
    expect(codeOf(() => checkPageSize(1))).toBe('no error');
    for (const bad of [0, -1, 1.5, Number.NaN])
      expect(codeOf(() => checkPageSize(bad))).toBe('ERROR_CODE_INVALID_ARGUMENT');
  });
});
