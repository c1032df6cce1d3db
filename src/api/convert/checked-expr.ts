/**
 * Renders a rule body as a `google.api.expr.v1alpha1.CheckedExpr` for Schema/Read.
 *
 * The expression is parsed with the same CEL library the compiler uses and its AST is translated into the
 * canonical CEL protobuf AST (standard function names such as `_&&_`, `_==_`, `@in`, `_[_]`), with
 * sequential node ids, source positions, and the root typed as `bool` (the compiler guarantees a boolean
 * result). Reference and per-node type maps are not filled: the output is minimal but valid, and decodes in
 * every client. Expressions that fail to parse (never the case for compiled schemas) yield an empty
 * CheckedExpr rather than an error.
 */
import { create } from '@bufbuild/protobuf';
import { NullValue } from '@bufbuild/protobuf/wkt';
import { parse, type ASTNode } from '@marcbachmann/cel-js';
import {
  CheckedExprSchema,
  Type_PrimitiveType,
  TypeSchema,
  type CheckedExpr,
} from '../gen/google/api/expr/v1alpha1/checked_pb.js';
import {
  ConstantSchema,
  Expr_CallSchema,
  Expr_CreateListSchema,
  Expr_CreateStruct_EntrySchema,
  Expr_CreateStructSchema,
  Expr_IdentSchema,
  Expr_SelectSchema,
  ExprSchema,
  SourceInfoSchema,
  type Constant,
  type Expr,
} from '../gen/google/api/expr/v1alpha1/syntax_pb.js';

const functionNames: Readonly<Record<string, string>> = {
  '==': '_==_',
  '!=': '_!=_',
  '<': '_<_',
  '<=': '_<=_',
  '>': '_>_',
  '>=': '_>=_',
  '+': '_+_',
  '-': '_-_',
  '*': '_*_',
  '/': '_/_',
  '%': '_%_',
  in: '@in',
  '&&': '_&&_',
  '||': '_||_',
  '!_': '!_',
  '-_': '-_',
  '?:': '_?_:_',
  '[]': '_[_]',
  '[?]': '_[?_]',
};

function constant(v: unknown): Constant {
  if (v === null) return create(ConstantSchema, { constantKind: { case: 'nullValue', value: NullValue.NULL_VALUE } });
  if (typeof v === 'boolean') return create(ConstantSchema, { constantKind: { case: 'boolValue', value: v } });
  if (typeof v === 'bigint') return create(ConstantSchema, { constantKind: { case: 'int64Value', value: v } });
  if (typeof v === 'number') return create(ConstantSchema, { constantKind: { case: 'doubleValue', value: v } });
  if (typeof v === 'string') return create(ConstantSchema, { constantKind: { case: 'stringValue', value: v } });
  if (v instanceof Uint8Array) return create(ConstantSchema, { constantKind: { case: 'bytesValue', value: v } });
  // cel-js UnsignedInt wraps a bigint in `value`.
  const u = (v as { value?: unknown }).value;
  if (typeof u === 'bigint') return create(ConstantSchema, { constantKind: { case: 'uint64Value', value: u } });
  return create(ConstantSchema, { constantKind: { case: 'stringValue', value: String(v) } });
}

/** Translates one cel-js AST into CEL protobuf Exprs; `positions` receives id -> source offset. */
function translate(root: ASTNode, positions: Record<string, number>): Expr {
  let nextId = 1n;
  const visit = (n: ASTNode): Expr => {
    const id = nextId++;
    positions[id.toString()] = n.pos;
    const call = (fn: string, args: ASTNode[], target?: ASTNode): Expr =>
      create(ExprSchema, {
        id,
        exprKind: {
          case: 'callExpr',
          value: create(Expr_CallSchema, {
            function: fn,
            args: args.map(visit),
            ...(target ? { target: visit(target) } : {}),
          }),
        },
      });
    switch (n.op) {
      case 'value':
        return create(ExprSchema, { id, exprKind: { case: 'constExpr', value: constant(n.args) } });
      case 'id':
        return create(ExprSchema, {
          id,
          exprKind: { case: 'identExpr', value: create(Expr_IdentSchema, { name: n.args }) },
        });
      case '.':
      case '.?': {
        const [operand, field] = n.args;
        return create(ExprSchema, {
          id,
          exprKind: { case: 'selectExpr', value: create(Expr_SelectSchema, { operand: visit(operand), field }) },
        });
      }
      case 'call':
        return call(n.args[0], n.args[1]);
      case 'rcall':
        return call(n.args[0], n.args[2], n.args[1]);
      case 'list':
        return create(ExprSchema, {
          id,
          exprKind: { case: 'listExpr', value: create(Expr_CreateListSchema, { elements: n.args.map(visit) }) },
        });
      case 'map':
        return create(ExprSchema, {
          id,
          exprKind: {
            case: 'structExpr',
            value: create(Expr_CreateStructSchema, {
              entries: n.args.map(([k, v]) =>
                create(Expr_CreateStruct_EntrySchema, {
                  id: nextId++,
                  keyKind: { case: 'mapKey', value: visit(k) },
                  value: visit(v),
                }),
              ),
            }),
          },
        });
      case '!_':
      case '-_':
        return call(functionNames[n.op] as string, [n.args]);
      case '?:':
        return call('_?_:_', [...n.args]);
      default: {
        const args = n.args as [ASTNode, ASTNode];
        return call(functionNames[n.op] ?? n.op, [args[0], args[1]]);
      }
    }
  };
  return visit(root);
}

/** The CheckedExpr of a (type-checked, boolean) rule body. */
export function ruleExpressionToCheckedExpr(expression: string): CheckedExpr {
  let ast: ASTNode;
  try {
    ast = parse(expression).ast;
  } catch {
    return create(CheckedExprSchema, {});
  }
  const positions: Record<string, number> = {};
  const expr = translate(ast, positions);
  return create(CheckedExprSchema, {
    expr,
    sourceInfo: create(SourceInfoSchema, { location: '<input>', positions }),
    typeMap: {
      [expr.id.toString()]: create(TypeSchema, { typeKind: { case: 'primitive', value: Type_PrimitiveType.BOOL } }),
    },
  });
}
