/**
 * Permify's text notation for tuples, attributes, entities and subjects, as validation files write them:
 * `entity:id#relation@subject:id#rel` and `entity:id$attribute|type:value` (array values comma separated).
 * Pure functions shared by the data tables and the scenario runner.
 */

export interface Entity {
  type: string;
  id: string;
}
export interface Subject {
  type: string;
  id: string;
  relation: string;
}
export interface Tuple {
  entity: Entity;
  relation: string;
  subject: Subject;
}

/** An attribute value on the wire: a protobuf Any in its JSON form. */
export interface AnyValue {
  '@type': string;
  /** Absent for a zero value (`false`, `0`, `""`, `[]`), as proto3 JSON leaves it out. */
  data?: unknown;
}
export interface Attribute {
  entity: Entity;
  attribute: string;
  value: AnyValue;
}

export type AttributeType =
  'boolean' | 'boolean[]' | 'string' | 'string[]' | 'integer' | 'integer[]' | 'double' | 'double[]';

const TYPE_URLS: Readonly<Record<AttributeType, string>> = {
  boolean: 'type.googleapis.com/base.v1.BooleanValue',
  'boolean[]': 'type.googleapis.com/base.v1.BooleanArrayValue',
  string: 'type.googleapis.com/base.v1.StringValue',
  'string[]': 'type.googleapis.com/base.v1.StringArrayValue',
  integer: 'type.googleapis.com/base.v1.IntegerValue',
  'integer[]': 'type.googleapis.com/base.v1.IntegerArrayValue',
  double: 'type.googleapis.com/base.v1.DoubleValue',
  'double[]': 'type.googleapis.com/base.v1.DoubleArrayValue',
};

export const ATTRIBUTE_TYPES = Object.keys(TYPE_URLS) as AttributeType[];

export class NotationError extends Error {}

export function parseEntity(text: string): Entity {
  const t = text.trim();
  const i = t.indexOf(':');
  if (i <= 0 || i === t.length - 1) throw new NotationError(`invalid entity "${text}": expected type:id`);
  return { type: t.slice(0, i), id: t.slice(i + 1) };
}

export function parseSubject(text: string): Subject {
  const t = text.trim();
  const hash = t.indexOf('#');
  const e = parseEntity(hash < 0 ? t : t.slice(0, hash));
  const relation = hash < 0 ? '' : t.slice(hash + 1);
  // `#...` is the notation's explicit "no relation" (the subject itself).
  return { type: e.type, id: e.id, relation: relation === '...' ? '' : relation };
}

/** `user` or `group#member` (a LookupSubject subject reference). */
export function parseSubjectReference(text: string): { type: string; relation: string } {
  const t = text.trim();
  const hash = t.indexOf('#');
  if (t === '' || hash === 0) throw new NotationError(`invalid subject reference "${text}"`);
  return hash < 0 ? { type: t, relation: '' } : { type: t.slice(0, hash), relation: t.slice(hash + 1) };
}

export function parseTuple(text: string): Tuple {
  const t = text.trim();
  const at = t.indexOf('@');
  if (at < 0) throw new NotationError(`invalid tuple "${text}": expected entity:id#relation@subject:id`);
  const left = t.slice(0, at);
  const hash = left.indexOf('#');
  if (hash < 0) throw new NotationError(`invalid tuple "${text}": missing #relation`);
  return {
    entity: parseEntity(left.slice(0, hash)),
    relation: left.slice(hash + 1),
    subject: parseSubject(t.slice(at + 1)),
  };
}

export function formatEntity(e: Entity): string {
  return `${e.type}:${e.id}`;
}

export function formatSubject(s: Subject): string {
  return s.relation ? `${s.type}:${s.id}#${s.relation}` : `${s.type}:${s.id}`;
}

export function formatTuple(t: Tuple): string {
  return `${formatEntity(t.entity)}#${t.relation}@${formatSubject(t.subject)}`;
}

function scalar(type: AttributeType, raw: string): unknown {
  const base = type.replace('[]', '');
  const v = raw.trim();
  if (base === 'boolean') {
    if (v !== 'true' && v !== 'false') throw new NotationError(`invalid boolean "${raw}"`);
    return v === 'true';
  }
  if (base === 'integer') {
    if (!/^-?\d+$/.test(v)) throw new NotationError(`invalid integer "${raw}"`);
    return Number(v);
  }
  if (base === 'double') {
    const n = Number(v);
    if (v === '' || !Number.isFinite(n)) throw new NotationError(`invalid double "${raw}"`);
    return n;
  }
  return raw;
}

/** The wire value of `value` (notation text, arrays comma separated) of attribute type `type`. */
export function attributeValue(type: AttributeType, value: string): AnyValue {
  const data = type.endsWith('[]')
    ? value === ''
      ? []
      : value.split(',').map((v) => scalar(type, v))
    : scalar(type, value);
  return { '@type': TYPE_URLS[type], data };
}

export function attributeTypeOf(value: AnyValue): AttributeType {
  const found = ATTRIBUTE_TYPES.find((t) => TYPE_URLS[t] === value['@type']);
  if (found === undefined) throw new NotationError(`unknown attribute value type ${value['@type']}`);
  return found;
}

/** Notation text of a wire value; proto3 JSON leaves out zero values (`false`, `0`, `""`, `[]`). */
export function formatAttributeValue(value: AnyValue): string {
  const d = value.data;
  if (Array.isArray(d)) return d.map(String).join(',');
  if (d !== undefined && d !== null) return String(d);
  const type = attributeTypeOf(value);
  return type.endsWith('[]') || type === 'string' ? '' : type === 'boolean' ? 'false' : '0';
}

export function parseAttribute(text: string): Attribute {
  const t = text.trim();
  const dollar = t.indexOf('$');
  const bar = t.indexOf('|', dollar);
  if (dollar < 0 || bar < 0) throw new NotationError(`invalid attribute "${text}": expected entity:id$name|type:value`);
  const colon = t.indexOf(':', bar);
  if (colon < 0) throw new NotationError(`invalid attribute "${text}": missing :value`);
  const type = t.slice(bar + 1, colon) as AttributeType;
  if (!ATTRIBUTE_TYPES.includes(type)) throw new NotationError(`invalid attribute "${text}": unknown type ${type}`);
  return {
    entity: parseEntity(t.slice(0, dollar)),
    attribute: t.slice(dollar + 1, bar),
    value: attributeValue(type, t.slice(colon + 1)),
  };
}

export function formatAttribute(a: Attribute): string {
  return `${formatEntity(a.entity)}$${a.attribute}|${attributeTypeOf(a.value)}:${formatAttributeValue(a.value)}`;
}
