import * as http from 'node:http';
import { ValueType, type Attributes, type Counter, type HrTime, type Meter } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  type CollectionResult,
  type DataPoint,
  type Histogram,
  type MetricData,
  type MetricProducer,
  type MetricReader,
} from '@opentelemetry/sdk-metrics';
import { emptyResource, type Resource } from '@opentelemetry/resources';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { registerRuntimeMetrics } from './runtime-metrics.js';
import { listenSide, type SideListener } from './side-listener.js';

/**
 * The process's metrics: ONE set of OpenTelemetry instruments (plus {@link RequestMetrics}, the per-call
 * families kept as plain numbers and handed to the readers as a metric producer) read by two readers, the
 * Prometheus text at `GET /metrics` (on the HTTP port behind authentication, or on `server.metrics.address`)
 * and, when `meter.enabled`, an OTLP push every `meter.interval` seconds. Names are stable and Prometheus-style
 * (`permify_*`, `process_*`, `nodejs_*`), so the same name is seen in both places (OTLP without the
 * `_total` suffix Prometheus adds to counters):
 *
 * - `permify_requests_total{transport,rpc,code}`: finished calls (gRPC/Connect by status name, REST by HTTP
 *   status); `permify_request_duration_seconds{transport,rpc,code}`: histogram of their duration;
 * - `permify_requests_in_flight{transport,rpc}`; `permify_rate_limited_total`; `permify_rejected_total{code}`
 *   (calls refused before their handler: malformed, invalid, unauthenticated, rate limited);
 * - families registered by the other modules of this folder (engine caches, storage, pools, read model,
 *   watch streams, garbage collection) and the process/runtime metrics (runtime-metrics.ts).
 */
export interface Metrics {
  /** The meter every module registers its instruments on. */
  readonly meter: Meter;
  observe(transport: 'grpc' | 'rest' | 'connect', rpc: string, code: string, seconds: number): void;
  rateLimited(): void;
  /** A call refused before its handler ran, by its Permify error code. */
  rejected(code: string): void;
  /** +1 when a call starts, -1 when it ends. */
  inFlight(transport: string, rpc: string, delta: 1 | -1): void;
  /**
   * Adds lines (complete Prometheus text: HELP, TYPE, samples) that `collect` renders at each scrape, for
   * state that is not an instrument; returns the function that removes it. Only the Prometheus endpoint
   * sees these lines.
   */
  addCollector(collect: () => readonly string[]): () => void;
  /** Prometheus text exposition format 0.0.4. */
  render(): Promise<string>;
  /** Final OTLP push, then stops the readers. Idempotent. */
  shutdown(): Promise<void>;
}

/**
 * A reader built around the registry's own producers (the request families): telemetry.ts creates the OTLP
 * push reader this way, because a reader takes its extra producers when constructed.
 */
export type MetricReaderFactory = (producers: MetricProducer[]) => MetricReader;

export interface MetricsOptions {
  /**
   * More readers of the same instruments (the OTLP push). Give a factory: a plain reader sees the
   * instruments of {@link Metrics.meter} but not the request families, which are not instruments.
   */
  readonly readers?: readonly (MetricReader | MetricReaderFactory)[];
  readonly resource?: Resource;
  /** Process and Node runtime metrics (default true). */
  readonly runtime?: boolean;
}

/** Request duration buckets, seconds: sub-millisecond cached checks up to calls near a 10 s deadline. */
export const requestDurationBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Puts each histogram series in the order the Prometheus client libraries write, `_bucket` lines then `_sum`
 * then `_count` (the OTel serializer writes count and sum first, which simple parsers mis-read or reject).
 * Other lines are kept as they are.
 */
export function conventionalHistogramOrder(text: string): string {
  const out: string[] = [];
  let histogram: string | undefined;
  let pending: string[] = [];
  const flush = (): void => {
    const name = histogram as string;
    const rank = (l: string): number => (l.startsWith(`${name}_bucket`) ? 0 : l.startsWith(`${name}_sum`) ? 1 : 2);
    // A series is its label set without `le`; the sort is stable, so buckets keep their order.
    const series = (l: string): string => {
      const open = l.indexOf('{');
      return open < 0 ? '' : l.slice(open + 1, l.lastIndexOf('}')).replace(/,?le="[^"]*"$/, '');
    };
    const first = new Map<string, number>();
    for (const l of pending) if (!first.has(series(l))) first.set(series(l), first.size);
    pending.sort((a, b) => (first.get(series(a)) as number) - (first.get(series(b)) as number) || rank(a) - rank(b));
    out.push(...pending);
    pending = [];
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') {
      if (pending.length > 0) flush();
      const m = /^# TYPE (\S+) (\S+)/.exec(line);
      if (m) histogram = m[2] === 'histogram' ? m[1] : undefined;
      out.push(line);
    } else if (histogram !== undefined) {
      pending.push(line);
    } else {
      out.push(line);
    }
  }
  if (pending.length > 0) flush();
  return out.join('\n');
}

/** One (transport, rpc, code) series: a counter and a histogram kept as plain numbers. */
interface RequestSeries {
  readonly attributes: Attributes;
  readonly startTime: HrTime;
  count: number;
  sum: number;
  min: number;
  max: number;
  /** Per bucket (not cumulative), the last one above the highest boundary. */
  readonly buckets: number[];
}

/** The state of one (transport, rpc): calls in flight and the series of its finished calls by code. */
interface RpcState {
  readonly transport: string;
  readonly rpc: string;
  inFlight: number;
  /** Set when in-flight first moved: the series exists from then on, like an up-down counter's. */
  inFlightStart: HrTime | undefined;
  readonly byCode: Map<string, RequestSeries>;
}

const REQUESTS = { name: 'permify_requests', description: 'Finished calls by transport, RPC and status (gRPC status name; HTTP status for REST).', unit: '', valueType: ValueType.INT };
const DURATION = { name: 'permify_request_duration_seconds', description: 'Time spent handling calls, by transport, RPC and status.', unit: '', valueType: ValueType.DOUBLE };
const IN_FLIGHT = { name: 'permify_requests_in_flight', description: 'Calls being handled, by transport and RPC.', unit: '', valueType: ValueType.INT };

/**
 * The per-call families (`permify_requests`, `permify_request_duration_seconds`, `permify_requests_in_flight`)
 * without OpenTelemetry instruments on the hot path. An instrument record hashes its attribute set on every
 * call (sorted keys, a string key per record); with three or four records per call that was 6-8 % of the CPU
 * of a cached Check. Here a call does two lookups in nested maps keyed by the interned transport and RPC
 * names, then plain arithmetic; the readers (the Prometheus scrape, the OTLP push) ask this producer at
 * collection time, and it answers the same data an SDK counter, histogram and up-down counter would
 * (cumulative sums and explicit-bucket histograms, same names, attributes and boundaries).
 */
export class RequestMetrics implements MetricProducer {
  readonly #byTransport = new Map<string, Map<string, RpcState>>();
  readonly #boundaries: readonly number[];
  readonly #resource: Resource;

  constructor(boundaries: readonly number[], resource?: Resource) {
    this.#boundaries = boundaries;
    this.#resource = resource ?? emptyResource();
  }

  #state(transport: string, rpc: string): RpcState {
    let byRpc = this.#byTransport.get(transport);
    if (byRpc === undefined) this.#byTransport.set(transport, (byRpc = new Map()));
    let state = byRpc.get(rpc);
    if (state === undefined) {
      state = { transport, rpc, inFlight: 0, inFlightStart: undefined, byCode: new Map() };
      byRpc.set(rpc, state);
    }
    return state;
  }

  observe(transport: string, rpc: string, code: string, seconds: number): void {
    const state = this.#state(transport, rpc);
    let s = state.byCode.get(code);
    if (s === undefined) {
      s = {
        attributes: { transport, rpc, code },
        startTime: millisToHrTime(Date.now()),
        count: 0,
        sum: 0,
        min: Infinity,
        max: -Infinity,
        buckets: new Array<number>(this.#boundaries.length + 1).fill(0),
      };
      state.byCode.set(code, s);
    }
    s.count++;
    s.sum += seconds;
    if (seconds < s.min) s.min = seconds;
    if (seconds > s.max) s.max = seconds;
    // Upper bounds are inclusive (Prometheus `le`); most calls land in the first buckets.
    const b = this.#boundaries;
    let i = 0;
    while (i < b.length && seconds > (b[i] as number)) i++;
    (s.buckets[i] as number)++;
  }

  inFlight(transport: string, rpc: string, delta: number): void {
    const state = this.#state(transport, rpc);
    state.inFlight += delta;
    state.inFlightStart ??= millisToHrTime(Date.now());
  }

  /** The three families as cumulative metric data (copies: a reader may serialise them later). */
  collect(): Promise<CollectionResult> {
    const endTime = millisToHrTime(Date.now());
    const requests: DataPoint<number>[] = [];
    const durations: DataPoint<Histogram>[] = [];
    const inFlight: DataPoint<number>[] = [];
    for (const byRpc of this.#byTransport.values()) {
      for (const state of byRpc.values()) {
        if (state.inFlightStart !== undefined) {
          inFlight.push({ startTime: state.inFlightStart, endTime, attributes: { transport: state.transport, rpc: state.rpc }, value: state.inFlight });
        }
        for (const s of state.byCode.values()) {
          requests.push({ startTime: s.startTime, endTime, attributes: s.attributes, value: s.count });
          durations.push({
            startTime: s.startTime,
            endTime,
            attributes: s.attributes,
            value: {
              buckets: { boundaries: [...this.#boundaries], counts: [...s.buckets] },
              count: s.count,
              sum: s.sum,
              ...(s.count > 0 ? { min: s.min, max: s.max } : {}),
            },
          });
        }
      }
    }
    const metrics: MetricData[] = [];
    const cumulative = AggregationTemporality.CUMULATIVE;
    if (requests.length > 0) {
      metrics.push({ descriptor: REQUESTS, aggregationTemporality: cumulative, dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints: requests });
      metrics.push({ descriptor: DURATION, aggregationTemporality: cumulative, dataPointType: DataPointType.HISTOGRAM, dataPoints: durations });
    }
    if (inFlight.length > 0) {
      metrics.push({ descriptor: IN_FLIGHT, aggregationTemporality: cumulative, dataPointType: DataPointType.SUM, isMonotonic: false, dataPoints: inFlight });
    }
    return Promise.resolve({
      resourceMetrics: { resource: this.#resource, scopeMetrics: metrics.length > 0 ? [{ scope: { name: 'permify' }, metrics }] : [] },
      errors: [],
    });
  }
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const requestMetrics = new RequestMetrics(requestDurationBuckets, options.resource);
  const prometheus = new PrometheusExporter({ preventServerStart: true, metricProducers: [requestMetrics] });
  const provider = new MeterProvider({
    readers: [prometheus, ...(options.readers ?? []).map((r) => (typeof r === 'function' ? r([requestMetrics]) : r))],
    ...(options.resource ? { resource: options.resource } : {}),
  });
  const meter = provider.getMeter('permify');
  // No scope label on every sample (one scope), and target_info keeps the resource attributes.
  const serializer = new PrometheusSerializer(undefined, false, undefined, false, true);

  const limited: Counter = meter.createCounter('permify_rate_limited', { description: 'Calls refused by the rate limiter.' });
  const rejected: Counter = meter.createCounter('permify_rejected', {
    description: 'Calls refused before their handler (malformed, invalid, unauthenticated, rate limited), by error code.',
  });
  // Present (at 0) from the start, so dashboards and alerts find the series before the first refusal.
  limited.add(0);

  const codeAttrs = new Map<string, Attributes>();
  const collectors = new Set<() => readonly string[]>();
  const stopRuntime = options.runtime === false ? undefined : registerRuntimeMetrics(meter);
  let shut: Promise<void> | undefined;

  return {
    meter,
    observe(transport, rpc, code, seconds) {
      requestMetrics.observe(transport, rpc, code, seconds);
    },
    rateLimited() {
      limited.add(1);
    },
    rejected(code) {
      let a = codeAttrs.get(code);
      if (a === undefined) codeAttrs.set(code, (a = { code }));
      rejected.add(1, a);
    },
    inFlight(transport, rpc, delta) {
      requestMetrics.inFlight(transport, rpc, delta);
    },
    addCollector(collect) {
      const own = (): readonly string[] => collect();
      collectors.add(own);
      return () => collectors.delete(own);
    },
    async render() {
      const { resourceMetrics } = await prometheus.collect();
      let text = conventionalHistogramOrder(serializer.serialize(resourceMetrics));
      const extra: string[] = [];
      for (const collect of collectors) extra.push(...collect());
      if (extra.length > 0) text += extra.join('\n') + '\n';
      return text;
    },
    shutdown() {
      shut ??= (async () => {
        stopRuntime?.();
        await provider.shutdown().catch(() => undefined);
      })();
      return shut;
    },
  };
}

export type MetricsListener = SideListener;

/**
 * A separate plain-HTTP listener that answers `GET /metrics` (and nothing else) without authentication:
 * for a scraper on a private address, selected by `server.metrics.address`. Its bind address is what keeps
 * it private.
 */
export async function listenMetrics(metrics: Metrics, host: string, port: number): Promise<MetricsListener> {
  const server = http.createServer((req, res) => {
    req.resume();
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
    } else if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'Content-Type': 'text/plain', Allow: 'GET, HEAD' }).end('method not allowed\n');
    } else if (req.method === 'HEAD') {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' }).end();
    } else {
      metrics.render().then(
        (text) => res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' }).end(text),
        () => res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics collection failed\n'),
      );
    }
  });
  server.keepAliveTimeout = 5_000;
  return listenSide(server, host, port);
}
