import { describe, expect, it } from 'vitest';
import { PermifyError } from '../errors.js';
import { isVersionId, newVersionId, versionIdTime, versionTimestamp } from './version-id.js';

describe('schema version ids', () => {
  it('are 20 base32hex characters, strictly increasing within the process', () => {
    const ids = Array.from({ length: 2000 }, () => newVersionId());
    for (const id of ids) expect(id).toMatch(/^[0-9a-v]{20}$/);
    for (let i = 1; i < ids.length; i += 1) expect((ids[i - 1] as string) < (ids[i] as string)).toBe(true);
  });

  it('stay increasing when the clock goes back', () => {
    const a = newVersionId(new Date('2030-01-01T00:00:05Z'));
    const b = newVersionId(new Date('2030-01-01T00:00:01Z'));
    expect(a < b).toBe(true);
  });

  it('encode their creation second', () => {
    const at = new Date('2031-06-01T12:34:56.789Z');
    const id = newVersionId(at);
    expect(versionTimestamp(id).toISOString()).toBe('2031-06-01T12:34:56.000Z');
    expect(isVersionId(id)).toBe(true);
  });

  it('reject malformed ids', () => {
    expect(versionIdTime('xyz')).toBeUndefined();
    expect(isVersionId('DC5PRD2RPQC5C5G00000')).toBe(false);
    expect(() => versionTimestamp('not-a-version-id-000')).toThrow(PermifyError);
  });
});
