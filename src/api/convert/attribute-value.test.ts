import { create } from '@bufbuild/protobuf';
import { AnySchema } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import type { AttributeValue } from '../../data/types.js';
import { PermifyError } from '../../errors.js';
import { anyToAttributeValue, attributeValueToAny, typeUrlOf } from './attribute-value.js';

const samples: AttributeValue[] = [
  { type: 'boolean', value: true },
  { type: 'boolean[]', value: [true, false] },
  { type: 'string', value: 'eu' },
  { type: 'string[]', value: ['a', 'b'] },
  { type: 'integer', value: -2147483648 },
  { type: 'integer[]', value: [1, 2, 3] },
  { type: 'double', value: 1.25 },
  { type: 'double[]', value: [0.5, -1] },
];

describe('attribute values as Any', () => {
  it.each(samples.map((s) => [s.type, s] as const))('%s round-trips with the exact type URL', (_t, v) => {
    const any = attributeValueToAny(v);
    expect(any.typeUrl).toBe(typeUrlOf(v.type));
    expect(any.typeUrl.startsWith('type.googleapis.com/base.v1.')).toBe(true);
    expect(anyToAttributeValue(any)).toEqual(v);
  });

  it('uses Permify wrapper names', () => {
    expect(typeUrlOf('integer[]')).toBe('type.googleapis.com/base.v1.IntegerArrayValue');
    expect(typeUrlOf('boolean')).toBe('type.googleapis.com/base.v1.BooleanValue');
  });

  it('rejects unknown type URLs and absent values as ATTRIBUTE_TYPE_MISMATCH', () => {
    const bad = create(AnySchema, {
      typeUrl: 'type.googleapis.com/google.protobuf.StringValue',
      value: new Uint8Array(),
    });
    expect(() => anyToAttributeValue(bad)).toThrow(PermifyError);
    try {
      anyToAttributeValue(undefined);
    } catch (e) {
      expect((e as PermifyError).code).toBe('ERROR_CODE_ATTRIBUTE_TYPE_MISMATCH');
      expect((e as PermifyError).grpcStatus).toBe(5);
    }
  });

  it('reports an undecodable payload as INTERNAL', () => {
    const garbage = create(AnySchema, { typeUrl: typeUrlOf('string'), value: new Uint8Array([0x0a, 0x05, 0x61]) });
    let err: unknown;
    try {
      anyToAttributeValue(garbage);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PermifyError);
    expect((err as PermifyError).code).toBe('ERROR_CODE_INTERNAL');
  });
});
