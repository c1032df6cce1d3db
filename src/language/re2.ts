/**
 * CEL's `matches` uses RE2 syntax and semantics (upstream evaluates rules with cel-go, i.e. Go's regexp package):
 * an unanchored search, `(?i)`/`(?s)`/`(?U)` flags (also scoped, `(?i:…)`), `\pL`, `[[:alpha:]]`, `\A`, `\z`,
 * `\Q…\E`, `(?P<name>…)`, while lookarounds, back-references and `\C` are errors. Patterns run on `re2js`, a
 * port of RE2/J: parsing follows Go's parser (same error texts) and matching is linear in the input, so no pattern
 * backtracks. A JS `RegExp` must never be used here: `(a|aa)+b` on 33 characters blocks the event loop for
 * seconds and no deadline can interrupt it.
 *
 * Linear is not yet cheap: the cost of one match grows with the compiled program size times the input length
 * (measured up to ~130 ns per unit on adversarial patterns), so {@link re2Matches} refuses a match whose product
 * exceeds {@link maxMatchWork} instead of blocking the event loop, and one rule evaluation's calls together may not
 * exceed {@link maxEvaluationWork}. Compiling is not linear in the pattern either:
 * patterns longer than `service.permission.max_pattern_length` ({@link configureMatches}) are refused before
 * they are compiled.
 */
import { RE2JS, RE2JSException } from 're2js';

/** A pattern or match `matches` refuses; its message is meant for the caller. */
export class Re2Error extends Error {}

/** Thrown for patterns RE2 rejects; the message is Go's (`error parsing regexp: …`). */
export class Re2SyntaxError extends Re2Error {}

/** Thrown when one match would exceed {@link maxMatchWork}. */
export class Re2BudgetError extends Re2Error {}

/** Thrown for a pattern longer than the configured `service.permission.max_pattern_length`. */
export class Re2LimitError extends Re2Error {}

/**
 * Default of `service.permission.max_pattern_length`: the longest pattern `matches` compiles, in characters.
 * Compiling is not linear in the pattern (a literal run, and every Unicode class such as `\pL`, cost far more
 * than a character each): a 10 000-character pattern took ~190 ms, a 2 100-character one of case-folded
 * Unicode classes ~350 ms. At 256 characters ordinary patterns compile in well under a millisecond and the
 * most expensive ones measured (a run of Unicode class unions) in ~30 ms, once per distinct pattern (cached).
 */
export const defaultMaxPatternLength = 256;

let maxPatternLength = defaultMaxPatternLength;

let warm = false;

/**
 * Sets the process-wide pattern length limit (called once at start from the configuration; every server in
 * the process shares it, like the compiled-pattern cache). The first call also compiles a case-folded Unicode
 * class pattern once: re2js sets up its tables on first use (~200 ms measured), which would otherwise stall
 * the event loop during the first request that uses such a pattern.
 * @throws RangeError unless `limits.maxPatternLength` is a positive integer.
 */
export function configureMatches(limits: { readonly maxPatternLength: number }): void {
  if (!Number.isSafeInteger(limits.maxPatternLength) || limits.maxPatternLength < 1) {
    throw new RangeError(`maxPatternLength must be a positive integer, got ${limits.maxPatternLength}`);
  }
  maxPatternLength = limits.maxPatternLength;
  if (!warm) {
    warm = true;
    RE2JS.compile('(?i)[\\pL\\pN\\pM\\pS\\pP\\pZ\\p{Greek}[:alpha:]]x{2}');
  }
}

/**
 * The most work one `matches` call may do, in compiled program instructions × input characters. At the measured
 * worst case (~130 ns per unit) this keeps a single match under ~15 ms; ordinary patterns (tens of instructions)
 * still match inputs of a few thousand characters.
 */
export const maxMatchWork = 100_000;

/**
 * The most work all `matches` calls of one rule evaluation may do together ({@link withEvaluationBudget}), in the
 * units of {@link maxMatchWork}: one evaluation can call `matches` many times (`context.data.ps.exists(p,
 * x.matches(p))`), and per-call budgets alone let a list of patterns block the event loop for seconds
 * (50 distinct Unicode-class patterns compiled for ~520 ms in one evaluation). ~50 ms at the measured worst case.
 */
export const maxEvaluationWork = 400_000;

/**
 * Work charged for compiling a pattern, per character, once per distinct pattern and evaluation whether or not
 * it is cached (so that answers do not depend on what other requests left in the cache). Compiling measured up to
 * ~0.12 ms per character (case-folded Unicode class unions), i.e. ~1 000 units of ~130 ns.
 */
export const compileWorkPerChar = 1_000;

/** Work charged so far in the current evaluation, and the patterns already charged; undefined outside one. */
let evaluation: { work: number; readonly compiled: Set<string> } | undefined;

/**
 * Runs `fn` (one synchronous rule evaluation) with a fresh evaluation budget of {@link maxEvaluationWork}: the
 * `matches` calls inside it are charged their match work and, once per distinct pattern, its compile work, and
 * one that would go over throws {@link Re2BudgetError}. Synchronous, so no other evaluation can interleave.
 */
export function withEvaluationBudget<T>(fn: () => T): T {
  const outer = evaluation;
  evaluation = { work: 0, compiled: new Set() };
  try {
    return fn();
  } finally {
    evaluation = outer;
  }
}

function charge(units: number, what: string): void {
  if (evaluation === undefined) return;
  evaluation.work += units;
  if (evaluation.work > maxEvaluationWork) {
    throw new Re2BudgetError(
      `matches: ${what} exceeds the budget of one rule evaluation, ${maxEvaluationWork} ` +
        `(instructions × characters matched, ${compileWorkPerChar} per pattern character compiled)`,
    );
  }
}

/** Compiled patterns by source text, least recently used first; invalid patterns cache their error. */
const cache = new Map<string, RE2JS | Re2SyntaxError>();
const cacheLimit = 256;

/**
 * The compiled RE2 `pattern` (each distinct pattern is compiled once while cached, up to 256 patterns of at most
 * the length limit each). Throws {@link Re2LimitError} for a pattern over the length limit (checked before the
 * cache or the compiler see it) and {@link Re2SyntaxError} for an invalid one.
 */
export function compileRe2(pattern: string): RE2JS {
  if (pattern.length > maxPatternLength) {
    throw new Re2LimitError(
      `matches: a pattern of ${pattern.length} characters exceeds service.permission.max_pattern_length=${maxPatternLength}`,
    );
  }
  if (evaluation !== undefined && !evaluation.compiled.has(pattern)) {
    evaluation.compiled.add(pattern);
    charge(pattern.length * compileWorkPerChar, `compiling a pattern of ${pattern.length} characters`);
  }
  let entry = cache.get(pattern);
  if (entry !== undefined) {
    cache.delete(pattern);
  } else {
    try {
      entry = RE2JS.compile(pattern);
    } catch (e) {
      if (!(e instanceof RE2JSException)) throw e;
      // re2js words some errors without the pattern; Go always quotes the offending text.
      entry = new Re2SyntaxError(e.message.includes('`') ? e.message : `${e.message}: \`${pattern}\``);
    }
    if (cache.size >= cacheLimit) cache.delete(cache.keys().next().value as string);
  }
  cache.set(pattern, entry);
  if (entry instanceof Re2SyntaxError) throw entry;
  return entry;
}

/**
 * CEL `matches` with RE2 semantics: true when `pattern` matches anywhere in `text`. Throws {@link Re2LimitError}
 * for a pattern over the length limit, {@link Re2SyntaxError} for an invalid pattern and {@link Re2BudgetError}
 * when the match would exceed {@link maxMatchWork} or, inside {@link withEvaluationBudget}, the evaluation's
 * {@link maxEvaluationWork}.
 */
export function re2Matches(text: string, pattern: string): boolean {
  const re = compileRe2(pattern);
  const work = re.programSize() * (text.length + 1);
  if (work > maxMatchWork) {
    throw new Re2BudgetError(
      `matches: a ${text.length}-character string against a pattern of ${re.programSize()} instructions ` +
        `exceeds the match budget of ${maxMatchWork} (instructions × characters)`,
    );
  }
  charge(work, `a ${text.length}-character string against a pattern of ${re.programSize()} instructions`);
  return re.test(text);
}
