/**
 * File formats of `permify data export|import`:
 *
 * - `ndjson` (ours, exact): one `permifyts.v1.DataItem` per line in protobuf JSON, i.e.
 *   `{"tuple":{"entity":{...},"relation":"...","subject":{...}}}` or `{"attribute":{...,"value":{"@type":...}}}`.
 *   Read as a stream from any byte offset, so memory does not grow with the file and a resumed import seeks.
 * - `yaml`: a Permify validation file's `relationships:` and `attributes:` lists in Permify's notation
 *   (`doc:1#viewer@user:1`, `doc:1$public|boolean:true`); other keys (schema, scenarios) are ignored, so a
 *   playground or test data set loads as is. Parsed whole (such files are small). The notation cannot carry
 *   a `,` inside a string-array element; use ndjson for exact round trips.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { create, fromJson, toJson, type JsonValue } from '@bufbuild/protobuf';
import { isSeq, LineCounter, parseDocument } from 'yaml';
import { attributeToProto, tupleToProto, attributeFromProto, tupleFromProto } from '../../api/convert/data.js';
import { DataItemSchema, type DataItem } from '../../api/gen/permifyts/v1/data_pb.js';
import { jsonRegistry } from '../../api/rest/json.js';
import { attributeToString, parseAttribute, parseTuple, tupleToString } from '../../data/notation.js';

export type DataFormat = 'ndjson' | 'yaml';

/** The format named by a file's extension (`.yaml`/`.yml` -> yaml, anything else ndjson). */
export function formatOfPath(path: string): DataFormat {
  return /\.ya?ml$/i.test(path) ? 'yaml' : 'ndjson';
}

/** Where reading a file stands: the next line (1-based), its byte offset, and items/bad lines consumed. */
export interface FilePosition {
  readonly line: number;
  readonly offset: number;
  readonly consumed: number;
}

export const startOfFile: FilePosition = { line: 1, offset: 0, consumed: 0 };

export type ReadEvent =
  | { readonly kind: 'item'; readonly item: DataItem; readonly line: number; readonly after: FilePosition }
  | { readonly kind: 'error'; readonly message: string; readonly line: number; readonly after: FilePosition };

/** One NDJSON line as an item; throws with a readable message. */
export function parseNdjsonItem(text: string): DataItem {
  let json: JsonValue;
  try {
    json = JSON.parse(text) as JsonValue;
  } catch (e) {
    throw new Error(`invalid JSON: ${(e as Error).message}`, { cause: e });
  }
  let item: DataItem;
  try {
    item = fromJson(DataItemSchema, json, { registry: jsonRegistry });
  } catch (e) {
    throw new Error(`not a data item: ${(e as Error).message}`, { cause: e });
  }
  // Converting checks the attribute value (type and shape) here, where the line number is known.
  if (item.item.case === 'tuple') tupleFromProto(item.item.value);
  else if (item.item.case === 'attribute') attributeFromProto(item.item.value);
  else throw new Error('not a data item: expected "tuple" or "attribute"');
  return item;
}

export function itemToNdjson(item: DataItem): string {
  return JSON.stringify(toJson(DataItemSchema, item, { registry: jsonRegistry })) + '\n';
}

async function* readNdjson(path: string, from: FilePosition): AsyncGenerator<ReadEvent> {
  let line = from.line;
  let offset = from.offset;
  let consumed = from.consumed;
  let pending: Buffer | undefined;
  const emit = (bytes: Buffer): ReadEvent | undefined => {
    const number = line;
    line += 1;
    offset += bytes.length + 1;
    const text = bytes.toString('utf8').trim();
    if (text === '') return undefined;
    consumed += 1;
    const after = { line, offset, consumed };
    try {
      return { kind: 'item', item: parseNdjsonItem(text), line: number, after };
    } catch (e) {
      return { kind: 'error', message: (e as Error).message, line: number, after };
    }
  };
  for await (const chunk of createReadStream(path, {
    start: from.offset,
    highWaterMark: 1 << 20,
  }) as AsyncIterable<Buffer>) {
    const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
      const ev = emit(buf.subarray(start, nl));
      if (ev) yield ev;
      start = nl + 1;
    }
    if (start < buf.length) pending = Buffer.from(buf.subarray(start));
  }
  if (pending && pending.length > 0) {
    const ev = emit(pending);
    // The last line has no newline: the offset must not count one.
    if (ev) yield { ...ev, after: { ...ev.after, offset: ev.after.offset - 1 } };
  }
}

async function* readValidationFile(path: string, from: FilePosition): AsyncGenerator<ReadEvent> {
  const text = await readFile(path, 'utf8');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  if (doc.errors.length > 0) {
    const err = doc.errors[0]!;
    yield {
      kind: 'error',
      message: `invalid YAML: ${err.message}`,
      line: err.linePos?.[0].line ?? 1,
      after: { ...from, consumed: Number.MAX_SAFE_INTEGER },
    };
    return;
  }
  let index = 0;
  for (const key of ['relationships', 'attributes'] as const) {
    const seq = doc.get(key, true);
    if (seq === undefined || seq === null) continue;
    if (!isSeq(seq)) {
      yield { kind: 'error', message: `${key}: expected a list`, line: 1, after: { ...from, consumed: index } };
      continue;
    }
    for (const node of seq.items) {
      index += 1;
      if (index <= from.consumed) continue;
      const range = (node as { range?: [number, number, number] }).range;
      const number = range ? lineCounter.linePos(range[0]).line : 1;
      const after = { line: number + 1, offset: 0, consumed: index };
      const value = (node as { value?: unknown }).value;
      try {
        if (typeof value !== 'string') throw new Error(`expected a string in Permify's notation`);
        const item =
          key === 'relationships'
            ? create(DataItemSchema, { item: { case: 'tuple', value: tupleToProto(parseTuple(value)) } })
            : create(DataItemSchema, { item: { case: 'attribute', value: attributeToProto(parseAttribute(value)) } });
        yield { kind: 'item', item, line: number, after };
      } catch (e) {
        yield { kind: 'error', message: (e as Error).message, line: number, after };
      }
    }
  }
}

/** Items of a file from a position (the start, or a resumed import's saved position). */
export function readItems(
  path: string,
  format: DataFormat,
  from: FilePosition = startOfFile,
): AsyncGenerator<ReadEvent> {
  return format === 'yaml' ? readValidationFile(path, from) : readNdjson(path, from);
}

/**
 * Writes items as a validation file's lists, streaming: export pages come tuples first, then attributes, so
 * each list is opened once. `header` is false when appending to a resumed file whose lists are open.
 */
export function createYamlWriter(state: { inAttributes: boolean; started: boolean }): (item: DataItem) => string {
  return (item) => {
    let out = '';
    if (item.item.case === 'tuple') {
      if (!state.started) out += 'relationships:\n';
      state.started = true;
      out += `  - ${JSON.stringify(tupleToString(tupleFromProto(item.item.value)))}\n`;
    } else if (item.item.case === 'attribute') {
      if (!state.inAttributes) out += 'attributes:\n';
      state.started = true;
      state.inAttributes = true;
      out += `  - ${JSON.stringify(attributeToString(attributeFromProto(item.item.value)))}\n`;
    }
    return out;
  };
}
