/**
 * String notations of entities, subjects, tuples and attributes (schema-and-engine specification, sections
 * 4.2 and 4.3), used by validation files, bundles and tooling. Parsing follows Permify's algorithm exactly,
 * including its limits (ids cannot contain `@`, `:`, `#`, `|` or `$` in this notation; further `#` parts are
 * ignored). Every failure is a {@link PermifyError} with code ERROR_CODE_INTERNAL, as in Permify.
 */
import { PermifyError } from '../errors.js';
import type { Attribute, AttributeValue, AttributeValueType, Entity, Subject, Tuple } from './types.js';

function fail(message: string): never {
  throw new PermifyError('ERROR_CODE_INTERNAL', message);
}

/** `type:id` → Entity. Exactly two non-empty parts around a single `:`; else `invalid entity`. */
export function parseEntity(text: string): Entity {
  const parts = text.trim().split(':');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') fail(`invalid entity: ${JSON.stringify(text)}`);
  return { type: parts[0] as string, id: parts[1] as string };
}

/** `type:id` or `type:id#relation` → Subject (relation "" when absent; `...` is kept as written). */
export function parseSubject(text: string): Subject {
  const parts = text.trim().split('#');
  const entity = parseEntity(parts[0] as string);
  return { type: entity.type, id: entity.id, relation: parts.length > 1 ? (parts[1] as string).trim() : '' };
}

/** A relation reference `type` or `type#relation` (LookupSubject's subject reference). */
export function parseRelationReference(text: string): { readonly type: string; readonly relation: string } {
  const parts = text.trim().split('#');
  const type = (parts[0] as string).trim();
  if (type === '') fail(`invalid relation reference: ${JSON.stringify(text)}`);
  return { type, relation: parts.length > 1 ? (parts[1] as string).trim() : '' };
}

/**
 * `type:id#relation@stype:sid[#srel]` → Tuple. Exactly one `@` (else `invalid tuple`); each side split on `#`
 * (extra parts ignored); each entity exactly `type:id` (else `invalid entity`). A missing object relation
 * yields relation "" (the schema check rejects it later). Subject relation `...` is kept (stores normalise it).
 */
export function parseTuple(text: string): Tuple {
  const sides = text.trim().split('@');
  if (sides.length !== 2) fail(`invalid tuple: ${JSON.stringify(text)}`);
  const object = (sides[0] as string).trim().split('#');
  const entity = parseEntity(object[0] as string);
  const relation = object.length > 1 ? (object[1] as string).trim() : '';
  const subject = parseSubject((sides[1] as string).trim());
  return { entity, relation, subject };
}

/** `type:id` */
export function entityToString(e: Entity): string {
  return `${e.type}:${e.id}`;
}

/** `type:id` or `type:id#relation` */
export function subjectToString(s: Subject): string {
  return s.relation === '' ? `${s.type}:${s.id}` : `${s.type}:${s.id}#${s.relation}`;
}

/** `type:id#relation@stype:sid` plus `#srel` only when the subject relation is non-empty. */
export function tupleToString(t: Tuple): string {
  return `${t.entity.type}:${t.entity.id}#${t.relation}@${subjectToString(t.subject)}`;
}

const valueTypes: ReadonlySet<string> = new Set<AttributeValueType>([
  'boolean',
  'boolean[]',
  'string',
  'string[]',
  'integer',
  'integer[]',
  'double',
  'double[]',
]);

/** Go `strconv.ParseBool`. */
export function parseGoBool(s: string): boolean {
  switch (s) {
    case '1':
    case 't':
    case 'T':
    case 'TRUE':
    case 'true':
    case 'True':
      return true;
    case '0':
    case 'f':
    case 'F':
    case 'FALSE':
    case 'false':
    case 'False':
      return false;
  }
  return fail(`failed to parse boolean: invalid syntax: ${JSON.stringify(s)}`);
}

/** Go `strconv.ParseInt(s, 10, 32)`: optional sign, decimal digits, 32-bit signed range. */
export function parseGoInt32(s: string): number {
  if (!/^[+-]?[0-9]+$/.test(s)) fail(`failed to parse integer: invalid syntax: ${JSON.stringify(s)}`);
  const n = Number(s);
  if (n < -2147483648 || n > 2147483647) fail(`failed to parse integer: value out of range: ${JSON.stringify(s)}`);
  return n === 0 ? 0 : n; // no -0
}

const decimalFloat = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const hexFloat = /^([+-]?)0[xX]((?:[0-9a-fA-F]+(?:\.[0-9a-fA-F]*)?|\.[0-9a-fA-F]+))[pP]([+-]?[0-9]+)$/;
const specialFloat = /^([+-]?)(inf|infinity)$/i;

/**
 * Go `strconv.ParseFloat(s, 64)`: decimal and hexadecimal (`0x1.8p3`) forms, `inf`/`infinity` with an optional
 * sign and `nan` (any case). A finite literal that overflows a double is an out-of-range error, as in Go.
 * (Go also accepts `_` digit separators in prefixed literals; that corner is not supported.)
 */
export function parseGoFloat(s: string): number {
  const special = specialFloat.exec(s);
  if (special) return special[1] === '-' ? -Infinity : Infinity;
  if (/^nan$/i.test(s)) return NaN;
  if (decimalFloat.test(s)) {
    const n = Number(s);
    if (!Number.isFinite(n)) fail(`failed to parse double: value out of range: ${JSON.stringify(s)}`);
    return n;
  }
  const hex = hexFloat.exec(s);
  if (hex) {
    const [intPart = '', fracPart = ''] = (hex[2] as string).split('.');
    let mantissa = 0;
    for (const c of intPart + fracPart) mantissa = mantissa * 16 + parseInt(c, 16);
    const n = mantissa * 2 ** (Number(hex[3]) - 4 * fracPart.length);
    if (!Number.isFinite(n)) fail(`failed to parse double: value out of range: ${JSON.stringify(s)}`);
    return hex[1] === '-' ? -n : n;
  }
  return fail(`failed to parse double: invalid syntax: ${JSON.stringify(s)}`);
}

/** Converts the text of a value of the given attribute type (arrays split on `,`, no trimming). */
export function parseAttributeValue(type: string, text: string): AttributeValue {
  switch (type) {
    case 'boolean':
      return { type, value: parseGoBool(text) };
    case 'boolean[]':
      return { type, value: text.split(',').map(parseGoBool) };
    case 'string':
      return { type, value: text };
    case 'string[]':
      return { type, value: text.split(',') };
    case 'integer':
      return { type, value: parseGoInt32(text) };
    case 'integer[]':
      return { type, value: text.split(',').map(parseGoInt32) };
    case 'double':
      return { type, value: parseGoFloat(text) };
    case 'double[]':
      return { type, value: text.split(',').map(parseGoFloat) };
  }
  return fail(`invalid value: unknown attribute type ${JSON.stringify(type)}`);
}

/** The fields of the attribute notation, before the value text is converted to its type. */
export interface AttributeNotation {
  readonly entity: Entity;
  readonly attribute: string;
  readonly type: AttributeValueType;
  readonly value: string;
}

/**
 * Splits `type:id$attribute|valuetype:value` into its fields, following the specification's steps and messages
 * (`invalid attribute`, `invalid entity`, `invalid value`); the value text is not converted.
 */
export function splitAttribute(text: string): AttributeNotation {
  const parts = text.trim().split('|');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') fail(`invalid attribute: ${JSON.stringify(text)}`);
  const key = (parts[0] as string).split('$');
  if (key.length !== 2 || key[0] === '' || key[1] === '') fail(`invalid entity: ${JSON.stringify(parts[0])}`);
  const entityParts = (key[0] as string).split(':');
  if (entityParts.length !== 2 || entityParts[0] === '' || entityParts[1] === '') {
    fail(`invalid attribute: ${JSON.stringify(text)}`);
  }
  const typed = (parts[1] as string).split(':');
  if (typed.length !== 2 || typed[0] === '' || typed[1] === '') fail(`invalid attribute: ${JSON.stringify(text)}`);
  const type = typed[0] as string;
  if (!valueTypes.has(type)) fail(`invalid value: unknown attribute type ${JSON.stringify(type)}`);
  return {
    entity: { type: entityParts[0] as string, id: entityParts[1] as string },
    attribute: key[1] as string,
    type: type as AttributeValueType,
    value: typed[1] as string,
  };
}

/**
 * `type:id$attribute|valuetype:value` → Attribute, following the specification's five steps and messages
 * (`invalid attribute`, `invalid entity`, `invalid value`, `failed to parse ...`).
 */
export function parseAttribute(text: string): Attribute {
  const { entity, attribute, type, value } = splitAttribute(text);
  return { entity, attribute, value: parseAttributeValue(type, value) };
}

/** Shortest round-trip text of a double, with Go's spellings of the special values. */
export function formatDouble(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

/** The value part of the notation (arrays joined by `,`). */
export function attributeValueToString(v: AttributeValue): string {
  switch (v.type) {
    case 'boolean':
    case 'string':
    case 'integer':
      return String(v.value);
    case 'double':
      return formatDouble(v.value);
    case 'boolean[]':
    case 'string[]':
    case 'integer[]':
      return v.value.map(String).join(',');
    case 'double[]':
      return v.value.map(formatDouble).join(',');
  }
}

/** `type:id$name|valuetype:value` */
export function attributeToString(a: Attribute): string {
  return `${a.entity.type}:${a.entity.id}$${a.attribute}|${a.value.type}:${attributeValueToString(a.value)}`;
}

/** `type:id$name` (the attribute key notation). */
export function attributeKeyToString(entity: Entity, attribute: string): string {
  return `${entity.type}:${entity.id}$${attribute}`;
}
