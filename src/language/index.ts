/**
 * Public API of the schema language: parse, compile, print, JSON.
 */
export type * from './ast.js';
export { parseSchema, maxExpressionDepth } from './parser.js';
export { compileSchema, compileAst, type CompileOptions } from './compiler.js';
export { printSchema, printDefinitions, printChild, type SchemaDefinitionRecord } from './printer.js';
export { schemaToJson } from './json.js';
export { Lexer, type Token, type TokenType } from './lexer.js';
