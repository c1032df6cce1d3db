/**
 * The observability interceptor of the call pipeline: one server span per call (every transport, refused
 * calls included), calls in flight, and calls refused before their handler. Registered FIRST, so that its
 * `before` runs before validation and admission and its span covers them.
 *
 * The span's parent is the caller's W3C `traceparent`/`tracestate` (gRPC metadata or HTTP headers) or none;
 * never whatever context happens to be current. A sampled call's context is registered under the call's
 * signal (observability/context.ts), so spans started by the layers the handler calls (schema resolution,
 * engine, storage) are its descendants; its logger is replaced by one that adds the trace and span ids to
 * every line. Attributes: `rpc.system`/`rpc.service`/`rpc.method`, `permify.transport`, `permify.tenant_id`,
 * the request's `permify.snap_token` and `permify.schema_version` (the engine span adds the ones used and
 * the check count), `rpc.grpc.status_code`, and for REST `http.response.status_code`; a failed call has
 * status ERROR with the Permify error code.
 *
 * An unsampled call (or any call with tracing off) builds nothing and keeps nothing but an entry in a Set
 * while a unary call runs (to tell a decoding failure, which never reached `before`, from an admitted call);
 * the sampling decision is one random number, and no context is entered anywhere. Calls in flight are plain
 * counters in the metrics registry.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, type Attributes, type Span, type TextMapGetter, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { PermifyError } from '../../errors.js';
import { closeCallScope, openCallScope, withRpcSpan } from '../../observability/context.js';
import type { HandlerLogger } from '../handlers/types.js';
import type { Metrics } from '../../observability/metrics.js';
import { statusName, type Call, type Interceptor } from './invoke.js';

const propagator = new W3CTraceContextPropagator();
const getter: TextMapGetter<Call> = {
  keys: () => ['traceparent', 'tracestate'],
  get: (call, key) => call.header(key),
};

/** `logger` with the trace and span ids added to every line (and so to the OTLP log records made of them). */
function tracedLogger(logger: HandlerLogger, span: Span): HandlerLogger {
  const { traceId, spanId } = span.spanContext();
  const ids = { trace_id: traceId, span_id: spanId };
  return {
    debug: (obj, msg) => logger.debug({ ...ids, ...obj }, msg),
    info: (obj, msg) => logger.info({ ...ids, ...obj }, msg),
    warn: (obj, msg) => logger.warn({ ...ids, ...obj }, msg),
    error: (obj, msg) => logger.error({ ...ids, ...obj }, msg),
  };
}

const RPC_SYSTEM: Readonly<Record<string, string>> = { grpc: 'grpc', connect: 'connect_rpc', rest: 'http' };

/** Admission refusals: the handler never ran. */
function refusedBeforeHandler(error: PermifyError, admitted: boolean): boolean {
  return !admitted || error.code === 'RATE_LIMITED' || statusName(error) === 'UNAUTHENTICATED';
}

function requestAttributes(request: unknown, into: Attributes): void {
  if (request === null || typeof request !== 'object') return;
  const r = request as { tenantId?: unknown; metadata?: { snapToken?: unknown; schemaVersion?: unknown; depth?: unknown } };
  if (typeof r.tenantId === 'string' && r.tenantId !== '') into['permify.tenant_id'] = r.tenantId;
  const m = r.metadata;
  if (m !== undefined && m !== null && typeof m === 'object') {
    if (typeof m.snapToken === 'string' && m.snapToken !== '') into['permify.snap_token'] = m.snapToken;
    if (typeof m.schemaVersion === 'string' && m.schemaVersion !== '') into['permify.schema_version'] = m.schemaVersion;
    if (typeof m.depth === 'number' && m.depth > 0) into['permify.depth'] = m.depth;
  }
}

export interface ObservabilityInterceptorOptions {
  readonly tracer: Tracer;
  /** False: no spans (the tracer is a no-op); in-flight and refusal metrics still count. */
  readonly tracing: boolean;
  /**
   * Share of calls without a caller traceparent that start a trace (`tracer.sample_rate`, default 1). Decided
   * here, before anything is built, so that an unsampled call costs one random number; a caller's
   * traceparent is followed (its sampled flag decides, via the provider's parent-based sampler).
   */
  readonly sampleRate?: number;
  readonly metrics: Metrics;
}

export function observability(options: ObservabilityInterceptorOptions): Interceptor {
  const { tracer, tracing, metrics } = options;
  const sampleRate = options.sampleRate ?? 1;
  /** A new call is traced: it has a caller traceparent, or it falls within the sample rate. */
  const sampled = (call: Call): boolean =>
    call.header('traceparent') !== undefined || (sampleRate >= 1 ? true : sampleRate > 0 && Math.random() < sampleRate);
  /**
   * Unary calls between `before` and `after`: a unary call whose decoding failed reaches `after` without
   * `before`, and is then counted as refused and not in flight. A Set (strong, emptied by `after`, which the
   * pipeline always runs for unary calls) instead of a WeakMap: its entries cost no ephemeron work in the GC.
   * Streams need no entry: their `before` runs first thing in the pipeline, so `after` implies it.
   */
  const openUnary = new Set<Call>();
  /** The server span of each SAMPLED call and the signal its scope is registered under (unsampled calls keep nothing). */
  const spans = new WeakMap<Call, { readonly span: Span; readonly signal: AbortSignal }>();
  /** Sampled calls open: while 0, `after` does not even look a call up. */
  let openSpans = 0;

  const startSpan = (call: Call, request: unknown, startTime?: number): Span | undefined => {
    const parent = propagator.extract(ROOT_CONTEXT, call, getter);
    const entry = call.entry;
    const span = tracer.startSpan(
      entry.rpc,
      { kind: SpanKind.SERVER, ...(startTime !== undefined ? { startTime } : {}) },
      parent,
    );
    if (!span.isRecording()) {
      // A caller's traceparent without the sampled flag: nothing is kept.
      span.end();
      return undefined;
    }
    const attrs: Attributes = {
      'rpc.system': RPC_SYSTEM[call.transport] ?? call.transport,
      'rpc.service': entry.service,
      'rpc.method': entry.method,
      'permify.transport': call.transport,
    };
    requestAttributes(request, attrs);
    span.setAttributes(attrs);
    return span;
  };

  const endSpan = (call: Call, span: Span, error: PermifyError | undefined): void => {
    const code = statusName(error);
    span.setAttribute('rpc.grpc.status_code', error === undefined ? 0 : error.grpcStatus);
    span.setAttribute('permify.code', error === undefined ? 'OK' : String(error.code));
    if (call.transport === 'rest') span.setAttribute('http.response.status_code', error === undefined ? 200 : error.httpStatus);
    if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: `${code}: ${String(error.code)}` });
    span.end();
  };

  return {
    before(call, request) {
      const streaming = call.entry.streaming;
      // Admission only (`/healthz`, `/metrics`: `Pipeline.admit`, no `after` follows): the transport counts
      // those itself; a span or an in-flight count started here would never end.
      if (request === undefined && !streaming) return;
      if (!streaming) {
        const n = openUnary.size;
        if (openUnary.add(call).size === n) return;
      }
      metrics.inFlight(call.transport, call.entry.rpc, 1);
      if (!tracing) return;
      if (!sampled(call)) return;
      const span = startSpan(call, request);
      if (span === undefined) return;
      // The handler passes this signal to what it calls; the transport creates it on first use.
      const signal = call.signal;
      openCallScope(signal, withRpcSpan(ROOT_CONTEXT, span));
      call.logger = tracedLogger(call.logger, span);
      spans.set(call, { span, signal });
      openSpans++;
    },
    after(call, error) {
      const admitted = call.entry.streaming || openUnary.delete(call);
      if (admitted) metrics.inFlight(call.transport, call.entry.rpc, -1);
      if (error !== undefined && refusedBeforeHandler(error, admitted)) metrics.rejected(String(error.code));
      if (!tracing) return;
      if (admitted) {
        if (openSpans === 0) return;
        const open = spans.get(call);
        if (open === undefined) return;
        spans.delete(call);
        openSpans--;
        // Before the transport can hand the signal to another call.
        closeCallScope(open.signal);
        endSpan(call, open.span, error);
        return;
      }
      // A call refused while decoding never reached `before`: its span starts when the call did.
      if (!sampled(call)) return;
      const span = startSpan(call, undefined, performance.timeOrigin + call.startedMs);
      if (span !== undefined) endSpan(call, span, error);
    },
  };
}
