/**
 * CEL support for rule bodies, built on `@marcbachmann/cel-js`. Everything CEL-specific stays in this module:
 * the rest of the code base sees only {@link CompiledRuleProgram}.
 *
 * Library notes (verified by tests in cel.test.ts):
 * - JS numbers are CEL `double`, bigints CEL `int`; we convert `integer` values to bigint on the way in.
 * - `&&`/`||` absorb errors as CEL requires; run-time comparisons across int/double work.
 * - The library accepts cross-type ordering comparisons at type-check time that cel-go rejects (e.g. a `double`
 *   parameter compared with an int literal); {@link findCrossTypeOrdering} rejects them after the check.
 * - Mixed-type list literals (`[1, 'a']`) are `list<dyn>` as in cel-go's default, not a type error.
 * - `matches` uses RE2 syntax upstream; calls are routed to ./re2.ts instead of the library's JS-regex built-in.
 * - Standard library only, as upstream: the library's string/bytes extension functions are rejected.
 */
import { Environment } from '@marcbachmann/cel-js';
import type { AttributeValue, JsonValue } from '../data/types.js';
import { PermifyError } from '../errors.js';
import type { AttributeType, CompiledRuleProgram } from '../schema/model.js';
import { re2Matches, Re2Error, withEvaluationBudget } from './re2.js';

const celTypeOf: Readonly<Record<AttributeType, string>> = {
  boolean: 'bool',
  'boolean[]': 'list<bool>',
  string: 'string',
  'string[]': 'list<string>',
  integer: 'int',
  'integer[]': 'list<int>',
  double: 'double',
  'double[]': 'list<double>',
};

const defaults: Readonly<Record<AttributeType, () => unknown>> = {
  boolean: () => false,
  'boolean[]': () => [],
  string: () => '',
  'string[]': () => [],
  integer: () => 0n,
  'integer[]': () => [],
  double: () => 0,
  'double[]': () => [],
};

/** First line of a library error, without the source excerpt. */
function summaryOf(e: unknown): string {
  if (e instanceof Error) {
    const s = (e as Error & { summary?: unknown }).summary;
    const text = typeof s === 'string' && s !== '' ? s : e.message;
    return text.split('\n')[0]?.trim() ?? '';
  }
  return String(e);
}

/** Start offset of a library error in the parsed text (`range.start`, set for parse and type errors). */
function offsetOf(e: unknown): number | undefined {
  const start = (e as { range?: { start?: unknown } } | null | undefined)?.range?.start;
  return typeof start === 'number' ? start : undefined;
}

function toCel(type: AttributeType, value: AttributeValue | null): unknown {
  if (value === null) return defaults[type]();
  switch (value.type) {
    case 'integer':
      return BigInt(Math.trunc(value.value));
    case 'integer[]':
      return value.value.map((v) => BigInt(Math.trunc(v)));
    case 'boolean[]':
    case 'string[]':
    case 'double[]':
      return [...value.value];
    default:
      return value.value;
  }
}

const orderingOperators = new Set(['<', '<=', '>', '>=']);
const numericTypes = new Set(['int', 'uint', 'double']);

/**
 * Visits every operator node (`{op, args}`) of a parsed body once, depth first; arrays and argument lists are
 * descended into, anything else is ignored, so an unexpected node shape can only be skipped, never crash.
 */
function forEachOpNode(root: unknown, visit: (node: { op: unknown; args: unknown }) => void): void {
  const pending: unknown[] = [root];
  const seen = new Set<unknown>();
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node !== 'object' || node === null || seen.has(node)) continue;
    seen.add(node);
    if (Array.isArray(node)) {
      pending.push(...(node as unknown[]));
      continue;
    }
    if (!('op' in node)) continue;
    const n = node as { op: unknown; args: unknown };
    visit(n);
    if (Array.isArray(n.args)) pending.push(n.args);
  }
}

/**
 * cel-go's checker (as upstream configures it) has no cross-type numeric ordering overloads: `int_param > 5.0`
 * is a type error there, while this library accepts it. After a successful check, look for an ordering
 * operator whose operands have statically known, different numeric types and report it the way cel-go does.
 * Operands typed `dyn` (anything read from `context`) stay allowed. Relies on the library caching each node's
 * checked type in `checkedType`; a node without one is skipped, so this can only reject, never crash.
 */
function findCrossTypeOrdering(root: unknown): { message: string; offset: number | undefined } | undefined {
  let found: { message: string; offset: number | undefined } | undefined;
  forEachOpNode(root, (node) => {
    const { op, args } = node;
    if (found !== undefined) return;
    if (typeof op === 'string' && orderingOperators.has(op) && Array.isArray(args) && args.length === 2) {
      const left = checkedTypeName(args[0]);
      const right = checkedTypeName(args[1]);
      if (
        left !== undefined &&
        right !== undefined &&
        left !== right &&
        numericTypes.has(left) &&
        numericTypes.has(right)
      ) {
        const pos = (node as { pos?: unknown }).pos;
        found = {
          message: `found no matching overload for '_${op}_' applied to '(${left}, ${right})'`,
          offset: typeof pos === 'number' ? pos : undefined,
        };
      }
    }
  });
  return found;
}

function checkedTypeName(node: unknown): string | undefined {
  if (typeof node !== 'object' || node === null) return undefined;
  const t = (node as { checkedType?: { name?: unknown } }).checkedType;
  return typeof t?.name === 'string' ? t.name : undefined;
}

/** Receiver-style name the RE2 `matches` is registered under (the library's own `matches` cannot be replaced). */
const re2MatchesName = 'matches_re2';

/**
 * Receiver functions the library adds beyond CEL's standard library (cel-go's strings/bytes extensions).
 * Upstream declares no extension libraries, so a rule using them does not compile there.
 */
const extensionFunctions = new Set([
  'at',
  'base64',
  'hex',
  'indexOf',
  'join',
  'json',
  'lastIndexOf',
  'lowerAscii',
  'split',
  'string',
  'substring',
  'trim',
  'upperAscii',
]);

/**
 * Walks the parsed body before type checking. Every receiver-style `matches` call is pointed at
 * {@link re2Matches} (registered as `string.matches_re2`), because CEL `x.matches(p)` is RE2 upstream while the
 * library's built-in compiles `p` as a JS RegExp; the global form `matches(x, p)` is registered directly.
 * Returns cel-go's message for the first call of an extension function, if any. Relies on the parsed node
 * shape `{op: 'rcall', args: [name, receiver, args]}`; other nodes are left alone.
 */
function prepareCalls(root: unknown): string | undefined {
  let rejected: string | undefined;
  forEachOpNode(root, (n) => {
    if (n.op !== 'rcall' || !Array.isArray(n.args)) return;
    const name: unknown = n.args[0];
    if (name === 'matches') n.args[0] = re2MatchesName;
    else if (typeof name === 'string' && extensionFunctions.has(name)) {
      rejected ??= `undeclared reference to '${name}' (in container '')`;
    }
  });
  return rejected;
}

/** Outcome of compiling a rule body. */
export type CelCompileResult =
  | { readonly ok: true; readonly program: CompiledRuleProgram }
  | {
      readonly ok: false;
      readonly kind: 'error';
      readonly message: string;
      /** Offset in `body` (UTF-16 code units) the library located the error at, when it did. */
      readonly offset?: number | undefined;
    }
  | { readonly ok: false; readonly kind: 'type'; readonly type: string };

/**
 * Parses and type-checks `body` in an environment that declares exactly the parameters and `context` (dyn).
 * Returns a compile failure (never throws for bad input).
 */
export function compileRuleBody(body: string, parameters: ReadonlyMap<string, AttributeType>): CelCompileResult {
  let env: Environment;
  try {
    env = new Environment({ homogeneousAggregateLiterals: false })
      .registerFunction(`string.${re2MatchesName}(string): bool`, re2Matches)
      .registerFunction('matches(string, string): bool', re2Matches);
    for (const [name, type] of parameters) {
      if (name === 'context') continue;
      env.registerVariable(name, celTypeOf[type]);
    }
    env.registerVariable('context', 'dyn');
  } catch (e) {
    return { ok: false, kind: 'error', message: summaryOf(e) };
  }
  let parsed: ReturnType<Environment['parse']>;
  try {
    parsed = env.parse(body);
  } catch (e) {
    return { ok: false, kind: 'error', message: summaryOf(e), offset: offsetOf(e) };
  }
  const rejected = prepareCalls(parsed.ast);
  if (rejected !== undefined) return { ok: false, kind: 'error', message: rejected };
  let checked: { valid: boolean; type?: string; error?: unknown };
  try {
    checked = parsed.check();
  } catch (e) {
    return { ok: false, kind: 'error', message: summaryOf(e), offset: offsetOf(e) };
  }
  if (!checked.valid) {
    return {
      ok: false,
      kind: 'error',
      message: summaryOf(checked.error).replaceAll(re2MatchesName, 'matches'),
      offset: offsetOf(checked.error),
    };
  }
  const crossType = findCrossTypeOrdering(parsed.ast);
  if (crossType !== undefined) return { ok: false, kind: 'error', ...crossType };
  if (checked.type !== 'bool') return { ok: false, kind: 'type', type: checked.type ?? 'unknown' };

  const paramTypes = new Map(parameters);
  const program: CompiledRuleProgram = Object.freeze({
    evaluate(
      args: ReadonlyMap<string, AttributeValue | null>,
      contextData: { readonly [k: string]: JsonValue },
    ): boolean {
      let result: unknown;
      try {
        const activation: Record<string, unknown> = { context: { data: contextData ?? {} } };
        for (const [name, value] of args) {
          const type = paramTypes.get(name);
          if (type === undefined || name === 'context') continue;
          activation[name] = toCel(type, value);
        }
        // All matches() calls of this evaluation share one work budget.
        result = withEvaluationBudget(() => parsed(activation));
      } catch (e) {
        // Every evaluation failure comes from the rule and the data it was given (a missing `context.data` key,
        // a value of another type, a pattern `matches` refuses), never from a fault of the server: it is the
        // caller's to fix, so INVALID_ARGUMENT (deliberate difference: Permify answers INTERNAL).
        const message = e instanceof Re2Error ? e.message : summaryOf(e).replaceAll(re2MatchesName, 'matches');
        throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', message, { cause: e });
      }
      if (typeof result !== 'boolean') {
        throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', `rule expression must result in a boolean value`);
      }
      return result;
    },
  });
  return { ok: true, program };
}
