/**
 * Byte-oriented lexer of the Permify schema language (spec §1).
 *
 * The input is processed as UTF-8 bytes: the source text is converted once to a "binary string" (one JS char
 * per byte), so offsets and columns are byte based exactly like upstream. Token literals are binary strings too;
 * callers that expose literals to users decode them with {@link decodeBytes}.
 *
 * Positions follow upstream's lexer: lines start at 1 and advance on every `\r` and every `\n` token; the column of
 * a character is its byte offset in the line plus 2; newlines inside multi-line comments and strings do not
 * advance the line counter (and do not reset the column).
 */

/** Token kinds, named as in Permify's diagnostics. */
export type TokenType =
  | 'ILLEGAL'
  | 'EOF'
  | 'SPACE'
  | 'TAB'
  | 'NEWLINE'
  | 'SINGLE_LINE_COMMENT'
  | 'MULTI_LINE_COMMENT'
  | 'IDENT'
  | 'INTEGER'
  | 'DOUBLE'
  | 'STRING'
  | 'BOOLEAN'
  | 'ENTITY'
  | 'RELATION'
  | 'ATTRIBUTE'
  | 'PERMISSION'
  | 'RULE'
  | 'AND'
  | 'OR'
  | 'NOT'
  | 'IN'
  | 'COLON'
  | 'ASSIGN'
  | 'SIGN'
  | 'LP'
  | 'RP'
  | 'LCB'
  | 'RCB'
  | 'LSB'
  | 'RSB'
  | 'COMMA'
  | 'HASH'
  | 'DOT'
  | 'APOSTROPHE'
  | 'AMPERSAND'
  | 'PLUS'
  | 'MINUS'
  | 'TIMES'
  | 'DIVIDE'
  | 'MOD'
  | 'POW'
  | 'GT'
  | 'LT'
  | 'EXCL'
  | 'QM';

export interface Token {
  readonly type: TokenType;
  /** Token text as a binary string (one char per byte); for STRING the unescaped content without quotes. */
  readonly literal: string;
  /** Line of the first character. */
  readonly line: number;
  /** Column of the first character (byte offset in the line + 2). */
  readonly column: number;
}

const keywords: ReadonlyMap<string, TokenType> = new Map<string, TokenType>([
  ['entity', 'ENTITY'],
  ['relation', 'RELATION'],
  ['attribute', 'ATTRIBUTE'],
  ['permission', 'PERMISSION'],
  ['action', 'PERMISSION'],
  ['rule', 'RULE'],
  ['and', 'AND'],
  ['or', 'OR'],
  ['not', 'NOT'],
  ['in', 'IN'],
  ['true', 'BOOLEAN'],
  ['false', 'BOOLEAN'],
]);

const singleChar: ReadonlyMap<number, TokenType> = new Map<number, TokenType>(
  (
    [
      [':', 'COLON'],
      ['=', 'ASSIGN'],
      ['@', 'SIGN'],
      ['(', 'LP'],
      [')', 'RP'],
      ['{', 'LCB'],
      ['}', 'RCB'],
      ['[', 'LSB'],
      [']', 'RSB'],
      [',', 'COMMA'],
      ['#', 'HASH'],
      ['.', 'DOT'],
      ["'", 'APOSTROPHE'],
      ['&', 'AMPERSAND'],
      ['+', 'PLUS'],
      ['-', 'MINUS'],
      ['*', 'TIMES'],
      ['%', 'MOD'],
      ['^', 'POW'],
      ['>', 'GT'],
      ['<', 'LT'],
      ['!', 'EXCL'],
      ['?', 'QM'],
      [';', 'NEWLINE'],
    ] as const
  ).map(([c, t]) => [c.charCodeAt(0), t] as [number, TokenType]),
);

const CH_NL = 10;
const CH_CR = 13;
const CH_SPACE = 32;
const CH_TAB = 9;
const CH_SLASH = 47;
const CH_STAR = 42;
const CH_QUOTE = 34;
const CH_BACKSLASH = 92;
const CH_DOT = 46;
const CH_APOSTROPHE = 39;
const CH_LP = 40;
const CH_RP = 41;
const CH_LSB = 91;
const CH_RSB = 93;
const CH_LCB = 123;
const CH_RCB = 125;

function isLetter(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isIdentPart(c: number): boolean {
  return isLetter(c) || isDigit(c);
}
function isBlank(c: number): boolean {
  return c === CH_SPACE || c === CH_TAB || c === CH_NL || c === CH_CR;
}

/** A rule body as read by {@link Lexer.readRuleBody}. */
export interface RuleBodyText {
  /** The body as a binary string (one char per byte), without surrounding whitespace. */
  readonly text: string;
  /** Line of the body's first byte. */
  readonly line: number;
  /** Column of the body's first byte (byte offset in the line + 2). */
  readonly column: number;
}

/** Converts text to a binary string (one char per UTF-8 byte). */
export function encodeBytes(text: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(text)) return text;
  return Buffer.from(text, 'utf8').toString('latin1');
}

/** Converts a binary string back to text (UTF-8 decoding). */
export function decodeBytes(bytes: string): string {
  // Fast path: pure ASCII needs no conversion.
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(bytes)) return bytes;
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

/**
 * A streaming lexer. `nextToken()` returns the next token; `line`/`column` expose the cursor (the position of
 * the first unread byte), which parse errors report.
 */
export class Lexer {
  private readonly input: string;
  /** Offset of the current (unread) byte. */
  private position = 0;
  private ch = 0;
  line = 1;
  column = 1;

  constructor(text: string) {
    this.input = encodeBytes(text);
    this.position = -1;
    this.readChar();
  }

  private readChar(): void {
    this.position += 1;
    this.ch = this.position < this.input.length ? this.input.charCodeAt(this.position) : 0;
    this.column += 1;
  }

  private peekChar(): number {
    const p = this.position + 1;
    return p < this.input.length ? this.input.charCodeAt(p) : 0;
  }

  private atEnd(): boolean {
    return this.position >= this.input.length;
  }

  /** Skips spaces and tabs (no tokens allocated), then returns the next token. */
  nextNonBlankToken(): Token {
    while (this.ch === CH_SPACE || this.ch === CH_TAB) {
      if (this.atEnd()) break;
      this.readChar();
    }
    return this.nextToken();
  }

  /** Reads one byte, counting `\r` and `\n` as line breaks the way NEWLINE tokens do. */
  private advance(): void {
    if (this.ch === CH_NL || this.ch === CH_CR) {
      this.line += 1;
      this.column = 1;
    }
    this.readChar();
  }

  /**
   * Reads a rule body verbatim, starting at the cursor (just after the rule's `{`), and stops before the `}`
   * that closes the rule, or at EOF. The body is CEL, so it is scanned as CEL: string literals (`"`, `'`,
   * triple-quoted, raw `r"..."`, with escapes) and `//` comments may contain any brace, and `{`/`(`/`[` nest.
   * A `}` with no `{` open ends the body even inside an unbalanced `(` or `[`, so that CEL, not the schema
   * parser, reports the imbalance. Every `\r` and `\n` in the body counts as a line, so positions after the body
   * are those of the source. Returns the text without surrounding whitespace and the position of its first byte.
   */
  readRuleBody(): RuleBodyText {
    while (!this.atEnd() && isBlank(this.ch)) this.advance();
    const start = this.position;
    const line = this.line;
    const column = this.column;
    const open: number[] = [];
    while (!this.atEnd()) {
      const c = this.ch;
      if (c === CH_QUOTE || c === CH_APOSTROPHE) {
        this.skipCelString(c, this.isRawPrefix());
        continue;
      }
      if (c === CH_SLASH && this.peekChar() === CH_SLASH) {
        while (!this.atEnd() && this.ch !== CH_NL && this.ch !== CH_CR) this.readChar();
        continue;
      }
      if (c === CH_LCB || c === CH_LP || c === CH_LSB) open.push(c);
      else if (c === CH_RCB) {
        const at = open.lastIndexOf(CH_LCB);
        if (at < 0) break;
        open.length = at;
      } else if ((c === CH_RP && open.at(-1) === CH_LP) || (c === CH_RSB && open.at(-1) === CH_LSB)) open.pop();
      this.advance();
    }
    let end = this.position;
    while (end > start && isBlank(this.input.charCodeAt(end - 1))) end -= 1;
    return { text: this.input.slice(start, end), line, column };
  }

  /** True when the quote at the cursor follows CEL's raw-string prefix `r`/`R` (optionally after `b`/`B`). */
  private isRawPrefix(): boolean {
    let p = this.position - 1;
    while (p >= 0 && isIdentPart(this.input.charCodeAt(p))) p -= 1;
    const prefix = this.input.slice(p + 1, this.position).toLowerCase();
    return prefix === 'r' || prefix === 'br';
  }

  /**
   * Skips a CEL string literal whose opening quote is at the cursor. A single-quoted literal also ends at a line
   * break (CEL forbids one there), so an unterminated literal cannot swallow the rest of the schema.
   */
  private skipCelString(quote: number, raw: boolean): void {
    const triple = this.peekChar() === quote && this.input.charCodeAt(this.position + 2) === quote;
    const width = triple ? 3 : 1;
    for (let i = 0; i < width; i++) this.readChar();
    while (!this.atEnd()) {
      const c = this.ch;
      if (c === CH_BACKSLASH && !raw) {
        this.readChar();
        if (!this.atEnd()) this.advance();
        continue;
      }
      if (c === quote) {
        if (!triple) {
          this.readChar();
          return;
        }
        if (this.peekChar() === quote && this.input.charCodeAt(this.position + 2) === quote) {
          for (let i = 0; i < 3; i++) this.readChar();
          return;
        }
      }
      if (!triple && (c === CH_NL || c === CH_CR)) return;
      this.advance();
    }
  }

  nextToken(): Token {
    const line = this.line;
    const column = this.column;
    const start = this.position;
    if (this.atEnd()) {
      this.readChar();
      return { type: 'EOF', literal: '', line, column };
    }
    const c = this.ch;
    if (c === CH_NL || c === CH_CR) {
      this.line += 1;
      this.column = 1;
      this.readChar();
      return { type: 'NEWLINE', literal: String.fromCharCode(c), line, column };
    }
    if (c === CH_SPACE) {
      this.readChar();
      return { type: 'SPACE', literal: ' ', line, column };
    }
    if (c === CH_TAB) {
      this.readChar();
      return { type: 'TAB', literal: '\t', line, column };
    }
    if (c === CH_SLASH) {
      const n = this.peekChar();
      if (n === CH_SLASH) {
        this.readChar();
        this.readChar();
        const from = this.position;
        while (!this.atEnd() && this.ch !== CH_NL && this.ch !== CH_CR) this.readChar();
        return { type: 'SINGLE_LINE_COMMENT', literal: this.input.slice(from, this.position), line, column };
      }
      if (n === CH_STAR) {
        this.readChar();
        this.readChar();
        const from = this.position;
        while (!this.atEnd() && !(this.ch === CH_STAR && this.peekChar() === CH_SLASH)) this.readChar();
        const literal = this.input.slice(from, Math.min(this.position, this.input.length));
        if (!this.atEnd()) {
          this.readChar();
          this.readChar();
        }
        return { type: 'MULTI_LINE_COMMENT', literal, line, column };
      }
      this.readChar();
      return { type: 'DIVIDE', literal: '/', line, column };
    }
    if (c === CH_QUOTE) {
      this.readChar();
      let out = '';
      while (!this.atEnd() && this.ch !== CH_QUOTE) {
        if (this.ch === CH_BACKSLASH) {
          this.readChar();
          if (this.atEnd()) break;
          const e: number = this.input.charCodeAt(this.position);
          if (e === 110) out += '\n';
          else if (e === 116) out += '\t';
          else if (e === CH_QUOTE) out += '"';
          else if (e === CH_BACKSLASH) out += '\\';
          this.readChar();
          continue;
        }
        out += String.fromCharCode(this.ch);
        this.readChar();
      }
      if (!this.atEnd()) this.readChar();
      return { type: 'STRING', literal: out, line, column };
    }
    if (isLetter(c)) {
      while (!this.atEnd() && isLetter(this.ch)) this.readChar();
      const literal = this.input.slice(start, this.position);
      return { type: keywords.get(literal) ?? 'IDENT', literal, line, column };
    }
    if (isDigit(c)) {
      let dot = false;
      while (!this.atEnd() && (isDigit(this.ch) || (this.ch === CH_DOT && !dot))) {
        if (this.ch === CH_DOT) dot = true;
        this.readChar();
      }
      const literal = this.input.slice(start, this.position);
      return { type: dot ? 'DOUBLE' : 'INTEGER', literal, line, column };
    }
    const t = singleChar.get(c);
    this.readChar();
    return { type: t ?? 'ILLEGAL', literal: String.fromCharCode(c), line, column };
  }
}
