/**
 * The compiled, immutable schema model shared by the engine, the storage validators and the API.
 *
 * Produced by `language/compiler` once per schema version, deeply frozen, and shared by every request
 * evaluated against that version. All maps iterate in declaration (source) order.
 */
import type { AttributeValue, JsonValue } from '../data/types.js';

/** The eight attribute (and rule parameter) types, spelled as in the schema language. */
export type AttributeType =
  | 'boolean'
  | 'boolean[]'
  | 'string'
  | 'string[]'
  | 'integer'
  | 'integer[]'
  | 'double'
  | 'double[]';

export const attributeTypes: readonly AttributeType[] = [
  'boolean',
  'boolean[]',
  'string',
  'string[]',
  'integer',
  'integer[]',
  'double',
  'double[]',
];

/** A 1-based line and Permify-style column (byte offset in the line + 2) in the schema source. */
export interface SourcePosition {
  readonly line: number;
  readonly column: number;
}

/** Operation of a rewrite node. */
export type RewriteOperation = 'union' | 'intersection' | 'exclusion';

/**
 * A node of a permission expression. Rewrites are binary (`a or b or c` is `union(union(a, b), c)`),
 * exactly as Permify compiles them; this shape is visible in Expand output.
 */
export type Child =
  | { readonly kind: 'rewrite'; readonly operation: RewriteOperation; readonly children: readonly [Child, Child] }
  /** A bare relation or permission name of the same entity. */
  | { readonly kind: 'computed-user-set'; readonly relation: string }
  /** A walk `tupleSet.computed`: follow tuples of relation `tupleSet`, evaluate `computed` on each subject. */
  | { readonly kind: 'tuple-to-user-set'; readonly tupleSet: string; readonly computed: string }
  /** A bare boolean attribute of the same entity. */
  | { readonly kind: 'computed-attribute'; readonly name: string }
  /** A rule call; `arguments` are attribute names of the calling entity (bound to parameters by name). */
  | { readonly kind: 'call'; readonly ruleName: string; readonly arguments: readonly string[] };

/** One allowed subject type of a relation: `@type` (relation "") or `@type#relation`. */
export interface RelationReference {
  readonly type: string;
  readonly relation: string;
}

export interface RelationDefinition {
  readonly name: string;
  readonly references: readonly RelationReference[];
}

export interface AttributeDefinition {
  readonly name: string;
  readonly type: AttributeType;
}

export interface PermissionDefinition {
  readonly name: string;
  readonly child: Child;
  /** True when declared with the `action` keyword (identical semantics; kept for printing). */
  readonly isAction: boolean;
}

/** What a member name of an entity denotes. */
export type ReferenceKind = 'relation' | 'permission' | 'attribute';

export interface EntityDefinition {
  readonly name: string;
  readonly relations: ReadonlyMap<string, RelationDefinition>;
  readonly attributes: ReadonlyMap<string, AttributeDefinition>;
  readonly permissions: ReadonlyMap<string, PermissionDefinition>;
  /** Every member name of the entity and what it denotes. */
  readonly references: ReadonlyMap<string, ReferenceKind>;
  /** Member names in declaration order (relations, attributes and permissions interleaved as written). */
  readonly memberOrder: readonly string[];
}

/** A type-checked CEL program, ready to evaluate. CEL specifics stay inside `language/`. */
export interface CompiledRuleProgram {
  /**
   * Evaluates the rule body.
   * @param args parameter name -> value. A key that is absent leaves the parameter unbound (touching it is an
   *   evaluation error); a key bound to `null` binds the parameter to its type's default (`""`, `false`,
   *   `0`, `0.0`, `[]`). Integers are CEL `int`, doubles CEL `double`.
   * @param contextData the request's `context.data`, visible as `context.data` (JSON numbers are doubles).
   * @returns the boolean result.
   * @throws PermifyError (ERROR_CODE_INVALID_ARGUMENT, message = the evaluation error) on evaluation failure or a
   *   non-boolean result.
   */
  evaluate(args: ReadonlyMap<string, AttributeValue | null>, contextData: { readonly [k: string]: JsonValue }): boolean;
}

export interface RuleDefinition {
  readonly name: string;
  /** Parameter name -> type, in declaration order. */
  readonly parameters: ReadonlyMap<string, AttributeType>;
  /** The CEL body exactly as written between the rule's braces, trimmed (spec §2.7; Permify re-assembles it). */
  readonly expression: string;
  readonly program: CompiledRuleProgram;
}

/** A whole compiled schema. */
export interface Schema {
  readonly entities: ReadonlyMap<string, EntityDefinition>;
  readonly rules: ReadonlyMap<string, RuleDefinition>;
  /** Top-level name -> kind, in source order. */
  readonly references: ReadonlyMap<string, 'entity' | 'rule'>;
}
