/**
 * Row <-> domain conversions: attribute values as the proto-JSON of a `google.protobuf.Any` (the column
 * format Permify uses, §11.1), tuple rows, and validated continuation tokens for paginated reads.
 */
import { createHash } from 'node:crypto';
import type { Attribute, AttributeValue, Tuple } from '../../data/types.js';
import { PermifyError } from '../../errors.js';

const typeUrls: Record<AttributeValue['type'], string> = {
  boolean: 'type.googleapis.com/base.v1.BooleanValue',
  'boolean[]': 'type.googleapis.com/base.v1.BooleanArrayValue',
  string: 'type.googleapis.com/base.v1.StringValue',
  'string[]': 'type.googleapis.com/base.v1.StringArrayValue',
  integer: 'type.googleapis.com/base.v1.IntegerValue',
  'integer[]': 'type.googleapis.com/base.v1.IntegerArrayValue',
  double: 'type.googleapis.com/base.v1.DoubleValue',
  'double[]': 'type.googleapis.com/base.v1.DoubleArrayValue',
};
const typeOfUrl = new Map(Object.entries(typeUrls).map(([t, u]) => [u, t as AttributeValue['type']]));

function doubleToJson(n: number): number | string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  return n;
}

function doubleFromJson(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  throw new PermifyError('ERROR_CODE_TYPE_CONVERSATION', 'stored attribute value is not a double');
}

/** The JSON text stored in `attributes.value`. */
export function encodeAttributeValue(v: AttributeValue): string {
  let data: unknown;
  switch (v.type) {
    case 'double':
      data = doubleToJson(v.value);
      break;
    case 'double[]':
      data = v.value.map(doubleToJson);
      break;
    default:
      data = v.value;
  }
  return JSON.stringify({ '@type': typeUrls[v.type], data });
}

/** Decodes a stored value (also Permify-written ones, where zero values may be omitted). */
export function decodeAttributeValue(json: unknown): AttributeValue {
  const obj = json as { '@type'?: unknown; data?: unknown } | null;
  const type = typeof obj?.['@type'] === 'string' ? typeOfUrl.get(obj['@type']) : undefined;
  if (!obj || type === undefined)
    throw new PermifyError('ERROR_CODE_TYPE_CONVERSATION', 'unknown stored attribute type');
  const d = obj.data;
  const list = (): unknown[] => (Array.isArray(d) ? d : []);
  switch (type) {
    case 'boolean':
      return { type, value: d === true };
    case 'boolean[]':
      return { type, value: list().map((x) => x === true) };
    case 'string':
      return { type, value: typeof d === 'string' ? d : '' };
    case 'string[]':
      return { type, value: list().map((x) => String(x)) };
    case 'integer':
      return { type, value: d === undefined ? 0 : Number(d) };
    case 'integer[]':
      return { type, value: list().map((x) => Number(x)) };
    case 'double':
      return { type, value: d === undefined ? 0 : doubleFromJson(d) };
    case 'double[]':
      return { type, value: list().map(doubleFromJson) };
  }
}

export interface TupleRow {
  id: number;
  entity_type: string;
  entity_id: string;
  relation: string;
  subject_type: string;
  subject_id: string;
  subject_relation: string;
}

export function tupleFromRow(r: TupleRow): Tuple {
  return {
    entity: { type: r.entity_type, id: r.entity_id },
    relation: r.relation,
    subject: { type: r.subject_type, id: r.subject_id, relation: r.subject_relation },
  };
}

export interface AttributeRow {
  id: number;
  entity_type: string;
  entity_id: string;
  attribute: string;
  value: unknown;
}

export function attributeFromRow(r: AttributeRow): Attribute {
  return {
    entity: { type: r.entity_type, id: r.entity_id },
    attribute: r.attribute,
    value: decodeAttributeValue(r.value),
  };
}

/** Subject relation "..." means a plain subject (stored as ""). */
export function normaliseRelation(relation: string | undefined): string {
  return relation === undefined || relation === '...' ? '' : relation;
}

function requestHash(kind: string, request: unknown): string {
  return createHash('sha256')
    .update(kind + '\u0000' + JSON.stringify(request))
    .digest('base64url')
    .slice(0, 16);
}

/**
 * A continuation token: the last row id served plus a hash of the request (kind and filter), so that a
 * token is rejected when replayed with another filter. The snap token is not part of the hash: clients may
 * page at "head" while head moves.
 */
export function encodePageToken(kind: string, request: unknown, lastId: number): string {
  return Buffer.from(JSON.stringify({ i: lastId, h: requestHash(kind, request) })).toString('base64url');
}

/** The row id to continue after; 0 for the first page. @throws ERROR_CODE_INVALID_CONTINUOUS_TOKEN */
export function decodePageToken(kind: string, request: unknown, token: string | undefined): number {
  if (token === undefined || token === '') return 0;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw new PermifyError('ERROR_CODE_INVALID_CONTINUOUS_TOKEN', 'invalid continuous token');
  }
  const p = parsed as { i?: unknown; h?: unknown } | null;
  if (!p || typeof p.i !== 'number' || !Number.isSafeInteger(p.i) || p.i < 0 || p.h !== requestHash(kind, request)) {
    throw new PermifyError('ERROR_CODE_INVALID_CONTINUOUS_TOKEN', 'invalid continuous token');
  }
  return p.i;
}
