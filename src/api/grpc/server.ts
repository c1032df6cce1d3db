/**
 * The gRPC transport on @grpc/grpc-js. It only frames messages: each call becomes a {@link GrpcCall} and runs
 * through the shared call pipeline (decode -> validation -> rate limit -> authentication -> handler; metrics
 * and logging when it ends), the same pipeline the REST gateway uses. Every method of the pipeline's table is
 * served, whatever its package (base.v1, grpc.health.v1, permifyts.v1).
 *
 * - Requests are decoded inside the pipeline, so malformed bytes answer INVALID_ARGUMENT and are counted.
 * - For unary RPCs validation runs before admission (Permify's interceptor order: invalid requests never
 *   consume rate-limit tokens); streaming RPCs are admitted first and validated by the handler, as in Permify.
 * - Errors: PermifyError -> status `err.grpcStatus` with `err.message`; anything else -> INTERNAL (logged).
 * - The call's AbortSignal (client cancellation, `grpc-timeout` deadline) is created when the handler first
 *   asks for it; a call that never does costs no listener or timer.
 * - `close(deadlineMs)` stops accepting calls, lets in-flight unary calls finish, ends open streams with OK,
 *   and forces the remaining connections closed after the deadline.
 * - Unknown methods answer UNIMPLEMENTED (grpc-js default). Server reflection (v1, v1alpha) is registered,
 *   behind the pipeline's admission like the RPCs.
 *
 * @grpc/grpc-js stays the transport: measured against @connectrpc/connect-node 2.1 on Node 20 (bench/api.ts,
 * `bare connect`), the same fixed Check costs connect-node's gRPC handler about 5-8x the server CPU of a bare
 * grpc-js server.
 */
import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary, type DescMessage, type DescMethod } from '@bufbuild/protobuf';
import { errorInfoOf, PermifyError, toPermifyError } from '../../errors.js';
import {
  file_grpc_health_v1_health,
  Health,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from '../gen/grpc/health/v1/health_pb.js';
import { services, type HandlerContext, type HandlerLogger, type Handlers } from '../handlers/types.js';
import type { HealthReporter, ServingStatus } from './health.js';
import { addReflection } from './reflection.js';
import { encodeStatusDetails } from './status-details.js';
import { acquireController, releaseController } from '../abort-pool.js';
import { Call, createPipeline, methodEntries, type MethodEntry, type Pipeline } from '../pipeline/invoke.js';
import { beforeCallHook, logging, validation } from '../pipeline/interceptors.js';

export interface BeforeCallInfo {
  /** Full service name, e.g. `base.v1.Permission` or `grpc.health.v1.Health`. */
  readonly service: string;
  /** Method name, e.g. `Check`. */
  readonly method: string;
  /** Request metadata (text entries only), keys lower-case. */
  readonly headers: Record<string, string>;
}

export interface GrpcServerOptions {
  /** The handlers, when no `pipeline` is given (one is built: validation, `beforeCall`, logging). */
  readonly handlers: Handlers;
  /**
   * The shared call pipeline (the composition root builds one for every transport). It must hold the
   * health service (see {@link healthHandlers}); `handlers` and `beforeCall` are then not used.
   */
  readonly pipeline?: Pipeline;
  /** Admission hook (auth, rate limit) of a pipeline built here; a thrown PermifyError answers its status. */
  readonly beforeCall?: (call: BeforeCallInfo) => Promise<void> | void;
  readonly health: HealthReporter;
  /** Server-side TLS (PEM). */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  readonly logger: HandlerLogger;
  /** Register gRPC server reflection (v1 and v1alpha); default true. */
  readonly reflection?: boolean;
  /** Extra @grpc/grpc-js channel options (e.g. max message sizes). */
  readonly channelOptions?: grpc.ServerOptions;
}

export interface GrpcServer {
  /** Binds and starts serving; returns the bound port (useful with port 0). */
  listen(host: string, port: number): Promise<number>;
  /** Graceful stop: in-flight calls finish, streams end; forced after `deadlineMs`. */
  close(deadlineMs: number): Promise<void>;
}

type SurfaceCall =
  | grpc.ServerUnaryCall<Buffer, Buffer>
  | grpc.ServerWritableStream<Buffer, Buffer>
  | grpc.ServerDuplexStream<Buffer, Buffer>;

const identity = (b: Buffer): Buffer => b;

/** The encoded bytes as a Buffer without copying them. */
const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

function headersOf(metadata: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata.getMap())) if (typeof v === 'string') out[k] = v;
  return out;
}

/** The status to send for a pipeline error (already normalised and logged by the pipeline). */
function toStatus(e: unknown, logger: HandlerLogger, rpc: string): Partial<grpc.StatusObject> {
  const err = toPermifyError(e);
  const metadata = new grpc.Metadata();
  const info = errorInfoOf(err);
  if (info !== undefined) {
    logger.debug({ rpc, code: err.code, ...info.metadata }, 'rpc error details');
    metadata.set('grpc-status-details-bin', Buffer.from(encodeStatusDetails(err.grpcStatus, err.message, info)));
  }
  return { code: err.grpcStatus as number as grpc.status, details: err.message, metadata };
}

function decode<T extends DescMessage>(schema: T, bytes: Buffer): ReturnType<typeof fromBinary<T>> {
  try {
    return fromBinary(schema, bytes);
  } catch (e) {
    throw new PermifyError('ERROR_CODE_VALIDATION', `invalid ${schema.name}: malformed message`, { cause: e });
  }
}

/** A gRPC call in the pipeline: metadata read in place, the signal bound to grpc-js's cancel and deadline. */
class GrpcCall extends Call {
  #controller: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #expired = false;
  readonly #onCancel = (): void => this.#controller?.abort(new DOMException('client cancelled', 'AbortError'));

  constructor(
    entry: MethodEntry,
    logger: HandlerLogger,
    readonly raw: SurfaceCall,
  ) {
    super(entry, 'grpc', logger);
  }

  header(name: string): string | undefined {
    const v = this.raw.metadata.get(name)[0];
    return typeof v === 'string' ? v : undefined;
  }

  headers(): Record<string, string> {
    return headersOf(this.raw.metadata);
  }

  get signal(): AbortSignal {
    return this.controller().signal;
  }

  /** The call's controller, created (from the pool) and hooked to cancel and deadline on first use. */
  controller(): AbortController {
    if (this.#controller !== undefined) return this.#controller;
    const controller = acquireController();
    this.#controller = controller;
    (this.raw as grpc.ServerUnaryCall<Buffer, Buffer>).on('cancelled', this.#onCancel);
    const deadline = this.raw.getDeadline();
    const at = deadline instanceof Date ? deadline.getTime() : deadline;
    if (Number.isFinite(at)) {
      this.#timer = setTimeout(
        () => {
          this.#expired = true;
          controller.abort(new DOMException('deadline exceeded', 'TimeoutError'));
        },
        Math.max(0, at - Date.now()),
      );
    }
    return controller;
  }

  override deadlineExceeded(): boolean {
    return this.#expired;
  }

  /** Removes the hooks and hands an un-aborted controller back to the pool; runs once the call is over. */
  release(): void {
    const controller = this.#controller;
    if (controller === undefined) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    (this.raw as grpc.ServerUnaryCall<Buffer, Buffer>).removeListener('cancelled', this.#onCancel);
    this.#controller = undefined;
    releaseController(controller);
  }
}

/** A call known only by a metadata record (reflection streams are admitted through the pipeline with it). */
class RecordCall extends Call {
  #signal: AbortSignal | undefined;
  constructor(
    entry: MethodEntry,
    logger: HandlerLogger,
    private readonly record: Record<string, string>,
  ) {
    super(entry, 'grpc', logger);
  }
  header(name: string): string | undefined {
    return this.record[name];
  }
  headers(): Record<string, string> {
    return { ...this.record };
  }
  get signal(): AbortSignal {
    return (this.#signal ??= new AbortController().signal);
  }
}

const servingStatusNumber: Record<ServingStatus, HealthCheckResponse_ServingStatus> = {
  UNKNOWN: HealthCheckResponse_ServingStatus.UNKNOWN,
  SERVING: HealthCheckResponse_ServingStatus.SERVING,
  NOT_SERVING: HealthCheckResponse_ServingStatus.NOT_SERVING,
  SERVICE_UNKNOWN: HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN,
};

/** grpc.health.v1.Health: Check answers the reporter's status; Watch streams it until cancelled. */
export function healthHandlers(health: HealthReporter): Record<string, unknown> {
  return {
    Check: async (request: { service: string }) =>
      create(HealthCheckResponseSchema, { status: servingStatusNumber[health.status(request.service)] }),
    Watch: async function* (request: { service: string }, ctx: HandlerContext) {
      let wake: (() => void) | undefined;
      const unsubscribe = health.subscribe(() => wake?.());
      const onAbort = (): void => wake?.();
      ctx.signal.addEventListener('abort', onAbort);
      try {
        let last: ServingStatus | undefined;
        while (!ctx.signal.aborted) {
          const status = health.status(request.service);
          if (status !== last) {
            last = status;
            yield create(HealthCheckResponseSchema, { status: servingStatusNumber[status] });
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
      } finally {
        unsubscribe();
        ctx.signal.removeEventListener('abort', onAbort);
      }
    },
  };
}

/** The method table of the public services plus health, for a pipeline built from a handler map. */
export function grpcMethodTable(handlers: Handlers, health: HealthReporter): Map<string, MethodEntry> {
  return methodEntries({ ...handlers, [Health.typeName]: healthHandlers(health) }, [...Object.values(services), Health]);
}

export function createGrpcServer(opts: GrpcServerOptions): GrpcServer {
  // Channelz stays on although nothing serves it: grpc-js 1.14 only tracks sessions for forceShutdown() when
  // channelz is enabled, so with it off the shutdown deadline no longer ends in-flight calls.
  const server = new grpc.Server({ ...opts.channelOptions });
  const logger = opts.logger;
  const pipeline =
    opts.pipeline ??
    createPipeline(grpcMethodTable(opts.handlers, opts.health), [
      validation(),
      ...(opts.beforeCall ? [beforeCallHook(opts.beforeCall)] : []),
      logging(logger),
    ]);
  /** Controllers of open streams; aborted (as a shutdown) when the server closes. */
  const openStreams = new Set<AbortController>();
  let closing = false;

  /** Writes with backpressure: resolves at once, on 'drain', or when the call is aborted. */
  async function write(call: grpc.ServerWritableStream<Buffer, Buffer> | grpc.ServerDuplexStream<Buffer, Buffer>, bytes: Buffer, controller: AbortController): Promise<void> {
    if (call.write(bytes)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        call.removeListener('drain', done);
        controller.signal.removeEventListener('abort', done);
        resolve();
      };
      call.once('drain', done);
      controller.signal.addEventListener('abort', done, { once: true });
    });
  }

  function unaryCall(entry: MethodEntry, method: DescMethod): grpc.handleUnaryCall<Buffer, Buffer> {
    return (call, callback) => {
      const c = new GrpcCall(entry, logger, call);
      pipeline.unary(c, () => decode(method.input, call.request)).then(
        (response) => {
          c.release();
          let bytes: Buffer;
          try {
            bytes = asBuffer(toBinary(method.output, response as never));
          } catch (e) {
            logger.error({ rpc: entry.rpc, err: e }, 'rpc failed: cannot encode the response');
            callback(toStatus(e, logger, entry.rpc));
            return;
          }
          callback(null, bytes);
        },
        (e: unknown) => {
          c.release();
          callback(toStatus(e, c.logger, entry.rpc));
        },
      );
    };
  }

  /**
   * Server streaming, and bidirectional streaming (permifyts.v1.Data/Import), whose handler pulls decoded
   * requests as it goes (so HTTP/2 flow control holds the client back while a batch commits). Responses are
   * written with backpressure; a malformed request message fails the stream with INVALID_ARGUMENT.
   */
  function streamingCall(
    entry: MethodEntry,
    method: DescMethod,
  ): (call: grpc.ServerWritableStream<Buffer, Buffer> | grpc.ServerDuplexStream<Buffer, Buffer>) => void {
    const bidi = method.methodKind === 'bidi_streaming';
    return (call) => {
      const c = new GrpcCall(entry, logger, call);
      // Streams need their controller from the start: closing the server ends them through it.
      const controller = c.controller();
      openStreams.add(controller);
      const request = bidi
        ? (): unknown =>
            (async function* () {
              // Not `for await (... of call)`: leaving that loop early (the handler failed) destroys the call,
              // which then never sends its status and the client waits for its deadline.
              const chunks = (call as grpc.ServerDuplexStream<Buffer, Buffer>).iterator({ destroyOnReturn: false });
              for await (const chunk of chunks as AsyncIterable<Buffer>) yield decode(method.input, chunk);
            })()
        : (): unknown => decode(method.input, (call as grpc.ServerWritableStream<Buffer, Buffer>).request);
      void (async () => {
        try {
          for await (const item of pipeline.stream(c, request)) {
            if (controller.signal.aborted) break;
            await write(call, asBuffer(toBinary(method.output, item as never)), controller);
          }
          if (!call.cancelled) call.end();
        } catch (e) {
          if (closing && controller.signal.aborted) {
            if (!call.cancelled) call.end();
          } else if (!call.cancelled) {
            call.emit('error', toStatus(e, c.logger, entry.rpc));
          }
        } finally {
          openStreams.delete(controller);
          c.release();
        }
      })();
    };
  }

  // Every method of the table, grouped by service, each with its descriptor from the service set.
  const descriptors = new Map<string, DescMethod>();
  for (const desc of [...Object.values(services), Health]) for (const m of desc.methods) descriptors.set(`${desc.typeName}/${m.name}`, m);
  const byService = new Map<string, { definition: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation }>();
  for (const entry of pipeline.methods.values()) {
    const method = descriptors.get(entry.rpc);
    if (method === undefined) continue;
    let svc = byService.get(entry.service);
    if (svc === undefined) byService.set(entry.service, (svc = { definition: {}, implementation: {} }));
    const bidi = method.methodKind === 'bidi_streaming';
    const streams = method.methodKind !== 'unary';
    (svc.definition as Record<string, grpc.MethodDefinition<Buffer, Buffer>>)[method.name] = {
      path: `/${entry.rpc}`,
      requestStream: bidi,
      responseStream: streams,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    };
    svc.implementation[method.name] = (streams ? streamingCall(entry, method) : unaryCall(entry, method)) as grpc.UntypedHandleCall;
  }
  for (const { definition, implementation } of byService.values()) server.addService(definition, implementation);

  if (opts.reflection !== false) {
    const noop = async (): Promise<undefined> => undefined;
    addReflection(
      server,
      [...new Set(Object.values(services).map((d) => d.file)), file_grpc_health_v1_health],
      [...Object.keys(services), Health.typeName],
      async ({ service, method, headers }) => {
        const entry: MethodEntry = { service, method, rpc: `${service}/${method}`, streaming: true, handler: noop };
        await pipeline.unary(new RecordCall(entry, logger, headers), () => undefined);
      },
    );
  }

  return {
    listen(host, port) {
      const creds = opts.tls
        ? grpc.ServerCredentials.createSsl(
            null,
            [{ cert_chain: Buffer.from(opts.tls.cert), private_key: Buffer.from(opts.tls.key) }],
            false,
          )
        : grpc.ServerCredentials.createInsecure();
      const address = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
      return new Promise((resolve, reject) => {
        server.bindAsync(address, creds, (err, bound) => (err ? reject(err) : resolve(bound)));
      });
    },
    close(deadlineMs) {
      closing = true;
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, deadlineMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
        // Streams (Watch, health Watch) never end on their own: end them now with OK.
        for (const c of openStreams) {
          if (c.signal.aborted) continue;
          c.abort(new DOMException('server shutting down', 'AbortError'));
        }
      });
    },
  };
}
