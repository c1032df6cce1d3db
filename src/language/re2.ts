/**
 * CEL's `matches` uses RE2 syntax (upstream evaluates rules with cel-go, i.e. Go's regexp package). JavaScript
 * regular expressions differ in ways that change answers silently: `(?i)` flags, `\pL`, `[[:alpha:]]`, `\z`,
 * `\Q…\E` and `(?P<name>…)` are RE2 but fail or mean something else in JS, while lookarounds and back-references
 * are JS-only. {@link compileRe2} translates the RE2 subset below into an equivalent JS `RegExp` (always with the
 * `u` flag, so `.` and classes work on code points as in RE2) and rejects what RE2 rejects.
 *
 * Supported: leading flag groups `(?ims)` / `(?i-s)`; `(?:…)`, `(?P<n>…)`, `(?<n>…)`; classes with POSIX
 * `[:name:]` items and a leading literal `]`; escapes `\A \z \b \B \d \D \w \W \s \S \pX \p{Name} \PX \P{^Name}
 * \Q…\E \xHH \x{H…} \a \f \t \n \r \v`, octal (`\0`, `\012`) and escaped punctuation; `{` that is not a
 * repetition is literal.
 * Not supported (an error, never a silent mismatch): flags after the start or scoped `(?i:…)`, the `U` flag,
 * negated POSIX classes, `\C`, back-references.
 */

/** Thrown for patterns RE2 rejects or this translation does not cover. */
export class Re2SyntaxError extends Error {}

const posixClasses: Readonly<Record<string, string>> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

/** RE2 `\s` is ASCII whitespace without `\v`; JS `\s` also matches Unicode spaces. */
const re2Space = '\\t\\n\\f\\r ';
/** Characters that must be escaped to be literal in a JS `u`-mode pattern (`-` only matters inside a class). */
const jsSyntax = new Set([...'^$\\.*+?()[]{}|/']);
const repetition = /^\{\d+(,\d*)?\}/;

function fail(pattern: string, why: string): never {
  throw new Re2SyntaxError(`error parsing regexp: ${why}: \`${pattern}\``);
}

function escapeLiteral(ch: string, inClass: boolean): string {
  return jsSyntax.has(ch) || (inClass && ch === '-') ? `\\${ch}` : ch;
}

function unicodeClass(name: string, negated: boolean, pattern: string): string {
  let n = name;
  let neg = negated;
  if (n.startsWith('^')) {
    n = n.slice(1);
    neg = !neg;
  }
  if (!/^[A-Za-z_]+$/.test(n)) fail(pattern, 'invalid character class range');
  const body = /^[A-Z][a-z]?$/.test(n) || n === 'Any' ? n : `Script=${n}`;
  return `\\${neg ? 'P' : 'p'}{${body}}`;
}

/** Translates one escape starting at `pattern[i] === '\\'`; returns the JS text and the next index. */
function escape(pattern: string, i: number, inClass: boolean): [string, number] {
  const c = pattern[i + 1];
  if (c === undefined) fail(pattern, 'trailing backslash at end of expression');
  switch (c) {
    case 'A':
      if (inClass) fail(pattern, 'invalid escape sequence');
      return ['(?<![\\s\\S])', i + 2];
    case 'z':
      if (inClass) fail(pattern, 'invalid escape sequence');
      return ['(?![\\s\\S])', i + 2];
    case 'b':
    case 'B':
      if (inClass) fail(pattern, 'invalid escape sequence');
      return [`\\${c}`, i + 2];
    case 'd':
    case 'D':
    case 'w':
    case 'W':
    case 'f':
    case 't':
    case 'n':
    case 'r':
    case 'v':
      return [`\\${c}`, i + 2];
    case 'a':
      return ['\\x07', i + 2];
    case 's':
      return [inClass ? re2Space : `[${re2Space}]`, i + 2];
    case 'S':
      return [inClass ? '\\S' : `[^${re2Space}]`, i + 2];
    case 'p':
    case 'P': {
      const next = pattern[i + 2];
      if (next === undefined) fail(pattern, 'invalid character class range');
      if (next === '{') {
        const end = pattern.indexOf('}', i + 3);
        if (end < 0) fail(pattern, 'invalid character class range');
        return [unicodeClass(pattern.slice(i + 3, end), c === 'P', pattern), end + 1];
      }
      return [unicodeClass(next, c === 'P', pattern), i + 3];
    }
    case 'x': {
      if (pattern[i + 2] === '{') {
        const end = pattern.indexOf('}', i + 3);
        const hex = end < 0 ? '' : pattern.slice(i + 3, end);
        if (!/^[0-9A-Fa-f]{1,6}$/.test(hex) || Number.parseInt(hex, 16) > 0x10ffff) {
          fail(pattern, 'invalid escape sequence');
        }
        return [`\\u{${hex}}`, end + 1];
      }
      const hex = pattern.slice(i + 2, i + 4);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) fail(pattern, 'invalid escape sequence');
      return [`\\x${hex}`, i + 4];
    }
    case 'Q': {
      const end = pattern.indexOf('\\E', i + 2);
      const text = pattern.slice(i + 2, end < 0 ? pattern.length : end);
      return [[...text].map((ch) => escapeLiteral(ch, inClass)).join(''), end < 0 ? pattern.length : end + 2];
    }
    default: {
      // Octal as in Go: `\0` plus up to two more octal digits, or `\1`-`\7` followed by an octal digit.
      const octal = /^(?:0[0-7]{0,2}|[1-7][0-7]{1,2})/.exec(pattern.slice(i + 1));
      if (octal !== null) return [`\\u{${Number.parseInt(octal[0], 8).toString(16)}}`, i + 1 + octal[0].length];
      // Escaped punctuation is the literal character; other escaped letters/digits are errors
      // (back-references, \C, unknown escapes).
      if (/[0-9A-Za-z_]/.test(c)) fail(pattern, 'invalid escape sequence');
      return [escapeLiteral(c, inClass), i + 2];
    }
  }
}

/** Translates a character class starting at `pattern[i] === '['`; returns the JS text and the next index. */
function charClass(pattern: string, start: number): [string, number] {
  let i = start + 1;
  let out = '[';
  if (pattern[i] === '^') {
    out += '^';
    i++;
  }
  let first = true;
  for (;;) {
    const ch = pattern[i];
    if (ch === undefined) fail(pattern, 'missing closing ]');
    if (ch === ']' && !first) return [`${out}]`, i + 1];
    first = false;
    if (ch === '[' && pattern[i + 1] === ':') {
      const end = pattern.indexOf(':]', i + 2);
      if (end >= 0) {
        const name = pattern.slice(i + 2, end);
        if (name.startsWith('^')) fail(pattern, 'negated POSIX class is not supported');
        const ranges = posixClasses[name];
        if (ranges === undefined) fail(pattern, 'invalid character class range');
        out += ranges;
        i = end + 2;
        continue;
      }
    }
    if (ch === '\\') {
      const [text, next] = escape(pattern, i, true);
      out += text;
      i = next;
      continue;
    }
    // `-` keeps its range meaning; other syntax characters are literal inside a class.
    out += ch === '-' ? '-' : escapeLiteral(ch, true);
    i++;
  }
}

/** Translates an RE2 pattern to a JS RegExp source and flags (see the module comment). */
export function translateRe2(pattern: string): { source: string; flags: string } {
  const flags = new Set<string>();
  let i = 0;
  // Leading flag groups: (?i), (?is), (?i-s)…
  for (;;) {
    const m = /^\(\?([imsU]*)(?:-([imsU]*))?\)/.exec(pattern.slice(i));
    if (m === null || m[0] === '(?)' || m[0] === '(?-)') break;
    for (const f of m[1] ?? '') flags.add(f);
    for (const f of m[2] ?? '') flags.delete(f);
    i += m[0].length;
  }
  if (flags.has('U')) fail(pattern, 'the U (ungreedy) flag is not supported');
  const dotAll = flags.has('s');
  let out = '';
  let depth = 0;
  while (i < pattern.length) {
    const ch = pattern[i] as string;
    if (ch === '\\') {
      const [text, next] = escape(pattern, i, false);
      out += text;
      i = next;
    } else if (ch === '[') {
      const [text, next] = charClass(pattern, i);
      out += text;
      i = next;
    } else if (ch === '(') {
      depth++;
      const rest = pattern.slice(i);
      if (rest.startsWith('(?:')) {
        out += '(?:';
        i += 3;
      } else if (rest.startsWith('(?P<') || rest.startsWith('(?<')) {
        const open = rest.startsWith('(?P<') ? 4 : 3;
        const m = /^([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest.slice(open));
        if (m === null) fail(pattern, 'invalid named capture');
        out += `(?<${m[1] as string}>`;
        i += open + m[0].length;
      } else if (rest.startsWith('(?')) {
        fail(pattern, 'invalid or unsupported Perl syntax');
      } else {
        out += '(';
        i++;
      }
    } else if (ch === ')') {
      if (--depth < 0) fail(pattern, 'unexpected )');
      out += ')';
      i++;
    } else if (ch === '{') {
      const m = repetition.exec(pattern.slice(i));
      if (m !== null) {
        out += m[0];
        i += m[0].length;
      } else {
        out += '\\{';
        i++;
      }
    } else if (ch === '}' || ch === ']' || ch === '/') {
      out += `\\${ch}`;
      i++;
    } else if (ch === '.') {
      out += dotAll ? '[\\s\\S]' : '[^\\n]';
      i++;
    } else {
      out += ch;
      i++;
    }
  }
  if (depth !== 0) fail(pattern, 'missing closing )');
  return { source: out, flags: `${flags.has('i') ? 'i' : ''}${flags.has('m') ? 'm' : ''}u` };
}

const cache = new Map<string, RegExp>();
const cacheLimit = 256;

/** A JS RegExp equivalent to the RE2 `pattern` (cached); throws {@link Re2SyntaxError}. */
export function compileRe2(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (re !== undefined) return re;
  const { source, flags } = translateRe2(pattern);
  try {
    re = new RegExp(source, flags);
  } catch (e) {
    fail(pattern, e instanceof Error ? e.message : String(e));
  }
  if (cache.size >= cacheLimit) cache.delete(cache.keys().next().value as string);
  cache.set(pattern, re);
  return re;
}

/** CEL `matches` with RE2 semantics: true when `pattern` matches anywhere in `text`. */
export function re2Matches(text: string, pattern: string): boolean {
  return compileRe2(pattern).test(text);
}
