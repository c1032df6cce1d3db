/**
 * Connect and gRPC-Web for browsers, served by @connectrpc/connect-node on the REST gateway's HTTP port under
 * `/connect/` (HTTP/1.1; e.g. `POST /connect/base.v1.Permission/Check`). connect-node only frames messages:
 * every call runs through the same call pipeline as gRPC and REST (validation, rate limit, authentication,
 * metrics, logging), with the caller's `Authorization` header, `Connect-Timeout-Ms` / `Grpc-Timeout`
 * deadline and cancellation taken from connect-node's context. The gRPC protocol itself stays on the gRPC
 * port (@grpc/grpc-js): connect-node's gRPC handler costs several times the CPU per call on Node 20.
 *
 * Errors keep Permify's codes and messages: a PermifyError becomes a ConnectError with the same gRPC code
 * (Connect's codes are gRPC's) and message.
 */
import type { DescMethod, DescService } from '@bufbuild/protobuf';
import { Code, ConnectError, type ConnectRouter, type HandlerContext as ConnectContext } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import type * as http from 'node:http';
import { toPermifyError } from '../../errors.js';
import type { HandlerLogger } from '../handlers/types.js';
import { jsonRegistry } from '../rest/json.js';
import { Call, type MethodEntry, type Pipeline } from '../pipeline/invoke.js';

/** The path prefix of the Connect and gRPC-Web endpoints on the HTTP port. */
export const CONNECT_PATH_PREFIX = '/connect';

/** A Connect or gRPC-Web call in the pipeline; headers and signal come from connect-node's context. */
class ConnectCall extends Call {
  constructor(
    entry: MethodEntry,
    logger: HandlerLogger,
    private readonly context: ConnectContext,
  ) {
    super(entry, 'connect', logger);
  }

  header(name: string): string | undefined {
    return this.context.requestHeader.get(name) ?? undefined;
  }

  headers(): Record<string, string> {
    const out: Record<string, string> = {};
    this.context.requestHeader.forEach((v, k) => (out[k] = v));
    return out;
  }

  get signal(): AbortSignal {
    return this.context.signal;
  }

  override deadlineExceeded(): boolean {
    const reason: unknown = this.context.signal.aborted ? this.context.signal.reason : undefined;
    return reason instanceof ConnectError && reason.code === Code.DeadlineExceeded;
  }
}

function toConnectError(e: unknown): ConnectError {
  if (e instanceof ConnectError) return e;
  const err = toPermifyError(e);
  return new ConnectError(err.message, err.grpcStatus as number as Code);
}

export interface ConnectHandlerOptions {
  readonly pipeline: Pipeline;
  readonly services: readonly DescService[];
  readonly logger: HandlerLogger;
  /** Largest request message (`server.http.max_body_size`). */
  readonly maxBodyBytes: number;
}

/** The request listener of `/connect/...` paths (returns false for any other path, untouched). */
export function createConnectHandler(
  opts: ConnectHandlerOptions,
): (req: http.IncomingMessage, res: http.ServerResponse) => boolean {
  const { pipeline, logger } = opts;
  const routes = (router: ConnectRouter): void => {
    for (const service of opts.services) {
      for (const method of service.methods) {
        const entry = pipeline.methods.get(`${service.typeName}/${method.name}`);
        if (entry === undefined) continue;
        register(router, method, entry);
      }
    }
  };
  function register(router: ConnectRouter, method: DescMethod, entry: MethodEntry): void {
    if (method.methodKind === 'unary') {
      router.rpc(method, (async (request: unknown, context: ConnectContext) => {
        try {
          return await pipeline.unary(new ConnectCall(entry, logger, context), () => request);
        } catch (e) {
          throw toConnectError(e);
        }
      }) as never);
    } else if (method.methodKind === 'server_streaming') {
      router.rpc(method, async function* (request: unknown, context: ConnectContext) {
        try {
          yield* pipeline.stream(new ConnectCall(entry, logger, context), () => request) as AsyncIterable<never>;
        } catch (e) {
          throw toConnectError(e);
        }
      } as never);
    }
    // Client and bidirectional streams need HTTP/2 end to end; browsers reach them over REST (NDJSON).
  }
  const handler = connectNodeAdapter({
    routes,
    requestPathPrefix: CONNECT_PATH_PREFIX,
    readMaxBytes: opts.maxBodyBytes,
    jsonOptions: { registry: jsonRegistry, ignoreUnknownFields: true },
    grpc: false,
  });
  return (req, res) => {
    const url = req.url ?? '';
    if (!url.startsWith(`${CONNECT_PATH_PREFIX}/`)) return false;
    handler(req, res);
    return true;
  };
}
