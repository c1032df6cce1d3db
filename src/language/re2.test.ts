import { describe, expect, it } from 'vitest';
import { re2Matches, Re2SyntaxError } from './re2.js';

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
  it.each(['(a', 'a)', '[', '\\', '(?=a)', '(?<!a)b', '\\1', '\\C', '(?U)a+', 'a(?i)b', '(?i:a)', '[[:^digit:]]'])(
    '%j is an error (RE2 rejects it, or it is outside the supported subset)',
    (pattern) => {
      expect(() => re2Matches('a', pattern)).toThrow(Re2SyntaxError);
    },
  );
});
