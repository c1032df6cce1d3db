/**
 * The gRPC transport on @grpc/grpc-js: decode -> validate -> beforeCall (auth, rate limit) -> handler ->
 * encode, for every RPC of the public services plus grpc.health.v1.Health.
 *
 * - Requests are decoded inside the call, so malformed bytes answer INVALID_ARGUMENT instead of crashing.
 * - For unary RPCs validation runs before `beforeCall` (Permify's interceptor order: invalid requests never
 *   consume rate-limit tokens); for server-streaming RPCs it runs after, as in Permify.
 * - Errors: PermifyError -> status `err.grpcStatus` with `err.message`; anything else -> INTERNAL (logged).
 * - Each call gets an AbortSignal that fires on client cancellation or when the deadline passes.
 * - `close(deadlineMs)` stops accepting calls, lets in-flight unary calls finish, ends open streams with OK,
 *   and forces the remaining connections closed after the deadline.
 * - Unknown methods answer UNIMPLEMENTED (grpc-js default). Server reflection (v1, v1alpha) is registered,
 *   behind `beforeCall` like the RPCs.
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary, type DescMessage, type DescMethod, type DescService } from '@bufbuild/protobuf';
import { errorInfoOf, PermifyError, toPermifyError } from '../../errors.js';
import { file_base_v1_service } from '../gen/base/v1/service_pb.js';
import {
  file_grpc_health_v1_health,
  Health,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from '../gen/grpc/health/v1/health_pb.js';
import { services, type HandlerContext, type HandlerLogger, type Handlers } from '../handlers/types.js';
import { validateMessage } from '../handlers/deps.js';
import type { HealthReporter, ServingStatus } from './health.js';
import { addReflection } from './reflection.js';
import { encodeStatusDetails } from './status-details.js';
import { acquireController, releaseController } from '../abort-pool.js';

export interface BeforeCallInfo {
  /** Full service name, e.g. `base.v1.Permission` or `grpc.health.v1.Health`. */
  readonly service: string;
  /** Method name, e.g. `Check`. */
  readonly method: string;
  /** Request metadata (text entries only), keys lower-case. */
  readonly headers: Record<string, string>;
}

export interface GrpcServerOptions {
  readonly handlers: Handlers;
  /** Admission hook (auth, rate limit); throwing a PermifyError answers with its status. */
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

type SurfaceCall = grpc.ServerUnaryCall<Buffer, Buffer> | grpc.ServerWritableStream<Buffer, Buffer>;
type AnyUnary = (request: unknown, ctx: HandlerContext) => Promise<unknown>;
type AnyStreaming = (request: unknown, ctx: HandlerContext) => AsyncIterable<unknown>;

const identity = (b: Buffer): Buffer => b;

/** The encoded bytes as a Buffer without copying them. */
const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

function headersOf(metadata: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata.getMap())) if (typeof v === 'string') out[k] = v;
  return out;
}

function toStatus(e: unknown, logger: HandlerLogger, rpc: string): Partial<grpc.StatusObject> {
  const err = toPermifyError(e);
  if (err.code === 'ERROR_CODE_INTERNAL' || err.grpcStatus === grpc.status.INTERNAL) {
    logger.error({ rpc, code: err.code, err: err.cause ?? err }, 'rpc failed');
  }
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

const servingStatusNumber: Record<ServingStatus, HealthCheckResponse_ServingStatus> = {
  UNKNOWN: HealthCheckResponse_ServingStatus.UNKNOWN,
  SERVING: HealthCheckResponse_ServingStatus.SERVING,
  NOT_SERVING: HealthCheckResponse_ServingStatus.NOT_SERVING,
  SERVICE_UNKNOWN: HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN,
};

export function createGrpcServer(opts: GrpcServerOptions): GrpcServer {
  const server = new grpc.Server({ ...opts.channelOptions });
  const logger = opts.logger;
  /** Controllers of open streams; aborted (as a shutdown) when the server closes. */
  const openStreams = new Set<AbortController>();
  let closing = false;

  /**
   * Per-call AbortSignal: client cancellation and deadline. The returned cleanup must run in `finally`; it
   * removes the hooks and hands the (un-aborted) controller back to the pool for reuse.
   */
  function callSignal(call: SurfaceCall): { controller: AbortController; cleanup: () => void } {
    const controller = acquireController();
    const onCancel = (): void => controller.abort(new DOMException('client cancelled', 'AbortError'));
    call.on('cancelled', onCancel);
    let timer: NodeJS.Timeout | undefined;
    const deadline = call.getDeadline();
    const at = deadline instanceof Date ? deadline.getTime() : deadline;
    if (Number.isFinite(at)) {
      const ms = Math.max(0, at - Date.now());
      timer = setTimeout(() => controller.abort(new DOMException('deadline exceeded', 'TimeoutError')), ms);
    }
    return {
      controller,
      cleanup: () => {
        if (timer !== undefined) clearTimeout(timer);
        call.removeListener('cancelled', onCancel);
        releaseController(controller);
      },
    };
  }

  function context(signal: AbortSignal, requestId: string): HandlerContext {
    return { signal, requestId, logger };
  }

  /** One debug line per finished call (never at info: no per-request noise or data on the hot path). */
  function finished(rpc: string, requestId: string, startMs: number, code: number): void {
    logger.debug({ rpc, requestId, code, durationMs: Date.now() - startMs }, 'rpc finished');
  }

  function addService(desc: DescService, impl: Record<string, unknown>): void {
    const definition: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const method of desc.methods) {
      const handler = impl[method.name];
      if (typeof handler !== 'function') continue;
      const path = `/${desc.typeName}/${method.name}`;
      const streamingMethod = method.methodKind === 'server_streaming';
      definition[method.name] = {
        path,
        requestStream: false,
        responseStream: streamingMethod,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      };
      implementation[method.name] = streamingMethod
        ? serverStreaming(desc, method, handler as AnyStreaming)
        : unaryCall(desc, method, handler as AnyUnary);
    }
    server.addService(definition, implementation);
  }

  function unaryCall(desc: DescService, method: DescMethod, handler: AnyUnary): grpc.handleUnaryCall<Buffer, Buffer> {
    const rpc = `${desc.typeName}/${method.name}`;
    return (call, callback) => {
      const { controller, cleanup } = callSignal(call);
      const headers = headersOf(call.metadata);
      const requestId = headers['x-request-id'] || randomUUID();
      const startMs = Date.now();
      void (async () => {
        let code = 0;
        try {
          const request = decode(method.input, call.request);
          validateMessage(request);
          await opts.beforeCall?.({ service: desc.typeName, method: method.name, headers });
          const response = await handler(request, context(controller.signal, requestId));
          callback(null, asBuffer(toBinary(method.output, response as never)));
        } catch (e) {
          const status = toStatus(e, logger, rpc);
          code = status.code ?? grpc.status.UNKNOWN;
          callback(status);
        } finally {
          cleanup();
          finished(rpc, requestId, startMs, code);
        }
      })();
    };
  }

  function serverStreaming(
    desc: DescService,
    method: DescMethod,
    handler: AnyStreaming,
  ): grpc.handleServerStreamingCall<Buffer, Buffer> {
    const rpc = `${desc.typeName}/${method.name}`;
    return (call) => {
      const { controller, cleanup } = callSignal(call);
      openStreams.add(controller);
      const headers = headersOf(call.metadata);
      const requestId = headers['x-request-id'] || randomUUID();
      const startMs = Date.now();
      void (async () => {
        let code = 0;
        try {
          await opts.beforeCall?.({ service: desc.typeName, method: method.name, headers });
          const request = decode(method.input, call.request);
          for await (const item of handler(request, context(controller.signal, requestId))) {
            if (controller.signal.aborted) break;
            const ok = call.write(asBuffer(toBinary(method.output, item as never)));
            if (!ok)
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
          if (!call.cancelled) call.end();
        } catch (e) {
          if (closing && controller.signal.aborted) {
            if (!call.cancelled) call.end();
          } else if (!call.cancelled) {
            const status = toStatus(e, logger, rpc);
            code = status.code ?? grpc.status.UNKNOWN;
            call.emit('error', status);
          }
        } finally {
          openStreams.delete(controller);
          cleanup();
          finished(rpc, requestId, startMs, code);
        }
      })();
    };
  }

  for (const [name, desc] of Object.entries(services)) {
    addService(desc, opts.handlers[name as keyof Handlers] as unknown as Record<string, unknown>);
  }

  // grpc.health.v1.Health: Check answers the reporter's status; Watch streams it until cancelled.
  addService(Health, {
    Check: async (request: { service: string }) =>
      create(HealthCheckResponseSchema, { status: servingStatusNumber[opts.health.status(request.service)] }),
    Watch: async function* (request: { service: string }, ctx: HandlerContext) {
      let wake: (() => void) | undefined;
      const unsubscribe = opts.health.subscribe(() => wake?.());
      const onAbort = (): void => wake?.();
      ctx.signal.addEventListener('abort', onAbort);
      try {
        let last: ServingStatus | undefined;
        while (!ctx.signal.aborted) {
          const status = opts.health.status(request.service);
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
  });

  if (opts.reflection !== false) {
    addReflection(
      server,
      [file_base_v1_service, file_grpc_health_v1_health],
      [...Object.keys(services), Health.typeName],
      opts.beforeCall,
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
