/**
 * The one call pipeline of every transport: decode -> interceptors (validation, rate limit, authentication,
 * metrics, logging) -> handler -> result. The gRPC server and the REST gateway only frame messages: they
 * build a {@link Call} (their own subclass, reading headers and cancellation from their own structures) and
 * hand it to {@link Pipeline.unary} or {@link Pipeline.stream}. A concern added here reaches every transport,
 * and every call is observed once when it ends, including calls refused before the handler (malformed,
 * invalid, rate limited, unauthenticated).
 *
 * The hot path allocates one object per call (the Call, which is also the handler's context): the request id
 * is generated only when something reads it, headers are read from the transport's own structure instead of
 * being copied, and the abort signal is taken from the transport when the handler first asks for it.
 */
import { randomUUID } from 'node:crypto';
import { GrpcStatus, PermifyError, toPermifyError, type GrpcStatusCode } from '../../errors.js';
import type { HandlerContext, HandlerLogger } from '../handlers/types.js';

/** `connect`: Connect and gRPC-Web on the HTTP port. */
export type Transport = 'grpc' | 'rest' | 'connect';

type AnyUnary = (request: unknown, ctx: HandlerContext) => Promise<unknown>;
type AnyStreaming = (request: unknown, ctx: HandlerContext) => AsyncIterable<unknown>;

/** One RPC the pipeline can run: built once per method (or per ad-hoc route such as `/metrics`). */
export interface MethodEntry {
  /** Full service name, e.g. `base.v1.Permission`. */
  readonly service: string;
  /** Method name, e.g. `Check`. */
  readonly method: string;
  /** `service/method`, the name in logs and metrics. */
  readonly rpc: string;
  /** Server streaming: the handler returns an AsyncIterable. */
  readonly streaming: boolean;
  readonly handler: AnyUnary | AnyStreaming;
}

/**
 * One call in flight; it is also the handler's context. Transports subclass it to read headers and
 * cancellation from their own request objects.
 */
export abstract class Call implements HandlerContext {
  /** Set by the authentication interceptor; reaches the handler. */
  principal: string | undefined = undefined;
  /** Set by the validation interceptor: the handler wrappers then do not validate the request again. */
  requestValidated = false;
  readonly startedMs = performance.now();
  /** The call's logger; the tracing interceptor replaces it for a sampled call (its lines carry the trace). */
  logger: HandlerLogger;
  #requestId: string | undefined;

  constructor(
    readonly entry: MethodEntry,
    readonly transport: Transport,
    logger: HandlerLogger,
  ) {
    this.logger = logger;
  }

  /** A request header (gRPC metadata), by lower-case name. */
  abstract header(name: string): string | undefined;

  /** Aborts when the client cancels or the deadline passes. Transports create it on first use. */
  abstract get signal(): AbortSignal;

  /** The client's `x-request-id`, or a fresh UUID, generated only when read. */
  get requestId(): string {
    return (this.#requestId ??= this.header('x-request-id') || randomUUID());
  }

  /** Text headers as a record (a copy, made on demand: only the compatibility hook `beforeCall` reads it). */
  abstract headers(): Record<string, string>;

  /** True when the signal was aborted by the call's deadline (handlers report any abort as CANCELLED). */
  deadlineExceeded(): boolean {
    return false;
  }
}

/**
 * A stage of the pipeline. `before` hooks run in order before the handler and may throw (a PermifyError
 * refuses the call with its status); `after` hooks run once when the call ended, whatever ended it, with
 * the error that went to the client (undefined for OK).
 */
export interface Interceptor {
  before?(call: Call, request: unknown): void | Promise<void>;
  after?(call: Call, error: PermifyError | undefined): void;
}

export interface Pipeline {
  /** Every method with a handler, by `service/method` (transports register routes from it). */
  readonly methods: ReadonlyMap<string, MethodEntry>;
  /**
   * Runs a unary call: `decode` (transport framing; a throw is a refused call), `before` hooks, handler.
   * Rejects with the normalised PermifyError the transport must send.
   */
  unary(call: Call, decode: () => unknown): Promise<unknown>;
  /**
   * Runs a server-streaming call: admission first, then `decode` and the handler (Permify validates streams
   * after admission). Iteration throws the normalised PermifyError.
   */
  stream(call: Call, decode: () => unknown): AsyncIterable<unknown>;
  /**
   * Only the `before` hooks (rate limit, authentication) for a route that is not an RPC of the table
   * (`/healthz`, `/metrics`); the transport answers and counts it. Throws what the hook threw.
   */
  admit(call: Call): Promise<void>;
}

/**
 * Builds the method table from handler maps (service full name -> method name -> handler) and the service
 * descriptors that say which methods stream. Any service set works: `base.v1`, health, our own packages.
 */
export function methodEntries(
  handlers: Readonly<Record<string, unknown>>,
  services: readonly { readonly typeName: string; readonly methods: readonly { name: string; methodKind: string }[] }[],
): Map<string, MethodEntry> {
  const out = new Map<string, MethodEntry>();
  for (const desc of services) {
    const impl = handlers[desc.typeName] as Record<string, unknown> | undefined;
    if (impl === undefined) continue;
    for (const m of desc.methods) {
      const handler = impl[m.name];
      if (typeof handler !== 'function') continue;
      const rpc = `${desc.typeName}/${m.name}`;
      out.set(rpc, {
        service: desc.typeName,
        method: m.name,
        rpc,
        streaming: m.methodKind !== 'unary',
        handler: handler as AnyUnary,
      });
    }
  }
  return out;
}

/** The PermifyError a call ends with; an abort caused by a passed deadline is DEADLINE_EXCEEDED. */
export function normaliseError(e: unknown, call: Call): PermifyError {
  const err = toPermifyError(e);
  if (err.code === 'ERROR_CODE_CANCELLED' && call.deadlineExceeded()) {
    return toPermifyError(new DOMException('deadline exceeded', 'TimeoutError'));
  }
  return err;
}

export function createPipeline(methods: Map<string, MethodEntry>, interceptors: readonly Interceptor[]): Pipeline {
  const befores = interceptors.flatMap((i) => (i.before ? [i.before.bind(i)] : []));
  const afters = interceptors.flatMap((i) => (i.after ? [i.after.bind(i)] : []));

  const finish = (call: Call, error: PermifyError | undefined): void => {
    for (const a of afters) a(call, error);
  };

  async function admit(call: Call, request: unknown): Promise<void> {
    for (const b of befores) {
      const r = b(call, request);
      if (r !== undefined) await r;
    }
  }

  return {
    methods,
    admit: (call) => admit(call, undefined),
    async unary(call, decode) {
      let error: PermifyError | undefined;
      try {
        const request = decode();
        await admit(call, request);
        return await (call.entry.handler as AnyUnary)(request, call);
      } catch (e) {
        error = normaliseError(e, call);
        throw error;
      } finally {
        finish(call, error);
      }
    },
    async *stream(call, decode) {
      let error: PermifyError | undefined;
      try {
        await admit(call, undefined);
        yield* (call.entry.handler as AnyStreaming)(decode(), call);
      } catch (e) {
        error = normaliseError(e, call);
        throw error;
      } finally {
        finish(call, error);
      }
    },
  };
}

const statusNames: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(GrpcStatus).map(([k, v]) => [v, k]),
);

/** The gRPC status name of a call's outcome (`OK` when it succeeded). */
export function statusName(error: PermifyError | undefined): string {
  return error === undefined ? 'OK' : (statusNames[error.grpcStatus as GrpcStatusCode] ?? 'UNKNOWN');
}
