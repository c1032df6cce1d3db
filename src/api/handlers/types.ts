/**
 * Transport-free handler types. Every RPC of the public services is one function
 * `(request, ctx) => Promise<response>` (unary) or `(request, ctx) => AsyncIterable<response>` (server
 * streaming) or `(requests, ctx) => AsyncIterable<response>` (bidirectional streaming). The {@link Handlers} map is derived from the generated service descriptors, so a missing or
 * mistyped RPC is a compile error.
 */
import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import { Bundle, Data, Permission, Schema, Tenancy, Watch } from '../gen/base/v1/service_pb.js';
import { Explain } from '../gen/permifyts/v1/explain_pb.js';
import { Data as BulkData } from '../gen/permifyts/v1/data_pb.js';

/** Logger shape the handlers use (a pino Logger satisfies it). */
export interface HandlerLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Per-call context supplied by the transport. */
export interface HandlerContext {
  /** Aborts when the client cancels or the deadline passes; handlers pass it to every I/O call. */
  readonly signal: AbortSignal;
  readonly requestId: string;
  readonly logger: HandlerLogger;
  /** Authenticated caller, when authentication is on. */
  readonly principal?: string;
}

type MethodHandler<M> = M extends {
  methodKind: 'unary';
  input: infer I extends DescMessage;
  output: infer O extends DescMessage;
}
  ? (request: MessageShape<I>, ctx: HandlerContext) => Promise<MessageShape<O>>
  : M extends {
        methodKind: 'server_streaming';
        input: infer I extends DescMessage;
        output: infer O extends DescMessage;
      }
    ? (request: MessageShape<I>, ctx: HandlerContext) => AsyncIterable<MessageShape<O>>
    : M extends {
          methodKind: 'bidi_streaming';
          input: infer I extends DescMessage;
          output: infer O extends DescMessage;
        }
      ? (requests: AsyncIterable<MessageShape<I>>, ctx: HandlerContext) => AsyncIterable<MessageShape<O>>
      : never;

/** Handlers of one service, keyed by the proto method name (`Check`, `LookupEntityStream`, ...). */
export type ServiceHandlers<S> =
  S extends GenService<infer R extends GenServiceMethods>
    ? { [K in keyof R & string as Capitalize<K>]: MethodHandler<R[K]> }
    : never;

/** The public services' descriptors, keyed by full service name. */
export const services = {
  'base.v1.Permission': Permission,
  'base.v1.Schema': Schema,
  'base.v1.Data': Data,
  'base.v1.Bundle': Bundle,
  'base.v1.Tenancy': Tenancy,
  'base.v1.Watch': Watch,
  'permifyts.v1.Explain': Explain,
  // permify-ts's own package: services beside Permify's, registered on both transports like base.v1.
  'permifyts.v1.Data': BulkData,
} as const;

export type ServiceName = keyof typeof services;

/** Every handler of every public service: service full name -> method name -> handler. */
export type Handlers = { readonly [S in ServiceName]: ServiceHandlers<(typeof services)[S]> };
