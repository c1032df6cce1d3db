/**
 * Syntax highlighting of Permify's schema language for CodeMirror 6: a small stream tokenizer (keywords,
 * `@type` references, operators, comments, rule bodies' strings and numbers). Diagnostics do not come from
 * here but from the server's compiler.
 */
import { StreamLanguage, type StreamParser } from '@codemirror/language';

const KEYWORDS = new Set(['entity', 'relation', 'attribute', 'permission', 'action', 'rule']);
const OPERATORS = new Set(['and', 'or', 'not']);
const TYPES = new Set(['boolean', 'string', 'integer', 'double']);

const parser: StreamParser<{ afterDecl: boolean }> = {
  name: 'permify',
  startState: () => ({ afterDecl: false }),
  token(stream, state) {
    if (stream.eatSpace()) return null;
    if (stream.match('//')) {
      stream.skipToEnd();
      return 'comment';
    }
    if (stream.match(/^"(?:[^"\\]|\\.)*"?/) || stream.match(/^'(?:[^'\\]|\\.)*'?/)) return 'string';
    if (stream.match(/^\d+(?:\.\d+)?/)) return 'number';
    if (stream.match(/^@[A-Za-z_][\w]*(?:#[A-Za-z_]\w*)?/)) return 'typeName';
    const word = stream.match(/^[A-Za-z_][\w]*/) as RegExpMatchArray | null;
    if (word) {
      const w = word[0];
      if (KEYWORDS.has(w)) {
        state.afterDecl = true;
        return 'keyword';
      }
      if (state.afterDecl) {
        state.afterDecl = false;
        return 'def';
      }
      if (OPERATORS.has(w)) return 'operatorKeyword';
      if (TYPES.has(w.replace('[]', ''))) return 'typeName';
      return 'variableName';
    }
    stream.next();
    return 'punctuation';
  },
  languageData: { commentTokens: { line: '//' } },
};

export const permifyLanguage = StreamLanguage.define(parser);
