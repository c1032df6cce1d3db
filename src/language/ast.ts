/**
 * The syntax tree produced by {@link parseSchema}. Every node is a discriminated union member on `kind` and
 * carries the source position (line, Permify-style column) of the token it was built from. Names are decoded
 * text; positions are byte based (spec §1.4).
 */

/** A name as written in the source, with the position of its first character. */
export interface Name {
  readonly kind: 'name';
  readonly value: string;
  readonly line: number;
  readonly column: number;
}

export interface SubjectTypeAst {
  readonly kind: 'subject-type';
  readonly type: Name;
  /** Present for `@T#r`. */
  readonly relation?: Name;
}

export interface RelationAst {
  readonly kind: 'relation';
  readonly name: Name;
  readonly types: readonly SubjectTypeAst[];
}

export interface AttributeAst {
  readonly kind: 'attribute';
  readonly name: Name;
  /** The type name as written (checked by the compiler). */
  readonly type: Name;
  readonly isArray: boolean;
}

/** A path operand: `x`, `r.x`, or longer chains (rejected by the compiler). */
export interface PathAst {
  readonly kind: 'path';
  readonly segments: readonly Name[];
  readonly line: number;
  readonly column: number;
}

export interface CallAst {
  readonly kind: 'call';
  readonly name: Name;
  readonly arguments: readonly PathAst[];
  readonly line: number;
  readonly column: number;
}

export type OperatorAst = 'and' | 'or' | 'not';

export interface InfixAst {
  readonly kind: 'infix';
  readonly operator: OperatorAst;
  readonly left: ExpressionAst;
  readonly right: ExpressionAst;
  /** Position of the operator token. */
  readonly line: number;
  readonly column: number;
}

export type ExpressionAst = InfixAst | PathAst | CallAst;

export interface PermissionAst {
  readonly kind: 'permission';
  readonly name: Name;
  /** Declared with `action` rather than `permission`. */
  readonly isAction: boolean;
  readonly expression: ExpressionAst;
}

export type MemberAst = RelationAst | AttributeAst | PermissionAst;

export interface EntityAst {
  readonly kind: 'entity';
  readonly name: Name;
  readonly members: readonly MemberAst[];
  readonly line: number;
  readonly column: number;
}

export interface ParameterAst {
  readonly kind: 'parameter';
  readonly name: Name;
  readonly type: Name;
  readonly isArray: boolean;
}

export interface RuleAst {
  readonly kind: 'rule';
  readonly name: Name;
  readonly parameters: readonly ParameterAst[];
  /**
   * The CEL body exactly as written between the braces, without surrounding whitespace (spec §2.7; upstream
   * re-assembles it from tokens instead).
   */
  readonly body: string;
  /** Position of the body's first character; CEL errors are reported relative to it. */
  readonly bodyLine: number;
  readonly bodyColumn: number;
  readonly line: number;
  readonly column: number;
}

export type StatementAst = EntityAst | RuleAst;

export interface SchemaAst {
  readonly kind: 'schema';
  readonly statements: readonly StatementAst[];
}
