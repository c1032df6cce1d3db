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
 * exceeds {@link maxMatchWork} instead of blocking the event loop.
 */
import { RE2JS, RE2JSException } from 're2js';

/** Thrown for patterns RE2 rejects; the message is Go's (`error parsing regexp: …`). */
export class Re2SyntaxError extends Error {}

/** Thrown when one match would exceed {@link maxMatchWork}. */
export class Re2BudgetError extends Error {}

/**
 * The most work one `matches` call may do, in compiled program instructions × input characters. At the measured
 * worst case (~130 ns per unit) this keeps a single match under ~15 ms; ordinary patterns (tens of instructions)
 * still match inputs of a few thousand characters.
 */
export const maxMatchWork = 100_000;

/** Compiled patterns by source text, least recently used first; invalid patterns cache their error. */
const cache = new Map<string, RE2JS | Re2SyntaxError>();
const cacheLimit = 256;

/** The compiled RE2 `pattern` (each distinct pattern is compiled once while cached); throws {@link Re2SyntaxError}. */
export function compileRe2(pattern: string): RE2JS {
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
 * CEL `matches` with RE2 semantics: true when `pattern` matches anywhere in `text`. Throws {@link Re2SyntaxError}
 * for an invalid pattern and {@link Re2BudgetError} when the match would exceed {@link maxMatchWork}.
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
  return re.test(text);
}
