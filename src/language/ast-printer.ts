/**
 * Renders a {@link SchemaAst} back to schema text (used by partial schema writes, which edit statements at the
 * syntax level before recompiling). Expressions are fully parenthesised, like stored definitions.
 */
import type { ExpressionAst, MemberAst, PathAst, RuleAst, SchemaAst, StatementAst } from './ast.js';

const indent = '    ';

function path(p: PathAst): string {
  return p.segments.map((s) => s.value).join('.');
}

/** Fully parenthesised rendering; iterative over the left spine. */
export function printExpressionAst(e: ExpressionAst): string {
  const spine: Extract<ExpressionAst, { kind: 'infix' }>[] = [];
  let cur = e;
  while (cur.kind === 'infix') {
    spine.push(cur);
    cur = cur.left;
  }
  let text = cur.kind === 'path' ? path(cur) : `${cur.name.value}(${cur.arguments.map(path).join(', ')})`;
  for (let i = spine.length - 1; i >= 0; i--) {
    const node = spine[i];
    if (node === undefined) continue;
    text = `(${text} ${node.operator} ${printExpressionAst(node.right)})`;
  }
  return text;
}

export function printMemberAst(m: MemberAst): string {
  switch (m.kind) {
    case 'relation':
      return `relation ${m.name.value} ${m.types
        .map((t) => `@${t.type.value}${t.relation === undefined ? '' : `#${t.relation.value}`}`)
        .join(' ')}`;
    case 'attribute':
      return `attribute ${m.name.value} ${m.type.value}${m.isArray ? '[]' : ''}`;
    case 'permission':
      return `${m.isAction ? 'action' : 'permission'} ${m.name.value} = ${printExpressionAst(m.expression)}`;
  }
}

function printRuleAst(r: RuleAst): string {
  const params = r.parameters.map((p) => `${p.name.value} ${p.type.value}${p.isArray ? '[]' : ''}`).join(', ');
  return `rule ${r.name.value}(${params}) {\n${indent}${r.body}\n}`;
}

export function printStatementAst(s: StatementAst): string {
  if (s.kind === 'rule') return printRuleAst(s);
  if (s.members.length === 0) return `entity ${s.name.value} {}`;
  return `entity ${s.name.value} {\n${s.members.map((m) => indent + printMemberAst(m)).join('\n')}\n}`;
}

/** Schema text for an AST: statements in order, separated by blank lines. */
export function printSchemaAst(ast: SchemaAst): string {
  return ast.statements.length === 0 ? '' : `${ast.statements.map(printStatementAst).join('\n\n')}\n`;
}
