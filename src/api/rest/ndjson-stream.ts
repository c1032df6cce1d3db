/**
 * REST framing of bidirectional-streaming RPCs (permifyts.v1.Data/Import), as grpc-gateway frames them: the
 * request body is newline-delimited JSON, one request message per line (path parameters overwrite the
 * same-named field of every message), and the answer is newline-delimited `{"result": ...}` lines, one per
 * response message, ending with an `{"error": ...}` line when the stream fails.
 *
 * The body is read line by line while the handler runs, so memory stays bounded by one line
 * (`maxLineBytes`) and the handler's batch, whatever the body's size.
 */
import type * as http from 'node:http';
import type { JsonValue, Message } from '@bufbuild/protobuf';
import { PermifyError } from '../../errors.js';
import type { HandlerContext } from '../handlers/types.js';
import { decodeJson, encodeJson } from './json.js';
import type { RestRoute } from './routes.js';


export interface BidiNdjsonCall {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly route: RestRoute;
  readonly params: Readonly<Record<string, string>>;
  readonly ctx: HandlerContext;
  readonly maxLineBytes: number;
  /**
   * Runs the call through the pipeline (admission, the handler, and the interceptors' end of call) on the
   * decoded request messages; an admission failure answers like any stream failure.
   */
  run(requests: AsyncIterable<unknown>): AsyncIterable<unknown>;
  /** Normalises a failure and renders its `{"error": ...}` object (the gateway's error rendering). */
  fail(e: unknown): { readonly err: PermifyError; readonly line: string };
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Lines of `body` (without the newline; blank lines skipped), each at most `maxBytes`, with their numbers. */
export async function* ndjsonLines(
  body: AsyncIterable<Buffer>,
  maxBytes: number,
): AsyncGenerator<{ readonly line: string; readonly number: number }> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let number = 0;
  const emit = (chunk: Buffer): { line: string; number: number } | undefined => {
    number += 1;
    let text: string;
    try {
      text = decoder.decode(chunk);
    } catch {
      throw new PermifyError('ERROR_CODE_VALIDATION', `line ${number}: invalid UTF-8`);
    }
    text = text.trim();
    return text === '' ? undefined : { line: text, number };
  };
  for await (const chunk of body) {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl >= 0; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      if (pendingBytes + piece.length > maxBytes) {
        throw new PermifyError('ERROR_CODE_VALIDATION', `line ${number + 1} is longer than ${maxBytes} bytes`);
      }
      const whole = pending.length === 0 ? piece : Buffer.concat([...pending, piece]);
      pending = [];
      pendingBytes = 0;
      const out = emit(whole);
      if (out) yield out;
      start = nl + 1;
    }
    const rest = chunk.subarray(start);
    if (rest.length > 0) {
      pendingBytes += rest.length;
      if (pendingBytes > maxBytes) {
        throw new PermifyError('ERROR_CODE_VALIDATION', `line ${number + 1} is longer than ${maxBytes} bytes`);
      }
      pending.push(rest);
    }
  }
  if (pending.length > 0) {
    const out = emit(Buffer.concat(pending));
    if (out) yield out;
  }
}

export async function serveBidiNdjson(call: BidiNdjsonCall): Promise<void> {
  const { req, res, route, params, ctx } = call;
  let wrote = false;
  const start = (): void => {
    if (!wrote) res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
    wrote = true;
  };
  try {
    const requests = (async function* () {
      for await (const { line, number } of ndjsonLines(req, call.maxLineBytes)) {
        let json: JsonValue;
        try {
          json = JSON.parse(line) as JsonValue;
        } catch (e) {
          throw new PermifyError('ERROR_CODE_VALIDATION', `line ${number}: invalid JSON: ${(e as Error).message}`);
        }
        if (json === null || typeof json !== 'object' || Array.isArray(json)) {
          throw new PermifyError('ERROR_CODE_VALIDATION', `line ${number}: expected an object`);
        }
        const obj = { ...(json as Record<string, JsonValue>) };
        // Path parameters overwrite same-named fields (by proto name; drop the JSON-name spelling too).
        for (const f of route.method.input.fields) if (f.name in params) delete obj[f.jsonName];
        yield decodeJson(route.method.input, { ...obj, ...params });
      }
    })();
    for await (const item of call.run(requests)) {
      if (ctx.signal.aborted) break;
      start();
      if (!res.write(JSON.stringify({ result: encodeJson(route.method.output, item as Message) }) + '\n')) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            res.removeListener('drain', done);
            ctx.signal.removeEventListener('abort', done);
            resolve();
          };
          res.once('drain', done);
          ctx.signal.addEventListener('abort', done, { once: true });
        });
      }
    }
    start();
    res.end();
  } catch (e) {
    const { err, line } = call.fail(e);
    if (!wrote) res.writeHead(err.httpStatus, { 'Content-Type': 'application/json' });
    wrote = true;
    res.end(line);
    req.resume();
  }
}
