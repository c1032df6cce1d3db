/**
 * Core data types shared by storage, engine, API and tooling: entities, subjects, relationship tuples,
 * attributes and request contexts. Plain readonly objects; the string notations live in `notation.ts`.
 */
import type { AttributeType } from '../schema/model.js';

export interface Entity {
  readonly type: string;
  readonly id: string;
}

/** A subject: an entity (`relation` = "") or a subject set `type:id#relation`. */
export interface Subject {
  readonly type: string;
  readonly id: string;
  /** "" for a plain entity subject. Stored tuples never carry "..." (normalised to ""). */
  readonly relation: string;
}

export interface Tuple {
  readonly entity: Entity;
  readonly relation: string;
  readonly subject: Subject;
}

/** An attribute value, tagged with its schema type. Integers are 32-bit signed; doubles IEEE-754. */
export type AttributeValue =
  | { readonly type: 'boolean'; readonly value: boolean }
  | { readonly type: 'boolean[]'; readonly value: readonly boolean[] }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'string[]'; readonly value: readonly string[] }
  | { readonly type: 'integer'; readonly value: number }
  | { readonly type: 'integer[]'; readonly value: readonly number[] }
  | { readonly type: 'double'; readonly value: number }
  | { readonly type: 'double[]'; readonly value: readonly number[] };

/** Compile-time check that AttributeValue covers exactly the schema's attribute types. */
export type AttributeValueType = AttributeValue['type'];
const _sameTypes: [AttributeType] extends [AttributeValueType] ? true : never = true;
void _sameTypes;

export interface Attribute {
  readonly entity: Entity;
  readonly attribute: string;
  readonly value: AttributeValue;
}

/** A JSON value (what `context.data` holds). */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [k: string]: JsonValue };

/** Per-request context: contextual tuples and attributes (never persisted) and free-form data for rules. */
export interface RequestContext {
  readonly tuples: readonly Tuple[];
  readonly attributes: readonly Attribute[];
  readonly data: { readonly [k: string]: JsonValue };
}

export const emptyContext: RequestContext = Object.freeze({
  tuples: Object.freeze([]) as readonly Tuple[],
  attributes: Object.freeze([]) as readonly Attribute[],
  data: Object.freeze({}),
});
