/**
 * Wraps every handler of the map to count finished calls and their duration (by gRPC status name) and to
 * log one `debug` line per call. Used for the gRPC transport; the REST gateway measures its own requests.
 */
import { GrpcStatus, toPermifyError } from '../errors.js';
import { services, type HandlerContext, type HandlerLogger, type Handlers } from '../api/handlers/types.js';
import type { Metrics } from './metrics.js';

const statusName: Record<number, string> = Object.fromEntries(Object.entries(GrpcStatus).map(([k, v]) => [v, k]));

export function instrumentHandlers(handlers: Handlers, metrics: Metrics, logger: HandlerLogger): Handlers {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [service, methods] of Object.entries(handlers as unknown as Record<string, Record<string, unknown>>)) {
    const wrapped: Record<string, unknown> = {};
    for (const [name, fn] of Object.entries(methods)) {
      const rpc = `${service}/${name}`;
      const done = (started: number, e?: unknown): void => {
        const code = e === undefined ? 'OK' : (statusName[toPermifyError(e).grpcStatus] ?? 'UNKNOWN');
        const seconds = (performance.now() - started) / 1000;
        metrics.observe('grpc', rpc, code, seconds);
        logger.debug({ transport: 'grpc', rpc, code, ms: seconds * 1000 }, 'call finished');
      };
      const desc = services[service as keyof typeof services];
      const isStreaming = desc.methods.find((m) => m.name === name)?.methodKind !== 'unary';
      wrapped[name] = isStreaming
        ? async function* (request: unknown, ctx: HandlerContext) {
            const started = performance.now();
            try {
              yield* (fn as (r: unknown, c: HandlerContext) => AsyncIterable<unknown>)(request, ctx);
              done(started);
            } catch (e) {
              done(started, e);
              throw e;
            }
          }
        : async (request: unknown, ctx: HandlerContext) => {
            const started = performance.now();
            try {
              const r = await (fn as (r: unknown, c: HandlerContext) => Promise<unknown>)(request, ctx);
              done(started);
              return r;
            } catch (e) {
              done(started, e);
              throw e;
            }
          };
    }
    out[service] = wrapped;
  }
  return out as unknown as Handlers;
}
