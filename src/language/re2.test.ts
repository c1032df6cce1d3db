import { describe, expect, it } from 'vitest';
import { compileRuleBody } from './cel.js';
import {
  configureMatches,
  defaultMaxPatternLength,
  compileWorkPerChar,
  maxEvaluationWork,
  maxMatchWork,
  re2Matches,
  Re2BudgetError,
  Re2LimitError,
  Re2SyntaxError,
} from './re2.js';

/** [pattern, text, expected] with RE2 (Go regexp) answers. */
const cases: readonly (readonly [string, string, boolean])[] = [
  ['^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$', 'a.b+c@ex-ample.com', true],
  ['^10\\.1\\.\\d+\\.\\d+$', '10.1.2.3', true],
  ['^(foo|bar)-\\d{3}$', 'bar-123', true],
  ['b', 'abc', true],
  // flags
  ['(?i)^abc$', 'ABC', true],
  ['(?i)é', 'É', true],
  ['(?s)^a.c$', 'a\nc', true],
  ['^a.c$', 'a\nc', false],
  ['(?m)^b$', 'a\nb', true],
  ['^b$', 'a\nb', false],
  ['(?is)^A.B$', 'a\nb', true],
  // classes and escapes
  ['^\\pL+$', 'héllo', true],
  ['^\\p{Greek}+$', 'αβ', true],
  ['^\\PL$', '1', true],
  ['^\\p{^L}$', '1', true],
  ['^[[:alpha:]]+$', 'abc', true],
  ['^[[:digit:][:upper:]]+$', 'A1', true],
  ['^\\d+\\z', '123', true],
  ['\\Aab\\z', 'ab', true],
  ['^\\Qa.b\\E$', 'a.b', true],
  ['^\\Qa.b\\E$', 'axb', false],
  ['^\\x41\\x{1F600}$', 'A😀', true],
  ['^.$', '😀', true],
  ['^.$', '\r', true],
  ['^\\s$', '\u00a0', false],
  ['^\\s$', '\t', true],
  ['^\\w+$', 'é', false],
  ['^\\$\\-\\#\\@$', '$-#@', true],
  ['^[a\\-z]+$', '-az', true],
  ['^[a\\-z]+$', 'b', false],
  ['^[]a]+$', ']a]', true],
  // literal braces and brackets, groups
  ['a{,3}', 'a{,3}', true],
  ['a{,3}', 'aaa', false],
  ['^{$', '{', true],
  ['^}]$', '}]', true],
  ['(?P<x>a)', 'a', true],
  ['^(?:ab)+$', 'abab', true],
  ['x|', 'y', true],
  ['^\\0$', '\0', true],
  ['^\\012$', '\n', true],
  ['^\\101\\102$', 'AB', true],
];

describe('RE2 matches (CEL `matches`)', () => {
  it.each(cases)('%j on %j is %s', (pattern, text, want) => {
    expect(re2Matches(text, pattern)).toBe(want);
  });
  it.each([
    ['(a', 'missing closing ): `(a`'],
    ['a)', 'unexpected ): `a)`'],
    ['[', 'missing closing ]: `[`'],
    ['\\', 'trailing backslash at end of expression: `\\`'],
    ['(?=a)', 'invalid or unsupported Perl syntax: `(?=`'],
    ['(?<!a)b', 'invalid named capture: `(?<!a)b`'],
    ['\\1', 'invalid escape sequence: `\\1`'],
    ['\\C', 'invalid escape sequence: `\\C`'],
    ['a**', 'invalid nested repetition operator: `**`'],
    ['x{1001}', 'invalid repeat count: `{1001}`'],
  ])("%j is an error with Go regexp's message", (pattern, why) => {
    expect(() => re2Matches('a', pattern)).toThrow(Re2SyntaxError);
    expect(() => re2Matches('a', pattern)).toThrow(`error parsing regexp: ${why}`);
  });
  it.each([
    ['(?U)^a+', 'aaa', true],
    ['^a(?i)b$', 'aB', true],
    ['^a(?i)b$', 'AB', false],
    ['^(?i:a)b$', 'Ab', true],
    ['^(?i:a)b$', 'AB', false],
    ['^[[:^digit:]]+$', 'ab', true],
    ['^[[:^digit:]]+$', 'a1', false],
  ] as const)('RE2 syntax beyond a JS RegExp: %j on %j is %s', (pattern, text, want) => {
    expect(re2Matches(text, pattern)).toBe(want);
  });
});

describe('matches runs in linear time (no backtracking)', () => {
  // With a backtracking RegExp each of these took seconds (doubling per character) and blocked the event loop.
  it.each([
    ['(a+)+$', `${'a'.repeat(40)}!`, false],
    ['(a+)+!', `${'a'.repeat(40)}!`, true],
    ['^(a+)+$', `${'a'.repeat(40)}!`, false],
    ['(a|aa)+b', 'a'.repeat(40), false],
    ['^(a|a?)+b$', 'a'.repeat(40), false],
    ['(x+x+)+y', 'x'.repeat(40), false],
  ] as const)('%j on a 40+-character value answers within milliseconds', (pattern, text, want) => {
    const start = performance.now();
    expect(re2Matches(text, pattern)).toBe(want);
    expect(performance.now() - start).toBeLessThan(100);
  });
  it('a rule matching context data against a catastrophic pattern answers within milliseconds', () => {
    const compiled = compileRuleBody(
      "context.data.v.matches('^(a|aa)+b$') || s.matches('(a+)+$')",
      new Map([['s', 'string']]),
    );
    if (!compiled.ok) throw new Error('rule did not compile');
    const start = performance.now();
    const got = compiled.program.evaluate(new Map([['s', { type: 'string', value: `${'a'.repeat(64)}!` }]]), {
      v: `${'a'.repeat(64)}b`,
    });
    expect(got).toBe(true);
    expect(
      compiled.program.evaluate(new Map([['s', { type: 'string', value: `${'a'.repeat(64)}!` }]]), {
        v: 'a'.repeat(64),
      }),
    ).toBe(false);
    expect(performance.now() - start).toBeLessThan(100);
  });
  it('a match whose work would exceed the budget is refused quickly, naming the budget', () => {
    const pattern = '[ab]*a[ab]{999}$';
    const text = 'ab'.repeat(5000);
    const start = performance.now();
    expect(() => re2Matches(text, pattern)).toThrow(Re2BudgetError);
    expect(() => re2Matches(text, pattern)).toThrow(`match budget of ${maxMatchWork}`);
    expect(performance.now() - start).toBeLessThan(100);
    const compiled = compileRuleBody('context.data.v.matches(context.data.p)', new Map());
    if (!compiled.ok) throw new Error('rule did not compile');
    for (const data of [
      { v: text, p: pattern },
      { v: 'a', p: '(?=a)' },
    ]) {
      expect(() => compiled.program.evaluate(new Map(), data)).toThrow(
        expect.objectContaining({ code: 'ERROR_CODE_INVALID_ARGUMENT' }),
      );
    }
    // Within the budget the same pattern still answers.
    expect(re2Matches(`a${'b'.repeat(49)}`, '[ab]*a[ab]{49}$')).toBe(true);
  });
  it('a pattern longer than max_pattern_length is refused before it is compiled, naming the limit', () => {
    // 10 000 characters of literal take ~190 ms to compile: refused at once instead.
    const long = 'a'.repeat(10_000);
    const start = performance.now();
    expect(() => re2Matches('a', long)).toThrow(Re2LimitError);
    expect(() => re2Matches('a', long)).toThrow(
      `matches: a pattern of 10000 characters exceeds service.permission.max_pattern_length=${defaultMaxPatternLength}`,
    );
    expect(performance.now() - start).toBeLessThan(20);
    expect(re2Matches('a'.repeat(256), 'a'.repeat(defaultMaxPatternLength))).toBe(true);
    try {
      configureMatches({ maxPatternLength: 4 });
      expect(re2Matches('abcd', 'abcd')).toBe(true);
      expect(() => re2Matches('abcde', 'abcde')).toThrow('max_pattern_length=4');
      expect(() => configureMatches({ maxPatternLength: 0 })).toThrow(RangeError);
    } finally {
      configureMatches({ maxPatternLength: defaultMaxPatternLength });
    }
  });
  it('all matches() calls of one rule evaluation share one budget: a list of patterns cannot stall the loop', () => {
    const compiled = compileRuleBody('context.data.ps.exists(p, context.data.v.matches(p))', new Map());
    if (!compiled.ok) throw new Error('rule did not compile');
    // 50 distinct 218-character Unicode-class patterns compiled for ~520 ms in one evaluation before the budget.
    const heavy = Array.from({ length: 50 }, (_, i) => `${'(?i)[\\pL\\pN\\pM\\pS\\pP\\pZ]'.repeat(9)}q${i}`);
    let start = performance.now();
    expect(() => compiled.program.evaluate(new Map(), { v: 'x', ps: heavy })).toThrow(
      `exceeds the budget of one rule evaluation, ${maxEvaluationWork}`,
    );
    expect(performance.now() - start).toBeLessThan(300);
    // Many matches each within the per-call budget add up: refused once the evaluation's total is spent.
    const many = Array.from({ length: 200 }, (_, i) => `[ab]*a[ab]{90}$|x${i}`);
    start = performance.now();
    expect(() => compiled.program.evaluate(new Map(), { v: 'ab'.repeat(400), ps: many })).toThrow(
      'exceeds the budget of one rule evaluation',
    );
    expect(performance.now() - start).toBeLessThan(300);
    // One pattern used many times is charged its compile work once; short matches stay cheap.
    const same = Array.from({ length: 500 }, () => 'b$');
    expect(compiled.program.evaluate(new Map(), { v: 'xa', ps: same })).toBe(false);
    // The charge does not depend on the cache: the same evaluation fails whether its patterns are cached or not.
    const two = [`${'a'.repeat(250)}1`, `${'a'.repeat(250)}2`];
    expect(2 * 251 * compileWorkPerChar).toBeGreaterThan(maxEvaluationWork);
    for (let i = 0; i < 2; i++) {
      expect(() => compiled.program.evaluate(new Map(), { v: 'a', ps: two })).toThrow('compiling a pattern of 251');
    }
    for (const p of two) expect(re2Matches('a', p)).toBe(false);
    expect(() => compiled.program.evaluate(new Map(), { v: 'a', ps: two })).toThrow('compiling a pattern of 251');
  });
});
