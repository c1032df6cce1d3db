/**
 * Parser of the Permify schema language (spec §2, §3.2): a recursive-descent/Pratt parser that mirrors
 * upstream's control flow closely enough to report the same first error at the same position, with two
 * deliberate differences: rule bodies are read verbatim as CEL (not re-assembled from tokens), and a duplicate
 * declaration is reported at its own name, naming where the first one is.
 *
 * Parse errors throw `PermifyError('ERROR_CODE_SCHEMA_PARSE', 'L:C:msg')` where `L:C` is the lexer cursor (just
 * past the look-ahead token, spec §1.4), or the duplicate name's position. Expression nesting is bounded by
 * {@link maxExpressionDepth}, so hostile input cannot overflow the stack.
 */
import { PermifyError } from '../errors.js';
import type {
  AttributeAst,
  CallAst,
  EntityAst,
  ExpressionAst,
  MemberAst,
  Name,
  OperatorAst,
  ParameterAst,
  PathAst,
  PermissionAst,
  RelationAst,
  RuleAst,
  SchemaAst,
  StatementAst,
  SubjectTypeAst,
} from './ast.js';
import { Lexer, decodeBytes, type Token, type TokenType } from './lexer.js';

/**
 * Maximum nesting depth of a permission expression (parentheses plus operator chains). Deeper expressions are
 * rejected with a parse error naming this limit; the engine evaluates expressions recursively, so unbounded
 * depth would be a denial-of-service vector.
 */
export const maxExpressionDepth = 1000;

const ignored: ReadonlySet<TokenType> = new Set<TokenType>([
  'SPACE',
  'TAB',
  'SINGLE_LINE_COMMENT',
  'MULTI_LINE_COMMENT',
]);
/** Tokens after which one line break is skipped, so an expression may continue on the next line. */
const continuation: ReadonlySet<TokenType> = new Set<TokenType>(['LP', 'AND', 'OR', 'NOT', 'ASSIGN']);
const operators: ReadonlyMap<TokenType, OperatorAst> = new Map<TokenType, OperatorAst>([
  ['AND', 'and'],
  ['OR', 'or'],
  ['NOT', 'not'],
]);

type DeclarationKind = 'entity' | 'rule' | 'relation' | 'attribute' | 'permission';
const article: Readonly<Record<DeclarationKind, string>> = {
  entity: 'an',
  rule: 'a',
  relation: 'a',
  attribute: 'an',
  permission: 'a',
};

/** Where a name was first declared, for duplicate diagnostics. */
interface Declaration {
  readonly kind: DeclarationKind;
  readonly line: number;
  readonly column: number;
}

class Parser {
  private readonly lexer: Lexer;
  private cur: Token;
  /** Type of the token before `cur` (as of the last `next()`); drives expression line continuation. */
  private prevType: TokenType = 'EOF';
  /** Operator depth of the expression most recently returned by parseExpression (guards maxExpressionDepth). */
  private lastDepth = 1;
  private peek: Token;
  /** Top-level names (entities and rules share one namespace) and where each was declared. */
  private readonly topNames = new Map<string, Declaration>();
  /** Member names of the entity being parsed (relations, attributes and permissions share one namespace). */
  private memberNames = new Map<string, Declaration>();

  constructor(text: string) {
    this.lexer = new Lexer(text);
    const eof: Token = { type: 'EOF', literal: '', line: 1, column: 1 };
    this.cur = eof;
    this.peek = this.fetch();
    this.next();
  }

  private peekType(): TokenType {
    return this.peek.type;
  }

  private curType(): TokenType {
    return this.cur.type;
  }

  private fetch(): Token {
    let t = this.lexer.nextNonBlankToken();
    while (ignored.has(t.type)) t = this.lexer.nextNonBlankToken();
    return t;
  }

  /** Advances by one significant token (spaces and comments skipped), remembering the previous token. */
  private next(): void {
    this.prevType = this.cur.type;
    this.cur = this.peek;
    this.peek = this.fetch();
  }

  private fail(message: string): never {
    throw new PermifyError('ERROR_CODE_SCHEMA_PARSE', `${this.lexer.line}:${this.lexer.column}:${message}`, {
      details: { line: this.lexer.line, column: this.lexer.column },
    });
  }

  private peekError(expected: TokenType): never {
    return this.fail(`expected next token to be ${expected}, got ${this.peekType()} instead`);
  }

  /** Advances if the look-ahead has the given type, else fails. */
  private expectAndNext(type: TokenType): void {
    if (this.peekType() !== type) this.peekError(type);
    this.next();
  }

  private name(t: Token): Name {
    return { kind: 'name', value: decodeBytes(t.literal), line: t.line, column: t.column };
  }

  parseSchema(): SchemaAst {
    const statements: StatementAst[] = [];
    while (this.curType() !== 'EOF') {
      if (this.curType() === 'ENTITY') statements.push(this.parseEntity());
      else if (this.curType() === 'RULE') statements.push(this.parseRule());
      // Any other token at top level is skipped silently (upstream leniency, spec §1.3).
      this.next();
    }
    return { kind: 'schema', statements };
  }

  /** Skips to the first relation/attribute/permission statement and parses it; undefined if there is none. */
  parseFirstMember(): MemberAst | undefined {
    for (;;) {
      switch (this.curType()) {
        case 'EOF':
          return undefined;
        case 'RELATION':
          return this.parseRelation('');
        case 'ATTRIBUTE':
          return this.parseAttribute('');
        case 'PERMISSION':
          return this.parsePermission('');
        default:
          this.next();
      }
    }
  }

  /** Fails at a token's own position (rather than at the look-ahead cursor). */
  private failAt(at: { line: number; column: number }, message: string): never {
    throw new PermifyError('ERROR_CODE_SCHEMA_PARSE', `${at.line}:${at.column}:${message}`, {
      details: { line: at.line, column: at.column },
    });
  }

  /**
   * Records a declaration in `scope`. A second declaration of a name is reported at its own name token, and the
   * message says where the first one is (upstream reports the look-ahead cursor, often the entity's `}`).
   */
  private declare(scope: Map<string, Declaration>, key: string, name: Name, kind: DeclarationKind): void {
    const first = scope.get(name.value);
    if (first !== undefined) {
      this.failAt(
        name,
        `duplication found for ${key} (first declared as ${article[first.kind]} ${first.kind} at ${first.line}:${first.column})`,
      );
    }
    scope.set(name.value, { kind, line: name.line, column: name.column });
  }

  private declareMember(entity: string, name: Name, kind: DeclarationKind): void {
    this.declare(this.memberNames, `${entity}#${name.value}`, name, kind);
  }

  private parseEntity(): EntityAst {
    const keyword = this.cur;
    this.expectAndNext('IDENT');
    const name = this.name(this.cur);
    this.declare(this.topNames, name.value, name, 'entity');
    this.memberNames = new Map<string, Declaration>();
    this.expectAndNext('LCB');
    const members: MemberAst[] = [];
    while (this.curType() !== 'RCB') {
      switch (this.curType()) {
        case 'EOF':
          this.fail('expected token to be RCB, got EOF instead');
          break;
        case 'RELATION':
          members.push(this.parseRelation(name.value));
          break;
        case 'ATTRIBUTE':
          members.push(this.parseAttribute(name.value));
          break;
        case 'PERMISSION':
          members.push(this.parsePermission(name.value));
          break;
        case 'NEWLINE':
        case 'LCB':
          break;
        default:
          this.fail(`expected token to be RELATION, PERMISSION, ATTRIBUTE, got ${this.curType()} instead`);
      }
      this.next();
    }
    return { kind: 'entity', name, members, line: keyword.line, column: keyword.column };
  }

  private parseRelation(entity: string): RelationAst {
    this.expectAndNext('IDENT');
    const name = this.name(this.cur);
    if (this.peekType() !== 'SIGN') this.peekError('SIGN');
    const types: SubjectTypeAst[] = [];
    while (this.peekType() === 'SIGN') {
      this.next();
      this.expectAndNext('IDENT');
      const type = this.name(this.cur);
      if (this.peekType() === 'HASH') {
        this.next();
        this.expectAndNext('IDENT');
        types.push({ kind: 'subject-type', type, relation: this.name(this.cur) });
      } else {
        types.push({ kind: 'subject-type', type });
      }
    }
    this.declareMember(entity, name, 'relation');
    return { kind: 'relation', name, types };
  }

  private parseAttribute(entity: string): AttributeAst {
    this.expectAndNext('IDENT');
    const name = this.name(this.cur);
    this.expectAndNext('IDENT');
    const type = this.name(this.cur);
    let isArray = false;
    if (this.peekType() === 'LSB') {
      this.next();
      this.expectAndNext('RSB');
      isArray = true;
    }
    this.declareMember(entity, name, 'attribute');
    return { kind: 'attribute', name, type, isArray };
  }

  private parsePermission(entity: string): PermissionAst {
    const isAction = this.cur.literal === 'action';
    this.expectAndNext('IDENT');
    const name = this.name(this.cur);
    this.declareMember(entity, name, 'permission');
    this.expectAndNext('ASSIGN');
    this.next();
    const expression = this.parseExpression(false, 0);
    return { kind: 'permission', name, isAction, expression };
  }

  /**
   * Parses an expression starting at the current token. With `single`, parses one operand only (the right-hand
   * side of an operator: all operators share one precedence level and associate to the left).
   */
  private parseExpression(single: boolean, nesting: number): ExpressionAst {
    if (nesting > maxExpressionDepth) {
      this.fail(`expression nesting exceeds the limit maxExpressionDepth=${maxExpressionDepth}`);
    }
    // One line break directly after `(`, `=`, `and`, `or` or `not` continues the expression (spec §1.3).
    if (this.curType() === 'NEWLINE' && continuation.has(this.prevType)) this.next();
    let left: ExpressionAst;
    let leftDepth = 1;
    if (this.curType() === 'LP') {
      this.next();
      left = this.parseExpression(false, nesting + 1);
      leftDepth = this.lastDepth;
      if (this.peekType() !== 'RP') this.peekError('RP');
      this.next();
    } else if (this.curType() === 'IDENT') {
      left = this.peekType() === 'LP' ? this.parseCall() : this.parsePath();
    } else {
      this.fail(`no prefix parse function for ${this.curType()} found`);
    }
    if (single) {
      this.lastDepth = leftDepth;
      return left;
    }
    for (;;) {
      const op = operators.get(this.peekType());
      if (op === undefined) {
        this.lastDepth = leftDepth;
        return left;
      }
      this.next();
      const opToken = this.cur;
      this.next();
      const right = this.parseExpression(true, nesting + 1);
      leftDepth = Math.max(leftDepth, this.lastDepth) + 1;
      if (leftDepth + nesting > maxExpressionDepth) {
        this.fail(`expression nesting exceeds the limit maxExpressionDepth=${maxExpressionDepth}`);
      }
      left = { kind: 'infix', operator: op, left, right, line: opToken.line, column: opToken.column };
    }
  }

  private parsePath(): PathAst {
    const first = this.cur;
    if (first.type !== 'IDENT') this.fail(`expected token to be IDENT, got ${first.type} instead`);
    const segments: Name[] = [this.name(first)];
    while (this.peekType() === 'DOT') {
      this.next();
      this.expectAndNext('IDENT');
      segments.push(this.name(this.cur));
    }
    return { kind: 'path', segments, line: first.line, column: first.column };
  }

  private parseCall(): CallAst {
    const name = this.name(this.cur);
    this.expectAndNext('LP');
    const args: PathAst[] = [];
    if (this.peekType() === 'RP') {
      this.next();
      return { kind: 'call', name, arguments: args, line: name.line, column: name.column };
    }
    this.next();
    args.push(this.parsePath());
    while (this.peekType() === 'COMMA') {
      this.next();
      this.expectAndNext('IDENT');
      args.push(this.parsePath());
    }
    this.expectAndNext('RP');
    return { kind: 'call', name, arguments: args, line: name.line, column: name.column };
  }

  private parseRule(): RuleAst {
    const keyword = this.cur;
    this.expectAndNext('IDENT');
    const name = this.name(this.cur);
    this.expectAndNext('LP');
    const parameters: ParameterAst[] = [];
    while (this.peekType() !== 'RP') {
      this.expectAndNext('IDENT');
      const param = this.name(this.cur);
      this.expectAndNext('IDENT');
      const type = this.name(this.cur);
      let isArray = false;
      if (this.peekType() === 'LSB') {
        this.next();
        this.expectAndNext('RSB');
        isArray = true;
      }
      parameters.push({ kind: 'parameter', name: param, type, isArray });
      if (this.peekType() !== 'COMMA') {
        if (this.peekType() !== 'RP') this.peekError('RP');
        break;
      }
      this.next();
    }
    this.expectAndNext('RP');
    if (this.peekType() !== 'LCB') this.peekError('LCB');
    // The lexer cursor is just past the `{`: the body is read verbatim from there (spec §2.7, a deliberate
    // difference from upstream's token re-assembly), then parsing resumes at the closing `}`.
    const body = this.lexer.readRuleBody();
    this.next();
    this.expectAndNext('RCB');
    this.declare(this.topNames, name.value, name, 'rule');
    return {
      kind: 'rule',
      name,
      parameters,
      body: decodeBytes(body.text),
      bodyLine: body.line,
      bodyColumn: body.column,
      line: keyword.line,
      column: keyword.column,
    };
  }
}

/**
 * Parses schema text into a {@link SchemaAst}. Stops at the first error.
 * @throws PermifyError ERROR_CODE_SCHEMA_PARSE with message `L:C:msg` (no space after the second colon).
 */
export function parseSchema(text: string): SchemaAst {
  return new Parser(text).parseSchema();
}

/**
 * Parses the first `relation`/`attribute`/`permission`/`action` statement of `text` (leading tokens of other
 * kinds are skipped), as partial schema writes do (spec §6). Returns undefined when there is none.
 * @throws PermifyError ERROR_CODE_SCHEMA_PARSE when the statement is malformed.
 */
export function parseMemberStatement(text: string): MemberAst | undefined {
  return new Parser(text).parseFirstMember();
}
