/**
 * The observability interceptor of the call pipeline: one server span per call (every transport, refused
 * calls included), calls in flight, and calls refused before their handler. Registered FIRST, so that its
 * `before` runs before validation and admission and its span covers them.
 *
 * The span's parent is the caller's W3C `traceparent`/`tracestate` (gRPC metadata or HTTP headers) or none;
 * never whatever context happens to be current. Its context is entered for the rest of the call, so spans
 * started by the handler (schema resolution, engine, storage) are its children and log lines carry its
 * trace id. Attributes: `rpc.system`/`rpc.service`/`rpc.method`, `permify.transport`, `permify.tenant_id`,
 * the request's `permify.snap_token` and `permify.schema_version` (the engine span adds the ones used and
 * the check count), `rpc.grpc.status_code`, and for REST `http.response.status_code`; a failed call has
 * status ERROR with the Permify error code. When the sampler drops the call nothing but an id is built, and
 * no context is entered (see observability/context.ts: context propagation is only on during sampled calls).
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, type Attributes, type Span, type TextMapGetter, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { PermifyError } from '../../errors.js';
import { enterCall, enterUnsampledCall, leaveCall, withRpcSpan } from '../../observability/context.js';
import type { Metrics } from '../../observability/metrics.js';
import { statusName, type Call, type Interceptor } from './invoke.js';

const propagator = new W3CTraceContextPropagator();
const getter: TextMapGetter<Call> = {
  keys: () => ['traceparent', 'tracestate'],
  get: (call, key) => call.header(key),
};

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
  const sampled = (call: Call): boolean => call.header('traceparent') !== undefined || Math.random() < sampleRate;
  const spans = new WeakMap<Call, Span | null>();

  const startSpan = (call: Call, request: unknown, startTime?: number): Span => {
    const parent = propagator.extract(ROOT_CONTEXT, call, getter);
    const entry = call.entry;
    const span = tracer.startSpan(
      entry.rpc,
      { kind: SpanKind.SERVER, ...(startTime !== undefined ? { startTime } : {}) },
      parent,
    );
    if (!span.isRecording()) {
      enterUnsampledCall();
      return span;
    }
    const attrs: Attributes = {
      'rpc.system': RPC_SYSTEM[call.transport] ?? call.transport,
      'rpc.service': entry.service,
      'rpc.method': entry.method,
      'permify.transport': call.transport,
    };
    requestAttributes(request, attrs);
    span.setAttributes(attrs);
    enterCall(withRpcSpan(parent, span));
    return span;
  };

  return {
    before(call, request) {
      if (spans.has(call)) return;
      metrics.inFlight(call.transport, call.entry.rpc, 1);
      if (tracing && sampled(call)) {
        spans.set(call, startSpan(call, request));
      } else {
        spans.set(call, null);
        if (tracing) enterUnsampledCall();
      }
    },
    after(call, error) {
      const admitted = spans.has(call);
      if (admitted) metrics.inFlight(call.transport, call.entry.rpc, -1);
      if (error !== undefined && refusedBeforeHandler(error, admitted)) metrics.rejected(String(error.code));
      if (!tracing) return;
      let span = spans.get(call);
      if (span === null) return;
      // A call refused while decoding never reached `before`: its span starts when the call did.
      if (span === undefined) {
        if (!sampled(call)) return;
        span = startSpan(call, undefined, performance.timeOrigin + call.startedMs);
      }
      if (span.isRecording()) {
        const code = statusName(error);
        span.setAttribute('rpc.grpc.status_code', error === undefined ? 0 : error.grpcStatus);
        span.setAttribute('permify.code', error === undefined ? 'OK' : String(error.code));
        if (call.transport === 'rest') span.setAttribute('http.response.status_code', error === undefined ? 200 : error.httpStatus);
        if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: `${code}: ${String(error.code)}` });
        span.end();
        // After the other `after` hooks (they run synchronously next): the call's log line keeps its trace id.
        queueMicrotask(leaveCall);
        return;
      }
      span.end();
    },
  };
}
