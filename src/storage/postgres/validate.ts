/**
 * Shape checks of what callers hand to the store. The contract's callers are typed, but the store is the
 * last line before SQL: malformed values (missing ids, a value not matching its tag, NUL characters that
 * PostgreSQL text cannot hold) are rejected as ERROR_CODE_INVALID_ARGUMENT before anything is written.
 */
import { PermifyError } from '../../errors.js';
import type { Attribute, AttributeValue, Entity, Tuple } from '../../data/types.js';
import type { AttributeFilter, DataBundle, SchemaDefinitionRecord, TupleFilter, WriteStep } from '../contract.js';

function invalid(message: string): never {
  throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', message);
}

function text(v: unknown, what: string, allowEmpty = false): string {
  if (typeof v !== 'string') invalid(`${what} must be a string`);
  if (!allowEmpty && v.length === 0) invalid(`${what} must not be empty`);
  if (v.includes('\u0000')) invalid(`${what} must not contain NUL characters`);
  return v;
}

function optionalText(v: unknown, what: string): void {
  if (v !== undefined) text(v, what, true);
}

function textList(v: unknown, what: string): void {
  if (v === undefined) return;
  if (!Array.isArray(v)) invalid(`${what} must be a list of strings`);
  for (const x of v) text(x, what, true);
}

function entity(e: unknown, what: string): void {
  if (typeof e !== 'object' || e === null) invalid(`${what} is missing`);
  const x = e as Partial<Entity>;
  text(x.type, `${what} type`);
  text(x.id, `${what} id`);
}

export function checkTuple(t: unknown): void {
  if (typeof t !== 'object' || t === null) invalid('tuple is missing');
  const x = t as Partial<Tuple>;
  entity(x.entity, 'tuple entity');
  text(x.relation, 'tuple relation');
  if (typeof x.subject !== 'object' || x.subject === null) invalid('tuple subject is missing');
  text(x.subject.type, 'tuple subject type');
  text(x.subject.id, 'tuple subject id');
  optionalText(x.subject.relation, 'tuple subject relation');
}

const isInt32 = (n: unknown): boolean =>
  typeof n === 'number' && Number.isInteger(n) && n >= -2147483648 && n <= 2147483647;

function checkValue(v: unknown): void {
  if (typeof v !== 'object' || v === null) invalid('attribute value is missing');
  const x = v as { type?: unknown; value?: unknown };
  const list = (ok: (e: unknown) => boolean) => Array.isArray(x.value) && x.value.every(ok);
  const isString = (e: unknown) => typeof e === 'string' && !e.includes('\u0000');
  let ok: boolean;
  switch (x.type as AttributeValue['type']) {
    case 'boolean':
      ok = typeof x.value === 'boolean';
      break;
    case 'boolean[]':
      ok = list((e) => typeof e === 'boolean');
      break;
    case 'string':
      ok = isString(x.value);
      break;
    case 'string[]':
      ok = list(isString);
      break;
    case 'integer':
      ok = isInt32(x.value);
      break;
    case 'integer[]':
      ok = list(isInt32);
      break;
    case 'double':
      ok = typeof x.value === 'number';
      break;
    case 'double[]':
      ok = list((e) => typeof e === 'number');
      break;
    default:
      ok = false;
  }
  if (!ok) invalid('attribute value does not match its type');
}

export function checkAttribute(a: unknown): void {
  if (typeof a !== 'object' || a === null) invalid('attribute is missing');
  const x = a as Partial<Attribute>;
  entity(x.entity, 'attribute entity');
  text(x.attribute, 'attribute name');
  checkValue(x.value);
}

export function checkTupleFilter(f: unknown): void {
  if (typeof f !== 'object' || f === null) invalid('invalid filter');
  const x = f as TupleFilter;
  if (x.entity !== undefined) {
    optionalText(x.entity.type, 'filter entity type');
    textList(x.entity.ids, 'filter entity ids');
  }
  optionalText(x.relation, 'filter relation');
  if (x.subject !== undefined) {
    optionalText(x.subject.type, 'filter subject type');
    textList(x.subject.ids, 'filter subject ids');
    optionalText(x.subject.relation, 'filter subject relation');
  }
}

export function checkAttributeFilter(f: unknown): void {
  if (typeof f !== 'object' || f === null) invalid('invalid filter');
  const x = f as AttributeFilter;
  if (x.entity !== undefined) {
    optionalText(x.entity.type, 'filter entity type');
    textList(x.entity.ids, 'filter entity ids');
  }
  textList(x.attributes, 'filter attributes');
}

export function checkSteps(steps: unknown): void {
  if (!Array.isArray(steps)) invalid('write steps must be a list');
  for (const s of steps as WriteStep[]) {
    if (typeof s !== 'object' || s === null) invalid('invalid write step');
    for (const t of s.writeTuples ?? []) checkTuple(t);
    for (const a of s.writeAttributes ?? []) checkAttribute(a);
    for (const t of s.deleteTuples ?? []) checkTuple(t);
    for (const d of s.deleteAttributes ?? []) {
      entity(d?.entity, 'attribute entity');
      text(d.attribute, 'attribute name');
    }
    for (const f of s.deleteTupleFilters ?? []) checkTupleFilter(f);
    for (const f of s.deleteAttributeFilters ?? []) checkAttributeFilter(f);
  }
}

export function checkSchemaRecords(defs: unknown): void {
  if (!Array.isArray(defs)) invalid('invalid schema: definitions must be a list');
  for (const d of defs as SchemaDefinitionRecord[]) {
    if (typeof d !== 'object' || d === null) invalid('invalid schema definition record');
    text(d.name, 'schema definition name');
    text(d.definition, 'schema definition', true);
  }
}

export function checkBundles(bundles: unknown): void {
  if (!Array.isArray(bundles)) invalid('invalid bundles');
  for (const b of bundles as DataBundle[]) {
    if (typeof b !== 'object' || b === null) invalid('invalid bundle');
    text(b.name, 'bundle name');
    textList(b.arguments, 'bundle arguments');
    if (!Array.isArray(b.operations)) invalid('invalid bundle operations');
    for (const o of b.operations) {
      if (typeof o !== 'object' || o === null) invalid('invalid bundle operation');
      textList(o.relationshipsWrite, 'bundle operation');
      textList(o.relationshipsDelete, 'bundle operation');
      textList(o.attributesWrite, 'bundle operation');
      textList(o.attributesDelete, 'bundle operation');
    }
  }
}
