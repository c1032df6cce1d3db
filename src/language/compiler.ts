/**
 * Compiler from {@link SchemaAst} to the frozen {@link Schema} model (spec §3).
 *
 * Pipeline: parse (ERROR_CODE_SCHEMA_PARSE, `L:C:msg`), optional reference validation, then compilation of
 * entities and rules in source order. Semantic errors carry their specific code and the message `L:C: words`
 * (one space), with `details.line`/`details.column` set.
 */
import { PermifyError, type ErrorCode } from '../errors.js';
import {
  attributeTypes,
  type AttributeDefinition,
  type AttributeType,
  type Child,
  type EntityDefinition,
  type PermissionDefinition,
  type ReferenceKind,
  type RelationDefinition,
  type RelationReference,
  type RuleDefinition,
  type Schema,
} from '../schema/model.js';
import type { CallAst, EntityAst, ExpressionAst, Name, PathAst, RuleAst, SchemaAst } from './ast.js';
import { compileRuleBody } from './cel.js';
import { FrozenMap } from './frozen.js';
import { parseSchema } from './parser.js';

export interface CompileOptions {
  /**
   * Check that the schema has an entity and that every `@T`/`@T#r` resolves (default true). Stored schema
   * versions are recompiled with `false`, as upstream does.
   */
  readonly validateReferences?: boolean;
}

/** Message text of a code: `ERROR_CODE_UNDEFINED_RELATION_REFERENCE` -> `undefined relation reference`. */
function words(code: ErrorCode): string {
  return code
    .replace(/^ERROR_CODE_/, '')
    .toLowerCase()
    .replace(/_/g, ' ');
}

function semantic(code: ErrorCode, at: { line: number; column: number }, message = words(code)): PermifyError {
  return new PermifyError(code, `${at.line}:${at.column}: ${message}`, {
    details: { line: at.line, column: at.column },
  });
}

const validTypes: ReadonlySet<string> = new Set(attributeTypes);

function attributeTypeOf(type: Name, isArray: boolean): AttributeType {
  const t = `${type.value}${isArray ? '[]' : ''}`;
  if (!validTypes.has(t)) throw semantic('ERROR_CODE_INVALID_ARGUMENT', type);
  return t as AttributeType;
}

/** Source-level facts about the schema the compiler consults while checking operands. */
interface Index {
  readonly entities: ReadonlyMap<string, EntityAst>;
  readonly rules: ReadonlyMap<string, RuleAst>;
  /** entity -> member name -> kind. */
  readonly members: ReadonlyMap<string, ReadonlyMap<string, ReferenceKind>>;
  /** entity -> relation name -> allowed subject types. */
  readonly relationTypes: ReadonlyMap<string, ReadonlyMap<string, readonly RelationReference[]>>;
  /** entity -> attribute name -> type (unknown type names are recorded as null). */
  readonly attributeTypes: ReadonlyMap<string, ReadonlyMap<string, AttributeType | null>>;
}

function buildIndex(ast: SchemaAst): Index {
  const entities = new Map<string, EntityAst>();
  const rules = new Map<string, RuleAst>();
  const members = new Map<string, Map<string, ReferenceKind>>();
  const relationTypes = new Map<string, Map<string, readonly RelationReference[]>>();
  const attrTypes = new Map<string, Map<string, AttributeType | null>>();
  for (const s of ast.statements) {
    if (s.kind === 'rule') {
      rules.set(s.name.value, s);
      continue;
    }
    entities.set(s.name.value, s);
    const m = new Map<string, ReferenceKind>();
    const r = new Map<string, readonly RelationReference[]>();
    const a = new Map<string, AttributeType | null>();
    for (const member of s.members) {
      m.set(member.name.value, member.kind);
      if (member.kind === 'relation') {
        r.set(
          member.name.value,
          Object.freeze(
            member.types.map((t) => Object.freeze({ type: t.type.value, relation: t.relation?.value ?? '' })),
          ),
        );
      } else if (member.kind === 'attribute') {
        const t = `${member.type.value}${member.isArray ? '[]' : ''}`;
        a.set(member.name.value, validTypes.has(t) ? (t as AttributeType) : null);
      }
    }
    members.set(s.name.value, m);
    relationTypes.set(s.name.value, r);
    attrTypes.set(s.name.value, a);
  }
  return { entities, rules, members, relationTypes, attributeTypes: attrTypes };
}

function validateReferences(ast: SchemaAst, index: Index): void {
  if (index.entities.size === 0) {
    throw semantic('ERROR_CODE_NO_ENTITY_REFERENCES_FOUND_IN_SCHEMA', { line: 1, column: 1 });
  }
  for (const s of ast.statements) {
    if (s.kind !== 'entity') continue;
    for (const member of s.members) {
      if (member.kind !== 'relation') continue;
      for (const t of member.types) {
        const target = index.members.get(t.type.value);
        const ok = target !== undefined && (t.relation === undefined || target.get(t.relation.value) === 'relation');
        if (!ok) throw semantic('ERROR_CODE_RELATION_REFERENCE_NOT_FOUND_IN_ENTITY_REFERENCES', t.type);
      }
    }
  }
}

class EntityCompiler {
  constructor(
    private readonly index: Index,
    private readonly entity: EntityAst,
  ) {}

  private get members(): ReadonlyMap<string, ReferenceKind> {
    return this.index.members.get(this.entity.name.value) ?? new Map();
  }

  compile(): EntityDefinition {
    const relations: [string, RelationDefinition][] = [];
    const attributes: [string, AttributeDefinition][] = [];
    const permissions: [string, PermissionDefinition][] = [];
    for (const m of this.entity.members) {
      if (m.kind === 'relation') {
        relations.push([
          m.name.value,
          Object.freeze({
            name: m.name.value,
            references: this.index.relationTypes.get(this.entity.name.value)?.get(m.name.value) ?? [],
          }),
        ]);
      }
    }
    for (const m of this.entity.members) {
      if (m.kind === 'attribute') {
        attributes.push([
          m.name.value,
          Object.freeze({ name: m.name.value, type: attributeTypeOf(m.type, m.isArray) }),
        ]);
      }
    }
    for (const m of this.entity.members) {
      if (m.kind === 'permission') {
        permissions.push([
          m.name.value,
          Object.freeze({ name: m.name.value, child: this.compileExpression(m.expression), isAction: m.isAction }),
        ]);
      }
    }
    const references: [string, ReferenceKind][] = this.entity.members.map((m) => [m.name.value, m.kind]);
    return Object.freeze({
      name: this.entity.name.value,
      relations: new FrozenMap(relations),
      attributes: new FrozenMap(attributes),
      permissions: new FrozenMap(permissions),
      references: new FrozenMap(references),
      memberOrder: Object.freeze(this.entity.members.map((m) => m.name.value)),
    });
  }

  /** Iterative over the left spine so long operator chains do not deepen the JS stack. */
  private compileExpression(e: ExpressionAst): Child {
    const spine: ExpressionAst[] = [];
    let cur = e;
    while (cur.kind === 'infix') {
      spine.push(cur);
      cur = cur.left;
    }
    let child = this.compileLeaf(cur);
    for (let i = spine.length - 1; i >= 0; i--) {
      const node = spine[i];
      if (node === undefined || node.kind !== 'infix') continue;
      const right = this.compileExpression(node.right);
      const operation = node.operator === 'or' ? 'union' : node.operator === 'and' ? 'intersection' : 'exclusion';
      child = Object.freeze({ kind: 'rewrite', operation, children: Object.freeze([child, right] as const) });
    }
    return child;
  }

  private compileLeaf(e: PathAst | CallAst): Child {
    return e.kind === 'call' ? this.compileCall(e) : this.compilePath(e);
  }

  private compilePath(p: PathAst): Child {
    const [first, second, third] = p.segments;
    if (first === undefined) throw semantic('ERROR_CODE_SCHEMA_COMPILE', p);
    if (third !== undefined) throw semantic('ERROR_CODE_NOT_SUPPORTED_RELATION_WALK', third);
    if (second === undefined) {
      const kind = this.members.get(first.value);
      if (kind === 'relation' || kind === 'permission') {
        return Object.freeze({ kind: 'computed-user-set', relation: first.value });
      }
      if (kind === 'attribute') {
        const type = this.index.attributeTypes.get(this.entity.name.value)?.get(first.value);
        if (type !== 'boolean') throw semantic('ERROR_CODE_SCHEMA_COMPILE', first);
        return Object.freeze({ kind: 'computed-attribute', name: first.value });
      }
      throw semantic('ERROR_CODE_UNDEFINED_RELATION_REFERENCE', first);
    }
    if (this.members.get(first.value) !== 'relation') {
      throw semantic('ERROR_CODE_UNDEFINED_RELATION_REFERENCE', first);
    }
    const types = this.index.relationTypes.get(this.entity.name.value)?.get(first.value) ?? [];
    this.checkWalkTargets(types, second, new Set<string>());
    return Object.freeze({ kind: 'tuple-to-user-set', tupleSet: first.value, computed: second.value });
  }

  /** Every type a walk can reach must have `x` as a relation or permission; usersets recurse (spec §3.3). */
  private checkWalkTargets(types: readonly RelationReference[], x: Name, visited: Set<string>): void {
    for (const t of types) {
      if (t.relation === '') {
        const kind = this.index.members.get(t.type)?.get(x.value);
        if (kind !== 'relation' && kind !== 'permission') {
          throw semantic('ERROR_CODE_UNDEFINED_RELATION_REFERENCE', x);
        }
        continue;
      }
      const key = `${t.type}#${t.relation}`;
      if (visited.has(key)) continue;
      visited.add(key);
      const inner = this.index.relationTypes.get(t.type)?.get(t.relation);
      if (inner === undefined) throw semantic('ERROR_CODE_UNDEFINED_RELATION_REFERENCE', x);
      this.checkWalkTargets(inner, x, visited);
    }
  }

  private compileCall(c: CallAst): Child {
    const rule = this.index.rules.get(c.name.value);
    if (rule === undefined) throw semantic('ERROR_CODE_INVALID_RULE_REFERENCE', c.name);
    if (c.arguments.length === 0 || c.arguments.length !== rule.parameters.length) {
      throw semantic('ERROR_CODE_MISSING_ARGUMENT', c.name);
    }
    const params = new Map<string, string>();
    for (const p of rule.parameters) params.set(p.name.value, `${p.type.value}${p.isArray ? '[]' : ''}`);
    const attrs = this.index.attributeTypes.get(this.entity.name.value);
    const args: string[] = [];
    for (const a of c.arguments) {
      const [name, second] = a.segments;
      if (name === undefined) throw semantic('ERROR_CODE_INVALID_RULE_REFERENCE', c.name);
      if (second !== undefined) throw semantic('ERROR_CODE_NOT_SUPPORTED_WALK', second);
      if (this.members.get(name.value) !== 'attribute') {
        throw semantic('ERROR_CODE_INVALID_RULE_REFERENCE', c.name);
      }
      const paramType = params.get(name.value);
      const attrType = attrs?.get(name.value);
      if (paramType === undefined || attrType === undefined || attrType === null || paramType !== attrType) {
        throw semantic('ERROR_CODE_INVALID_ARGUMENT', name);
      }
      args.push(name.value);
    }
    return Object.freeze({ kind: 'call', ruleName: c.name.value, arguments: Object.freeze(args) });
  }
}

/**
 * Schema position of the character at `offset` (UTF-16 code units) in a rule body, counted the way the lexer
 * counts: `\r` and `\n` each start a line, columns are byte offset in the line + 2.
 */
function bodyPosition(rule: RuleAst, offset: number): { line: number; column: number } {
  const before = rule.body.slice(0, Math.max(0, offset));
  const breaks = before.match(/[\r\n]/g)?.length ?? 0;
  const lineStart = Math.max(before.lastIndexOf('\n'), before.lastIndexOf('\r')) + 1;
  const bytes = Buffer.byteLength(before.slice(lineStart), 'utf8');
  return breaks === 0
    ? { line: rule.bodyLine, column: rule.bodyColumn + bytes }
    : { line: rule.bodyLine + breaks, column: bytes + 2 };
}

function compileRule(rule: RuleAst): RuleDefinition {
  const parameters: [string, AttributeType][] = rule.parameters.map((p) => [
    p.name.value,
    attributeTypeOf(p.type, p.isArray),
  ]);
  const paramMap = new FrozenMap(parameters);
  const result = compileRuleBody(rule.body, paramMap);
  if (!result.ok) {
    if (result.kind === 'type') {
      throw semantic(
        'ERROR_CODE_SCHEMA_COMPILE',
        rule.name,
        `rule expression must result in a boolean type not ${result.type}`,
      );
    }
    const at = bodyPosition(rule, result.offset ?? 0);
    throw semantic('ERROR_CODE_SCHEMA_COMPILE', at, result.message.toLowerCase().replace(/_/g, ' '));
  }
  return Object.freeze({ name: rule.name.value, parameters: paramMap, expression: rule.body, program: result.program });
}

/** Compiles a parsed schema. See {@link compileSchema}. */
export function compileAst(ast: SchemaAst, options?: CompileOptions): Schema {
  const index = buildIndex(ast);
  if (options?.validateReferences ?? true) validateReferences(ast, index);
  const entities: [string, EntityDefinition][] = [];
  const rules: [string, RuleDefinition][] = [];
  const references: [string, 'entity' | 'rule'][] = [];
  for (const s of ast.statements) {
    if (s.kind === 'entity') {
      entities.push([s.name.value, new EntityCompiler(index, s).compile()]);
      references.push([s.name.value, 'entity']);
    } else {
      rules.push([s.name.value, compileRule(s)]);
      references.push([s.name.value, 'rule']);
    }
  }
  return Object.freeze({
    entities: new FrozenMap(entities),
    rules: new FrozenMap(rules),
    references: new FrozenMap(references),
  });
}

/**
 * Parses and compiles schema text into a deeply frozen {@link Schema}.
 * @throws PermifyError ERROR_CODE_SCHEMA_PARSE (`L:C:msg`) on syntax errors; the specific semantic code
 *   (`L:C: msg`, details.line/column) on reference and compile errors; ERROR_CODE_SCHEMA_COMPILE for CEL errors.
 */
export function compileSchema(text: string, options?: CompileOptions): Schema {
  return compileAst(parseSchema(text), options);
}
