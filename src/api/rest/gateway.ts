/**
 * The REST/JSON gateway (api-and-operations §1.3-§1.7) on node:http(s). It runs the same transport-free
 * handlers as the gRPC server, in-process, through the same call pipeline (src/api/pipeline): read body ->
 * [pipeline: decode JSON + path parameters -> validate -> rate limit -> authentication -> handler; metrics,
 * logging] -> encode. (Permify proxies over loopback gRPC; the observable behaviour is the same and one hop
 * cheaper.)
 *
 * Errors answer `{"code": <gRPC code>, "message": ..., "details": []}` with the §4.2 HTTP status; anything
 * that is not a PermifyError becomes INTERNAL and is logged, never sent. Malformed JSON is 400, an unknown
 * path 404, a known path with the wrong method 501, a body above `maxBodyBytes` 413. Server-streaming RPCs
 * answer newline-delimited `{"result": ...}` lines (§1.5).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import type { DescMessage, DescService, JsonValue, Message } from '@bufbuild/protobuf';
import { GrpcStatus, PermifyError, errorInfoOf, httpStatusOfGrpc, toPermifyError, type GrpcStatusCode } from '../../errors.js';
import type { HandlerLogger } from '../handlers/types.js';
import type { HealthReporter } from '../grpc/health.js';
import { Call, type MethodEntry, type Pipeline } from '../pipeline/invoke.js';
import type { Metrics } from '../../observability/metrics.js';
import { createRouter, deriveRoutes, type RestRoute } from './routes.js';
import { decodeJson, encodeJson } from './json.js';
import { acquireController, releaseController } from '../abort-pool.js';
import { serveBidiNdjson } from './ndjson-stream.js';
import { createPlaygroundRoute, type PlaygroundRouteOptions } from './static.js';

export interface RestGatewayOptions {
  /**
   * The call pipeline shared with the gRPC server (validation, rate limit, authentication, metrics, logging
   * around the handlers): the gateway only maps HTTP to calls and back.
   */
  readonly pipeline: Pipeline;
  readonly services: readonly DescService[];
  readonly health: HealthReporter;
  /**
   * `GET /healthz?detail=true`: this object's fields are added to the answer (the read model's state), with
   * 200 when serving and 503 otherwise. With authentication on, the detail needs a valid token (401 without).
   */
  readonly healthDetail?: () => Record<string, unknown>;
  readonly logger: HandlerLogger;
  readonly metrics?: Metrics;
  /**
   * Answer `GET /metrics` with `metrics` (default true when `metrics` is given). It passes admission like
   * an RPC, so it needs a token when authentication is on.
   */
  readonly metricsRoute?: boolean;
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** Largest accepted request body (default 4 MiB). */
  readonly maxBodyBytes?: number;
  readonly corsAllowedOrigins?: readonly string[];
  readonly corsAllowedHeaders?: readonly string[];
  /** Serve the browser playground's static files under `/playground/` (`server.http.playground`). */
  readonly playground?: PlaygroundRouteOptions;
  /**
   * Connect and gRPC-Web requests under `/connect/` (see src/api/connect/handler.ts): returns true when it
   * took the request. Its calls run through the same pipeline and are counted there.
   */
  readonly connect?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
}

export interface RestGateway {
  listen(host: string, port: number): Promise<number>;
  /**
   * Drains: stops accepting connections, closes idle keep-alive connections gracefully (FIN, never a reset),
   * lets in-flight requests finish (answered with `Connection: close`), and after `deadlineMs` aborts what is
   * left and destroys every connection.
   */
  close(deadlineMs: number): Promise<void>;
  /** The derived routes (for tests and documentation). */
  readonly routes: readonly RestRoute[];
}

/** The name `/metrics` goes by in admission (rate limiting, authentication) and its errors. */
const METRICS_SERVICE = 'permify.Metrics';
const METRICS_ENTRY = { service: METRICS_SERVICE, method: 'Get', rpc: `${METRICS_SERVICE}/Get`, streaming: false, handler: async () => undefined };

const CORS_METHODS = ['GET', 'POST', 'HEAD', 'PATCH', 'DELETE', 'PUT'];

/** A REST request in the pipeline: headers read in place from the request, the signal of the request. */
class RestCall extends Call {
  constructor(
    entry: MethodEntry,
    logger: HandlerLogger,
    private readonly req: http.IncomingMessage,
    private readonly controller: AbortController,
  ) {
    super(entry, 'rest', logger);
  }

  /**
   * As gRPC metadata (§1.6): `Grpc-Metadata-<name>`, and `Authorization` / `X-Request-Id` as they are, as
   * are the W3C trace-context headers `traceparent` / `tracestate` (set by HTTP clients and proxies).
   */
  header(name: string): string | undefined {
    const prefixed = this.req.headers[`grpc-metadata-${name}`];
    if (typeof prefixed === 'string') return prefixed;
    if (name !== 'authorization' && name !== 'x-request-id' && name !== 'traceparent' && name !== 'tracestate') return undefined;
    const v = this.req.headers[name];
    return typeof v === 'string' ? v : undefined;
  }

  headers(): Record<string, string> {
    return metadataOf(this.req);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  override deadlineExceeded(): boolean {
    return deadlineError(this.controller.signal) !== undefined;
  }
}

/** Admission-only entries of the routes that are not RPCs of the table. */
const noop = async (): Promise<undefined> => undefined;
const HEALTH_ENTRY: MethodEntry = { service: 'grpc.health.v1.Health', method: 'Check', rpc: 'grpc.health.v1.Health/Check', streaming: false, handler: noop };
/**
 * `GET /healthz?detail=true` names tenants (the read model's state): it is admitted as a call of its own
 * service, so with authentication on it needs a valid token like `/metrics` (401 without one); the plain
 * health check stays open for probes.
 */
const HEALTH_DETAIL_ENTRY: MethodEntry = { service: 'permify.health.Detail', method: 'Get', rpc: 'permify.health.Detail/Get', streaming: false, handler: noop };

/** `details` holds a google.rpc.ErrorInfo (as grpc-gateway renders it) when the error carries details. */
function errorDetails(err: PermifyError | undefined): unknown[] {
  const info = err === undefined ? undefined : errorInfoOf(err);
  return info === undefined ? [] : [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', ...info }];
}

function errorBody(code: number, message: string, err?: PermifyError): string {
  return JSON.stringify({ code, message, details: errorDetails(err) });
}

/** Lower-case headers forwarded to handlers/admission as gRPC metadata would be (§1.6). */
function metadataOf(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  const auth = req.headers.authorization;
  if (typeof auth === 'string') out['authorization'] = auth;
  const rid = req.headers['x-request-id'];
  if (typeof rid === 'string') out['x-request-id'] = rid;
  for (const [k, v] of Object.entries(req.headers)) {
    if (k.startsWith('grpc-metadata-') && typeof v === 'string') out[k.slice('grpc-metadata-'.length)] = v;
  }
  return out;
}

class BodyTooLarge extends Error {}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

const TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };
/** Largest delay `setTimeout` honours; longer deadlines are as good as none. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The `Grpc-Timeout` request header (`<digits><H|M|S|m|u|n>`), which grpc-gateway turns into the call's
 * deadline: the call is aborted with DEADLINE_EXCEEDED (504) when it passes; a malformed value is 400.
 */
function applyGrpcTimeout(req: http.IncomingMessage, res: http.ServerResponse, controller: AbortController): boolean {
  const raw = req.headers['grpc-timeout'];
  if (typeof raw !== 'string' || raw === '') return false;
  const m = /^(\d+)([HMSmun])$/.exec(raw);
  if (!m) throw new PermifyError('ERROR_CODE_VALIDATION', `invalid grpc-timeout: ${raw}`);
  const ms = Number(m[1]) * (TIMEOUT_UNIT_MS[m[2] as string] as number);
  const expire = (): void => controller.abort(new DOMException('deadline exceeded', 'TimeoutError'));
  if (ms < 1) {
    expire();
    return true;
  }
  if (ms > MAX_TIMER_MS) return false;
  const timer = setTimeout(expire, ms);
  res.once('close', () => clearTimeout(timer));
  return true;
}

/** The signal's reason when it was aborted by a passed deadline (handlers report any abort as CANCELLED). */
function deadlineError(signal: AbortSignal): Error | undefined {
  const reason: unknown = signal.aborted ? signal.reason : undefined;
  return reason instanceof Error && reason.name === 'TimeoutError' ? reason : undefined;
}

/** `pending`, or a rejection as soon as the deadline passes (the handler's late result is dropped). */
function untilDeadline<T>(pending: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      const e = deadlineError(signal);
      if (e) reject(e);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/**
 * Matcher of the configured CORS origins as Permify's CORS layer reads them: case-insensitive, and an entry
 * may hold one `*` standing for any run of characters (`https://*.example.com`).
 */
function originMatcher(configured: readonly string[]): (origin: string) => boolean {
  const exact = new Set<string>();
  const wildcards: { prefix: string; suffix: string }[] = [];
  for (const o of configured) {
    const lower = o.toLowerCase();
    const star = lower.indexOf('*');
    if (star < 0) exact.add(lower);
    else wildcards.push({ prefix: lower.slice(0, star), suffix: lower.slice(star + 1) });
  }
  return (origin) => {
    const lower = origin.toLowerCase();
    if (exact.has(lower)) return true;
    return wildcards.some(
      (w) => lower.length >= w.prefix.length + w.suffix.length && lower.startsWith(w.prefix) && lower.endsWith(w.suffix),
    );
  };
}

/**
 * Path and query of a request target. Origin-form (`/path?q`) is split as is (not `new URL()`: `//x` would be
 * read as a host); absolute-form (`http://host/path?q`, sent by clients talking through a proxy setting) is
 * routed by its path, as Go's HTTP server does; `*` (OPTIONS *) is reported separately.
 */
function requestTarget(raw: string): { path: string; query: string } | 'asterisk' {
  if (raw === '*') return 'asterisk';
  let rest = raw;
  const absolute = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(raw);
  if (absolute) rest = raw.slice(absolute[0].length);
  const q = rest.indexOf('?');
  return q < 0 ? { path: rest, query: '' } : { path: rest.slice(0, q), query: rest.slice(q + 1) };
}

/** proto field name -> JSON name, per request message type (path parameters are looked up per request). */
const jsonNames = new WeakMap<DescMessage, Map<string, string>>();
function jsonNameOf(message: DescMessage, protoName: string): string | undefined {
  let names = jsonNames.get(message);
  if (names === undefined) jsonNames.set(message, (names = new Map(message.fields.map((f) => [f.name, f.jsonName]))));
  return names.get(protoName);
}

function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      reject(new BodyTooLarge());
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > maxBytes) {
        failed = true;
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!failed) resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
    });
    req.on('error', (e) => {
      if (!failed) {
        failed = true;
        // The client went away mid-body: a cancellation (499), not a server fault to log as INTERNAL.
        reject(new PermifyError('ERROR_CODE_CANCELLED', undefined, { cause: e }));
      }
    });
  });
}

export function createRestGateway(opts: RestGatewayOptions): RestGateway {
  const pipeline = opts.pipeline;
  const routes = deriveRoutes(opts.services);
  const route = createRouter(routes);
  const playground = opts.playground ? createPlaygroundRoute(opts.playground) : undefined;
  const logger = opts.logger;
  const maxBodyBytes = opts.maxBodyBytes ?? 4 * 1024 * 1024;
  const origins = opts.corsAllowedOrigins ?? ['*'];
  // `Origin` is always an allowed request header, whatever the list says (as in Permify's CORS layer).
  const allowedHeaders = [...(opts.corsAllowedHeaders ?? ['*']), 'Origin'].map((h) => h.toLowerCase());
  const anyOrigin = origins.includes('*');
  const anyHeader = allowedHeaders.includes('*');
  /** Requests being answered, by controller (aborted at the shutdown deadline). */
  const inflight = new Map<AbortController, http.ServerResponse>();
  /** Open connections and how many of their requests are being answered (0 = idle keep-alive). */
  const connections = new Map<Socket, number>();
  /** Connections we half-closed while draining. */
  const retired = new WeakSet<Socket>();
  let closing = false;

  /**
   * Closes a connection that has nothing in flight, gracefully: our side sends FIN and keeps reading until
   * the client closes, so a request that crossed the FIN on the wire meets an orderly close (never a TCP
   * reset) and is not run, and a client that got no answer knows its request did not run.
   */
  function retire(socket: Socket): void {
    if (retired.has(socket)) return;
    retired.add(socket);
    socket.end();
  }

  const originAllowed = anyOrigin ? (): boolean => true : originMatcher(origins);

  /**
   * CORS as Permify's layer does it: every response varies on Origin (also without an Origin header, so a
   * shared cache never serves a CORS-less copy to a browser); a preflight (OPTIONS with
   * Access-Control-Request-Method) is answered 204 here whether or not it carries an Origin; the Allow-*
   * headers only go to an allowed, non-empty Origin.
   */
  function applyCors(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const rawOrigin = req.headers.origin;
    const origin = typeof rawOrigin === 'string' && rawOrigin !== '' ? rawOrigin : undefined;
    const requestedMethod = req.headers['access-control-request-method'];
    const preflight = req.method === 'OPTIONS' && typeof requestedMethod === 'string' && requestedMethod !== '';
    if (!preflight) {
      res.setHeader('Vary', 'Origin');
      if (origin !== undefined && originAllowed(origin)) {
        res.setHeader('Access-Control-Allow-Origin', origin);
        res.setHeader('Access-Control-Allow-Credentials', 'true');
      }
      return false;
    }
    res.setHeader('Vary', ['Origin', 'Access-Control-Request-Method', 'Access-Control-Request-Headers']);
    const reqMethod = requestedMethod.toUpperCase();
    const reqHeadersRaw = req.headers['access-control-request-headers'];
    const reqHeaders = typeof reqHeadersRaw === 'string' ? reqHeadersRaw.split(',').map((h) => h.trim().toLowerCase()).filter((h) => h !== '') : [];
    const methodOk = CORS_METHODS.includes(reqMethod) || reqMethod === 'OPTIONS';
    const headersOk = anyHeader || reqHeaders.every((h) => allowedHeaders.includes(h));
    if (origin !== undefined && originAllowed(origin) && methodOk && headersOk) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Methods', reqMethod);
      if (reqHeaders.length > 0) res.setHeader('Access-Control-Allow-Headers', reqHeaders.join(', '));
      res.setHeader('Access-Control-Allow-Credentials', 'true');
    }
    res.writeHead(204);
    res.end();
    return true;
  }

  function sendError(res: http.ServerResponse, err: PermifyError | { grpc: number; message: string; http?: number }): void {
    const grpc = err instanceof PermifyError ? err.grpcStatus : err.grpc;
    const message = err.message;
    const status = err instanceof PermifyError ? err.httpStatus : (err.http ?? httpStatusOfGrpc[grpc as GrpcStatusCode]);
    if (res.headersSent) {
      res.end();
      return;
    }
    const headers: http.OutgoingHttpHeaders = { 'Content-Type': 'application/json' };
    if (grpc === GrpcStatus.UNAUTHENTICATED) headers['WWW-Authenticate'] = message;
    res.writeHead(status, headers);
    res.end(errorBody(grpc, message, err instanceof PermifyError ? err : undefined));
  }

  /** `log` false: the pipeline already logged the failure (INTERNAL causes are logged once). */
  function normalise(e: unknown, rpc: string, signal?: AbortSignal, log = true): PermifyError {
    let err = toPermifyError(e);
    // Handlers report every abort as CANCELLED; one caused by a passed Grpc-Timeout is DEADLINE_EXCEEDED.
    const deadline = signal && err.code === 'ERROR_CODE_CANCELLED' ? deadlineError(signal) : undefined;
    if (deadline) err = toPermifyError(deadline);
    if (log && err.grpcStatus === GrpcStatus.INTERNAL) logger.error({ rpc, code: err.code, err: err.cause ?? err }, 'rpc failed');
    const info = errorInfoOf(err);
    if (info !== undefined) logger.debug({ rpc, code: err.code, ...info.metadata }, 'rpc error details');
    return err;
  }

  async function handleHealth(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: { searchParams: URLSearchParams },
    controller: AbortController,
  ): Promise<void> {
    const detail = url.searchParams.get('detail');
    const wantsDetail = opts.healthDetail !== undefined && (detail === 'true' || detail === '1');
    await pipeline.admit(new RestCall(wantsDetail ? HEALTH_DETAIL_ENTRY : HEALTH_ENTRY, logger, req, controller));
    const status = opts.health.status(url.searchParams.get('service') ?? '');
    if (opts.healthDetail !== undefined && wantsDetail && status !== 'SERVICE_UNKNOWN') {
      res.writeHead(status === 'SERVING' ? 200 : 503, { 'Content-Type': 'application/json' });
      res.end(`${JSON.stringify({ status, ...opts.healthDetail() })}\n`);
      return;
    }
    if (status === 'SERVING') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"status":"SERVING"}\n');
    } else if (status === 'SERVICE_UNKNOWN') {
      sendError(res, { grpc: GrpcStatus.NOT_FOUND, message: 'unknown service', http: 404 });
    } else {
      sendError(res, { grpc: GrpcStatus.UNAVAILABLE, message: `health check failed: ${status}`, http: 503 });
    }
  }

  async function handleRpc(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    r: RestRoute,
    params: Readonly<Record<string, string>>,
    controller: AbortController,
  ): Promise<boolean> {
    const rpc = `${r.service.typeName}/${r.method.name}`;
    const entry = pipeline.methods.get(rpc);
    if (entry === undefined) throw new PermifyError('ERROR_CODE_NOT_IMPLEMENTED');
    const call = new RestCall(entry, logger, req, controller);
    const hasDeadline = applyGrpcTimeout(req, res, controller);
    if (r.method.methodKind === 'bidi_streaming') {
      await serveBidiNdjson({
        req,
        res,
        route: r,
        params,
        ctx: call,
        maxLineBytes: maxBodyBytes,
        run: (requests) => pipeline.stream(call, () => requests),
        fail: (e) => {
          const err = normalise(e, rpc, controller.signal);
          return { err, line: JSON.stringify({ error: { code: err.grpcStatus, message: err.message, details: errorDetails(err) } }) + '\n' };
        },
      });
      return false;
    }
    // Reading the body is framing (a body above the limit is refused here); parsing it is decoding, inside the
    // pipeline, so that a malformed request is a refused call like any other.
    const raw = r.body !== '' ? await readBody(req, maxBodyBytes) : undefined;
    if (raw === undefined) req.resume();
    const decode = (): unknown => {
      let json: JsonValue = {};
      if (raw !== undefined) {
        let text: string;
        try {
          text = strictUtf8.decode(raw).trim();
        } catch {
          // JSON text must be UTF-8 (Go's decoder refuses other bytes; gRPC refuses them as a malformed message).
          throw new PermifyError('ERROR_CODE_VALIDATION', 'invalid JSON body: invalid UTF-8');
        }
        if (text !== '') {
          try {
            json = JSON.parse(text) as JsonValue;
          } catch (e) {
            throw new PermifyError('ERROR_CODE_VALIDATION', `invalid JSON body: ${(e as Error).message}`);
          }
        }
        if (json === null || typeof json !== 'object' || Array.isArray(json)) {
          throw new PermifyError('ERROR_CODE_VALIDATION', `invalid JSON body: expected an object for ${r.method.input.typeName}`);
        }
      }
      const obj = { ...(json as Record<string, JsonValue>) };
      // Path parameters overwrite same-named body fields (by proto name; drop the JSON-name spelling too).
      for (const k in params) {
        const jsonName = jsonNameOf(r.method.input, k);
        if (jsonName !== undefined && jsonName !== k) delete obj[jsonName];
        obj[k] = params[k] as string;
      }
      return decodeJson(r.method.input, obj);
    };
    if (r.method.methodKind === 'server_streaming') {
      // As in grpc-gateway, a stream's body is decoded before the call starts (a malformed body is 400 even
      // when the call would not be admitted); its admission failures are failures of the stream.
      const request = decode();
      let wrote = false;
      try {
        // Admission failures (auth, rate limit) are failures of the stream like any other: Permify's gateway
        // only sees them when reading the first message, so they answer the `{"error": ...}` line too.
        for await (const item of pipeline.stream(call, () => request)) {
          if (controller.signal.aborted) {
            // A passed Grpc-Timeout ends the stream with an error line; a client that went away just stops it.
            const reason: unknown = controller.signal.reason;
            if (reason instanceof Error && reason.name === 'TimeoutError') throw reason;
            break;
          }
          if (!wrote) {
            res.writeHead(200, { 'Content-Type': 'application/json' });
            wrote = true;
          }
          const ok = res.write(JSON.stringify({ result: encodeJson(r.method.output, item as Message) }) + '\n');
          if (!ok) {
            await new Promise<void>((resolve) => {
              const done = (): void => {
                res.removeListener('drain', done);
                controller.signal.removeEventListener('abort', done);
                resolve();
              };
              res.once('drain', done);
              controller.signal.addEventListener('abort', done, { once: true });
            });
          }
        }
        if (!wrote) res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end();
      } catch (e) {
        // Normalised, logged and counted by the pipeline (a passed Grpc-Timeout thrown above is mapped here).
        const err = normalise(e, rpc, controller.signal, false);
        const line = JSON.stringify({ error: { code: err.grpcStatus, message: err.message, details: errorDetails(err) } }) + '\n';
        if (!wrote) {
          const h: http.OutgoingHttpHeaders = { 'Content-Type': 'application/json' };
          if (err.grpcStatus === GrpcStatus.UNAUTHENTICATED) h['WWW-Authenticate'] = err.message;
          res.writeHead(err.httpStatus, h);
        }
        res.end(line);
      }
      return true;
    }
    let response: unknown;
    try {
      const pending = pipeline.unary(call, decode);
      response = await (hasDeadline ? untilDeadline(pending, controller.signal) : pending);
    } catch (e) {
      sendError(res, normalise(e, rpc, controller.signal, false));
      return true;
    }
    const body = JSON.stringify(encodeJson(r.method.output, response as Message));
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    return true;
  }

  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const socket = req.socket;
    if (closing) {
      // Draining runs only requests that had started: one arriving now (after our FIN on an idle
      // connection, or pipelined behind an in-flight request whose answer closes the connection) is not
      // run and gets no answer, so a client without an answer knows that nothing happened.
      req.resume();
      if ((connections.get(socket) ?? 0) === 0) retire(socket);
      return;
    }
    const started = performance.now();
    const controller = acquireController();
    inflight.set(controller, res);
    connections.set(socket, (connections.get(socket) ?? 0) + 1);
    res.on('close', () => {
      inflight.delete(controller);
      const active = (connections.get(socket) ?? 1) - 1;
      if (connections.has(socket)) connections.set(socket, active);
      if (closing && active === 0) retire(socket);
      // A fully written response means the handler is done with the signal: it can serve the next request.
      if (res.writableFinished) releaseController(controller);
      else controller.abort(new DOMException('client went away', 'AbortError'));
    });
    let rpc = 'unknown';
    let metered = false;
    void (async () => {
      try {
        const target = requestTarget(req.url ?? '/');
        if (target === 'asterisk' && req.method === 'OPTIONS') {
          // `OPTIONS *` asks about the server as a whole; Go's HTTP server answers it (200, no body) before
          // any handler, CORS included, sees it.
          req.resume();
          res.writeHead(200, { 'Content-Length': '0' });
          res.end();
          return;
        }
        if (applyCors(req, res)) return;
        if (target === 'asterisk') {
          req.resume();
          sendError(res, { grpc: GrpcStatus.INVALID_ARGUMENT, message: 'Bad Request' });
          return;
        }
        if (!target.path.startsWith('/')) {
          req.resume();
          sendError(res, { grpc: GrpcStatus.INVALID_ARGUMENT, message: 'Bad Request' });
          return;
        }
        const url = { pathname: target.path };
        if (opts.connect?.(req, res)) {
          rpc = 'connect';
          metered = true;
          return;
        }
        if (url.pathname === '/healthz') {
          if (req.method !== 'GET') {
            // A known path with another method, as for the RPC routes.
            req.resume();
            sendError(res, { grpc: GrpcStatus.UNIMPLEMENTED, message: 'Method Not Allowed' });
            return;
          }
          rpc = 'grpc.health.v1.Health/Check';
          await handleHealth(req, res, { searchParams: new URLSearchParams(target.query) }, controller);
          return;
        }
        if (url.pathname === '/metrics' && req.method === 'GET' && opts.metrics && opts.metricsRoute !== false) {
          req.resume();
          await pipeline.admit(new RestCall(METRICS_ENTRY, logger, req, controller));
          const text = await opts.metrics.render();
          res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
          res.end(text);
          return;
        }
        if (playground && (await playground(req, res, url.pathname))) {
          rpc = 'playground';
          return;
        }
        const m = route(req.method ?? 'GET', url.pathname);
        if (m.kind === 'not-found') {
          req.resume();
          sendError(res, { grpc: GrpcStatus.NOT_FOUND, message: 'Not Found' });
          return;
        }
        if (m.kind === 'method-not-allowed') {
          req.resume();
          sendError(res, { grpc: GrpcStatus.UNIMPLEMENTED, message: 'Method Not Allowed' });
          return;
        }
        if (m.kind === 'bad-param') {
          req.resume();
          sendError(res, { grpc: GrpcStatus.INVALID_ARGUMENT, message: `missing parameter ${m.param}` });
          return;
        }
        if (m.kind === 'bad-escape') {
          req.resume();
          sendError(res, { grpc: GrpcStatus.INVALID_ARGUMENT, message: `malformed path escape in parameter ${m.param}` });
          return;
        }
        rpc = `${m.route.service.typeName}/${m.route.method.name}`;
        metered = await handleRpc(req, res, m.route, m.params, controller);
      } catch (e) {
        if (e instanceof BodyTooLarge) {
          sendError(res, {
            grpc: GrpcStatus.RESOURCE_EXHAUSTED,
            message: `request body exceeds server.http.max_body_size (${maxBodyBytes} bytes)`,
            http: 413,
          });
          return;
        }
        const err = normalise(e, rpc, controller.signal);
        if (err.code === 'RATE_LIMITED') opts.metrics?.rateLimited();
        sendError(res, err);
      } finally {
        // Calls of the pipeline are counted there; the gateway counts the rest (routes, framing failures).
        if (!metered) opts.metrics?.observe('rest', rpc, String(res.statusCode), (performance.now() - started) / 1000);
        logger.debug({ transport: 'rest', rpc, status: res.statusCode, ms: performance.now() - started }, 'request finished');
      }
    })();
  };

  const server = opts.tls
    ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key }, listener)
    : http.createServer(listener);
  server.on(opts.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    if (closing) {
      // Accepted just before the listener closed: nothing to answer on it.
      retire(socket);
      return;
    }
    connections.set(socket, 0);
    socket.once('close', () => connections.delete(socket));
  });
  server.headersTimeout = 5000;
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = 65_000;

  return {
    routes,
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host === '' ? undefined : host, () => {
          server.removeListener('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    close(deadlineMs) {
      closing = true;
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          // Deadline: abort what still runs and drop every connection.
          for (const c of inflight.keys()) c.abort(new DOMException('server shutting down', 'AbortError'));
          for (const socket of connections.keys()) socket.destroy();
          server.closeAllConnections();
        }, deadlineMs);
        timer.unref();
        // net.Server's close (not http.Server's): stop accepting without http's closeIdleConnections, which
        // destroys idle keep-alive sockets and so resets a request already on its way.
        net.Server.prototype.close.call(server, () => {
          clearTimeout(timer);
          // Now that no connection is left, http's own close only stops its connection-checking timer.
          server.close();
          resolve();
        });
        for (const [socket, active] of connections) if (active === 0) retire(socket);
        // Responses not started yet tell their client that this connection ends after them.
        for (const res of inflight.values()) if (!res.headersSent) res.setHeader('Connection', 'close');
      });
    },
  };
}
