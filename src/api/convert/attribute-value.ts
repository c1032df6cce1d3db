/**
 * Attribute values on the wire: `google.protobuf.Any` wrapping one of the eight `base.v1.*Value` messages
 * (api-and-operations §2.6). The type URL is the exact `type.googleapis.com/base.v1.<Wrapper>` string.
 */
import { create, fromBinary, toBinary, type DescMessage } from '@bufbuild/protobuf';
import { AnySchema, type Any } from '@bufbuild/protobuf/wkt';
import { PermifyError } from '../../errors.js';
import type { AttributeValue } from '../../data/types.js';
import type { AttributeType } from '../../schema/model.js';
import {
  BooleanArrayValueSchema,
  BooleanValueSchema,
  DoubleArrayValueSchema,
  DoubleValueSchema,
  IntegerArrayValueSchema,
  IntegerValueSchema,
  StringArrayValueSchema,
  StringValueSchema,
} from '../gen/base/v1/base_pb.js';

const wrappers: Readonly<Record<AttributeType, DescMessage>> = {
  boolean: BooleanValueSchema,
  'boolean[]': BooleanArrayValueSchema,
  string: StringValueSchema,
  'string[]': StringArrayValueSchema,
  integer: IntegerValueSchema,
  'integer[]': IntegerArrayValueSchema,
  double: DoubleValueSchema,
  'double[]': DoubleArrayValueSchema,
};

const typeUrlPrefix = 'type.googleapis.com/';
const typeByUrl = new Map<string, AttributeType>(
  (Object.entries(wrappers) as [AttributeType, DescMessage][]).map(([t, d]) => [typeUrlPrefix + d.typeName, t]),
);

/** The exact type URL of an attribute type's wrapper. */
export function typeUrlOf(type: AttributeType): string {
  return typeUrlPrefix + wrappers[type].typeName;
}

/** The attribute type a type URL denotes, or undefined for any other URL. */
export function attributeTypeOfUrl(typeUrl: string): AttributeType | undefined {
  return typeByUrl.get(typeUrl);
}

/** Packs a value into an Any with the canonical encoding of its wrapper. */
export function attributeValueToAny(value: AttributeValue): Any {
  const desc = wrappers[value.type];
  // Every wrapper has the single field `data` of the matching shape.
  const msg = create(desc, { data: value.value } as never);
  return create(AnySchema, { typeUrl: typeUrlOf(value.type), value: toBinary(desc, msg) });
}

/**
 * Decodes an Any into an attribute value.
 * @throws PermifyError ERROR_CODE_ATTRIBUTE_TYPE_MISMATCH for an absent value or an unknown type URL;
 *   ERROR_CODE_INTERNAL when the payload does not decode as the wrapper.
 */
export function anyToAttributeValue(any: Any | undefined): AttributeValue {
  const type = any === undefined ? undefined : attributeTypeOfUrl(any.typeUrl);
  if (any === undefined || type === undefined) throw new PermifyError('ERROR_CODE_ATTRIBUTE_TYPE_MISMATCH');
  let data: unknown;
  try {
    data = (fromBinary(wrappers[type], any.value) as unknown as { data: unknown }).data;
  } catch (e) {
    throw new PermifyError('ERROR_CODE_INTERNAL', 'invalid attribute value payload', { cause: e });
  }
  return { type, value: data } as AttributeValue;
}
