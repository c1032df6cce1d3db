/**
 * The observability interceptor alone (api/pipeline/tracing.ts), driven by hand the way the pipeline drives
 * it: calls in flight go back to 0, a call whose decoding failed counts as refused and is not in flight, an
 * admission-only route (`/healthz`, `/metrics`: `before` without `after`) leaves nothing open, and spans are
 * exported only for sampled calls.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { context, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { PermifyError } from '../../src/errors.js';
import { Call, type MethodEntry } from '../../src/api/pipeline/invoke.js';
import { observability } from '../../src/api/pipeline/tracing.js';
import { installContextManager } from '../../src/observability/context.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';

const CHECK: MethodEntry = { service: 'base.v1.Permission', method: 'Check', rpc: 'base.v1.Permission/Check', streaming: false, handler: async () => undefined };
const WATCH: MethodEntry = { service: 'base.v1.Watch', method: 'Watch', rpc: 'base.v1.Watch/Watch', streaming: true, handler: async () => undefined };
const HEALTH: MethodEntry = { service: 'grpc.health.v1.Health', method: 'Check', rpc: 'grpc.health.v1.Health/Check', streaming: false, handler: async () => undefined };
const noLog = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

class TestCall extends Call {
  constructor(
    entry: MethodEntry,
    private readonly hdrs: Record<string, string> = {},
  ) {
    super(entry, 'grpc', noLog as never);
  }
  header(name: string): string | undefined {
    return this.hdrs[name];
  }
  headers(): Record<string, string> {
    return { ...this.hdrs };
  }
  get signal(): AbortSignal {
    return new AbortController().signal;
  }
}

const request = { $typeName: 'base.v1.PermissionCheckRequest', tenantId: 't1' };

function setup(sampleRate: number): { metrics: Metrics; exporter: InMemorySpanExporter; provider: TracerProvider; interceptor: ReturnType<typeof observability> } {
  installContextManager();
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const metrics = createMetrics({ runtime: false });
  const interceptor = observability({ tracer: provider.getTracer('test'), tracing: true, sampleRate, metrics });
  return { metrics, exporter, provider, interceptor };
}

const line = (text: string, prefix: string): string | undefined => text.split('\n').find((l) => l.startsWith(prefix));

describe('observability interceptor', () => {
  const opened: { metrics: Metrics; provider: TracerProvider }[] = [];
  afterEach(async () => {
    for (const o of opened.splice(0)) await Promise.all([o.metrics.shutdown(), o.provider.shutdown()]);
  });

  it('unsampled calls: in flight while running, back to 0 after, no span', async () => {
    const s = setup(0);
    opened.push(s);
    const calls = [new TestCall(CHECK), new TestCall(CHECK), new TestCall(WATCH)];
    for (const c of calls) await s.interceptor.before?.(c, c.entry.streaming ? undefined : request);
    let text = await s.metrics.render();
    expect(line(text, 'permify_requests_in_flight{transport="grpc",rpc="base.v1.Permission/Check"}')).toBe('permify_requests_in_flight{transport="grpc",rpc="base.v1.Permission/Check"} 2');
    for (const c of calls) s.interceptor.after?.(c, undefined);
    text = await s.metrics.render();
    expect(line(text, 'permify_requests_in_flight{transport="grpc",rpc="base.v1.Permission/Check"}')).toMatch(/ 0$/);
    expect(line(text, 'permify_requests_in_flight{transport="grpc",rpc="base.v1.Watch/Watch"}')).toMatch(/ 0$/);
    expect(s.exporter.getFinishedSpans()).toHaveLength(0);
    expect(trace.getSpan(context.active())).toBeUndefined();
  });

  it('a unary call whose decoding failed (after without before) is refused, not in flight; sampled, it still gets a span', async () => {
    const s = setup(1);
    opened.push(s);
    const ok = new TestCall(CHECK);
    await s.interceptor.before?.(ok, request);
    s.interceptor.after?.(ok, undefined);
    s.interceptor.after?.(new TestCall(CHECK), new PermifyError('ERROR_CODE_VALIDATION', 'invalid JSON body'));
    await new Promise((r) => setImmediate(r));
    const text = await s.metrics.render();
    expect(text).toContain('permify_rejected_total{code="ERROR_CODE_VALIDATION"} 1\n');
    expect(line(text, 'permify_requests_in_flight{transport="grpc",rpc="base.v1.Permission/Check"}')).toMatch(/ 0$/);
    const spans = s.exporter.getFinishedSpans();
    expect(spans.map((x) => x.status.code)).toEqual([0, 2]);
    expect(spans[1]?.attributes['permify.code']).toBe('ERROR_CODE_VALIDATION');
    expect(spans[0]?.attributes['permify.tenant_id']).toBe('t1');
  });

  it('an admitted call is not counted as refused; a second before for the same unary call counts once', async () => {
    const s = setup(0);
    opened.push(s);
    const c = new TestCall(CHECK);
    await s.interceptor.before?.(c, request);
    await s.interceptor.before?.(c, request);
    s.interceptor.after?.(c, new PermifyError('ERROR_CODE_VALIDATION', 'bad'));
    const text = await s.metrics.render();
    expect(text).not.toContain('permify_rejected_total{code="ERROR_CODE_VALIDATION"}');
    expect(line(text, 'permify_requests_in_flight{transport="grpc",rpc="base.v1.Permission/Check"}')).toMatch(/ 0$/);
  });

  it('admission-only routes (before, never after) leave no call in flight and no span entered', async () => {
    const s = setup(1);
    opened.push(s);
    await s.interceptor.before?.(new TestCall(HEALTH), undefined);
    const text = await s.metrics.render();
    expect(text).not.toContain('rpc="grpc.health.v1.Health/Check"');
    expect(trace.getSpan(context.active())).toBeUndefined();
  });

  it('a caller traceparent is followed even at sample rate 0', async () => {
    const s = setup(0);
    opened.push(s);
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const c = new TestCall(CHECK, { traceparent: `00-${traceId}-b7ad6b7169203331-01` });
    await s.interceptor.before?.(c, request);
    s.interceptor.after?.(c, undefined);
    await new Promise((r) => setImmediate(r));
    const spans = s.exporter.getFinishedSpans();
    expect(spans).toHaveLength(1);
    expect(spans[0]?.spanContext().traceId).toBe(traceId);
  });
});
