/**
 * CEL support for rule bodies, built on `@marcbachmann/cel-js`. Everything CEL-specific stays in this module:
 * the rest of the code base sees only {@link CompiledRuleProgram}.
 *
 * Library notes (verified by tests in cel.test.ts):
 * - JS numbers are CEL `double`, bigints CEL `int`; we convert `integer` values to bigint on the way in.
 * - `&&`/`||` absorb errors as CEL requires; run-time comparisons across int/double work.
 * - The library accepts a few cross-type comparisons at type-check time that cel-go rejects (e.g. a `double`
 *   parameter compared with an int literal); such rules compile here although upstream rejects them.
 */
import { Environment } from '@marcbachmann/cel-js';
import type { AttributeValue, JsonValue } from '../data/types.js';
import { PermifyError } from '../errors.js';
import type { AttributeType, CompiledRuleProgram } from '../schema/model.js';

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

/** Outcome of compiling a rule body. */
export type CelCompileResult =
  | { readonly ok: true; readonly program: CompiledRuleProgram }
  | { readonly ok: false; readonly kind: 'error'; readonly message: string }
  | { readonly ok: false; readonly kind: 'type'; readonly type: string };

/**
 * Parses and type-checks `body` in an environment that declares exactly the parameters and `context` (dyn).
 * Returns a compile failure (never throws for bad input).
 */
export function compileRuleBody(body: string, parameters: ReadonlyMap<string, AttributeType>): CelCompileResult {
  let env: Environment;
  try {
    env = new Environment();
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
    return { ok: false, kind: 'error', message: summaryOf(e) };
  }
  let checked: { valid: boolean; type?: string; error?: unknown };
  try {
    checked = parsed.check();
  } catch (e) {
    return { ok: false, kind: 'error', message: summaryOf(e) };
  }
  if (!checked.valid) return { ok: false, kind: 'error', message: summaryOf(checked.error) };
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
        result = parsed(activation);
      } catch (e) {
        throw new PermifyError('ERROR_CODE_INTERNAL', summaryOf(e), { cause: e });
      }
      if (typeof result !== 'boolean') {
        throw new PermifyError('ERROR_CODE_INTERNAL', `rule expression must result in a boolean value`);
      }
      return result;
    },
  });
  return { ok: true, program };
}
