/** The playground's Permify notation and diagnostic positions (pure functions used by the page). */
import { describe, expect, it } from 'vitest';
import { offsetOf, parseSchemaError } from '../../playground/src/api.js';
import {
  formatAttribute,
  formatTuple,
  NotationError,
  parseAttribute,
  parseSubjectReference,
  parseTuple,
} from '../../playground/src/notation.js';

describe('notation', () => {
  it('round-trips tuples and attributes', () => {
    for (const t of [
      'document:1#viewer@user:alice',
      'group:tech#direct_member@group:hr#direct_member',
      'doc:a:b#owner@user:x',
    ]) {
      expect(formatTuple(parseTuple(t))).toBe(t);
    }
    expect(parseTuple('document:1#viewer@group:eng#member')).toEqual({
      entity: { type: 'document', id: '1' },
      relation: 'viewer',
      subject: { type: 'group', id: 'eng', relation: 'member' },
    });
    for (const a of [
      'account:1$balance|integer:4000',
      'doc:1$public|boolean:true',
      'doc:1$tags|string[]:a,b',
      'doc:1$score|double:1.5',
      'doc:1$ids|integer[]:1,2',
    ]) {
      expect(formatAttribute(parseAttribute(a))).toBe(a);
    }
    expect(parseAttribute('account:1$balance|integer:4000').value).toEqual({
      '@type': 'type.googleapis.com/base.v1.IntegerValue',
      data: 4000,
    });
    // proto3 JSON leaves zero values out: they read back as the type's zero.
    expect(
      formatAttribute({
        entity: { type: 'doc', id: '1' },
        attribute: 'public',
        value: { '@type': 'type.googleapis.com/base.v1.BooleanValue', data: undefined },
      }),
    ).toBe('doc:1$public|boolean:false');
    expect(parseSubjectReference('group#member')).toEqual({ type: 'group', relation: 'member' });
  });

  it('refuses malformed notation with a NotationError', () => {
    for (const bad of ['document:1#viewer', 'document#viewer@user:1', 'document:1viewer@user:1'])
      expect(() => parseTuple(bad)).toThrow(NotationError);
    for (const bad of ['doc:1$public|bool:true', 'doc:1$n|integer:1.5', 'doc:1public'])
      expect(() => parseAttribute(bad)).toThrow(NotationError);
  });
});

describe('schema diagnostics', () => {
  it('reads the server position and maps its byte column (offset + 2) to the editor offset', () => {
    expect(parseSchemaError('6:31: undefined relation reference')).toEqual({
      line: 6,
      column: 31,
      message: 'undefined relation reference',
    });
    expect(parseSchemaError('7:59:no prefix parse function for NOT found')).toEqual({
      line: 7,
      column: 59,
      message: 'no prefix parse function for NOT found',
    });
    expect(parseSchemaError('ERROR_CODE_SCHEMA_NOT_FOUND')).toBeUndefined();
    const text =
      'entity user {}\n\nentity document {\n  relation owner @user\n  relation viewer @user\n  permission view = owner or viewr\n}\n';
    expect(text.slice(offsetOf(text, 6, 31)).startsWith('viewr')).toBe(true);
    // Non-ASCII before the error: columns count UTF-8 bytes.
    const accented = 'entity user {}\n// é\nentity d { relation r @usr }';
    expect(accented.slice(offsetOf(accented, 3, 25))).toBe('usr }');
    const multi = '// ü\n/*é*/ x';
    expect(multi.slice(offsetOf(multi, 2, 9))).toBe('x');
  });
});
