import { describe, expect, it } from 'vitest';
import { goTimeText } from '../../src/api/handlers/schema.js';
import { toWireError } from '../../src/api/handlers/deps.js';
import { ruleExpressionToCheckedExpr } from '../../src/api/convert/checked-expr.js';
import { PermifyError } from '../../src/errors.js';

describe('SchemaList created_at', () => {
  it("uses Go's default time text", () => {
    expect(goTimeText(new Date(Date.UTC(2024, 4, 1, 10, 20, 30, 999)))).toBe('2024-05-01 10:20:30 +0000 UTC');
  });
});

describe('wire error messages', () => {
  it('replaces descriptive messages of coded errors by the code name', () => {
    const e = toWireError(new PermifyError('ERROR_CODE_BUNDLE_NOT_FOUND', 'bundle "x" not found'));
    expect(e.message).toBe('ERROR_CODE_BUNDLE_NOT_FOUND');
    expect(e.grpcStatus).toBe(5);
  });
  it('keeps validation texts, schema diagnostics and internal texts', () => {
    expect(toWireError(new PermifyError('ERROR_CODE_VALIDATION', 'invalid X.Y: value is required')).message).toBe(
      'invalid X.Y: value is required',
    );
    expect(
      toWireError(new PermifyError('ERROR_CODE_SCHEMA_COMPILE', '3:14: undefined relation reference')).message,
    ).toBe('3:14: undefined relation reference');
    expect(toWireError(new PermifyError('ERROR_CODE_INTERNAL', 'invalid tuple: "x"')).message).toBe(
      'invalid tuple: "x"',
    );
  });
  it('turns unknown throwables into INTERNAL without their text', () => {
    const e = toWireError(new Error('SELECT * FROM secrets'));
    expect(e.code).toBe('ERROR_CODE_INTERNAL');
    expect(e.message).toBe('ERROR_CODE_INTERNAL');
  });
});

describe('rule expressions as CheckedExpr', () => {
  it('translates operators to CEL standard function names with unique ids', () => {
    const c = ruleExpressionToCheckedExpr('balance >= context.data.amount && "eu" in regions');
    const root = c.expr;
    expect(root?.exprKind.case).toBe('callExpr');
    if (root?.exprKind.case !== 'callExpr') return;
    expect(root.exprKind.value.function).toBe('_&&_');
    const [left, right] = root.exprKind.value.args;
    expect(left?.exprKind.case === 'callExpr' && left.exprKind.value.function).toBe('_>=_');
    expect(right?.exprKind.case === 'callExpr' && right.exprKind.value.function).toBe('@in');
    const ids = new Set<bigint>();
    const walk = (e: typeof root | undefined): void => {
      if (!e) return;
      expect(ids.has(e.id)).toBe(false);
      ids.add(e.id);
      if (e.exprKind.case === 'callExpr') {
        walk(e.exprKind.value.target);
        e.exprKind.value.args.forEach(walk);
      }
      if (e.exprKind.case === 'selectExpr') walk(e.exprKind.value.operand);
    };
    walk(root);
    expect(ids.size).toBe(9); // expect(ids.size).toBe(7);expect(ids.size).toBe(7);, >=, balance, .amount, .data, context, in, "eu", regions
    expect(Object.keys(c.typeMap)).toEqual([root.id.toString()]);
    expect(Object.keys(c.sourceInfo?.positions ?? {})).toHaveLength(9);
  });

  it('yields an empty CheckedExpr for text that does not parse', () => {
    expect(ruleExpressionToCheckedExpr('a &&').expr).toBeUndefined();
  });
});
