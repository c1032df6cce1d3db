/**
 * Where something in a validation file is, as `line:column` of the YAML file, so that `permify validate`
 * errors point into the file the user edits (not only into the schema text inside it).
 */
import { isScalar, LineCounter, parseDocument, Scalar } from 'yaml';

export type YamlPath = readonly (string | number)[];

export interface YamlPosition {
  readonly line: number;
  readonly column: number;
}

/**
 * The position of the node at `path` (e.g. `['relationships', 2]`); for `['schema']` with `schemaLine` /
 * `schemaColumn` (1-based, of a diagnostic in the schema text), the position of that character inside the
 * file's inline schema. Undefined when the file does not have that node or the schema is not inline.
 */
export function locateInYaml(
  text: string,
  path: YamlPath,
  schema?: { readonly line: number; readonly column: number },
): YamlPosition | undefined {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const node = doc.getIn(path, true);
  const range = (node as { range?: readonly [number, number, number] } | null | undefined)?.range;
  if (range === undefined) return undefined;
  const at = lineCounter.linePos(range[0]);
  if (schema === undefined || !isScalar(node)) return { line: at.line, column: at.col };
  const block = node.type === Scalar.BLOCK_LITERAL || node.type === Scalar.BLOCK_FOLDED;
  if (!block) return at.line === 1 && schema.line === 1 ? { line: at.line, column: at.col + schema.column } : undefined;
  // A block scalar's content starts on the line after its indicator, indented by its first line's indentation.
  const lines = text.split('\n');
  const first = at.line; // 0-based index of the line after the indicator line
  const contentLine = first + schema.line - 1;
  const indentation = /^ */.exec(lines[first] ?? '')?.[0].length ?? 0;
  if (contentLine >= lines.length) return undefined;
  return { line: contentLine + 1, column: indentation + schema.column };
}
