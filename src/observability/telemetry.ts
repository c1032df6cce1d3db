/**
 * OpenTelemetry set up from Permify's configuration keys: traces (`tracer.*`), metric push (`meter.*`) and log
 * export (`logger.*` exporter keys). Each section is `enabled`, `exporter`, `endpoint`, `insecure`,
 * `urlpath`, `headers` (`key:value`), `protocol` (`http` | `grpc`), `service_name`.
 *
 * Exporters: `otlp` (protocol from `protocol`), `otlp-http`, `otlp-grpc` for every signal; for traces also
 * `signoz` (OTLP/gRPC, as Permify sends it) and `zipkin` (`endpoint` = the collector URL). Permify's other
 * names (`jaeger`, `gcp`) and unknown names fail at start with an error naming the key: nothing is silently
 * dropped. The endpoint is `host:port` (scheme from `insecure`: `http` when true, else `https`) or a full URL.
 *
 * Nothing here is global except the context manager: each server has its own providers (tests run several
 * servers in one process), and the tracer is handed to what creates spans.
 */
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { credentials, Metadata } from '@grpc/grpc-js';
import { trace, type Tracer } from '@opentelemetry/api';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { AlwaysOnSampler, BatchSpanProcessor, ParentBasedSampler, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import { PeriodicExportingMetricReader, type MetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { OTLPTraceExporter as OtlpHttpTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as OtlpGrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPMetricExporter as OtlpHttpMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPMetricExporter as OtlpGrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPLogExporter as OtlpHttpLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPLogExporter as OtlpGrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { ZipkinExporter } from '@opentelemetry/exporter-zipkin';
import { PermifyError } from '../errors.js';
import { installContextManager } from './context.js';
import type { MetricReaderFactory } from './metrics.js';

/** One exporter section of the configuration (`tracer`, `meter`, `logger`). */
export interface ExporterSection {
  readonly enabled: boolean;
  readonly exporter: string;
  readonly endpoint: string;
  readonly insecure: boolean;
  readonly urlpath: string;
  readonly headers: readonly string[];
  readonly protocol: string;
  readonly service_name: string;
}

type Signal = 'tracer' | 'meter' | 'logger';

const DEFAULT_PATH: Readonly<Record<Signal, string>> = { tracer: '/v1/traces', meter: '/v1/metrics', logger: '/v1/logs' };

const unsupported: Readonly<Record<string, string>> = {
  jaeger:
    'the Jaeger Thrift exporter is not supported (it is deprecated upstream); Jaeger accepts OTLP: set exporter otlp and the endpoint to its OTLP port (4318 http, 4317 grpc)',
  gcp: 'the Google Cloud exporter is not supported; send OTLP to an OpenTelemetry Collector with the googlecloud exporter',
};

function configError(key: string, message: string): PermifyError {
  return new PermifyError('ERROR_CODE_VALIDATION', `invalid configuration: ${key}: ${message}`, { details: { limit: key } });
}

/** The transport an enabled section resolves to; throws naming the key when it cannot be served. */
export function exporterKind(signal: Signal, s: ExporterSection): 'otlp-http' | 'otlp-grpc' | 'zipkin' {
  const name = s.exporter.trim().toLowerCase();
  const key = `${signal}.exporter`;
  if (name === '') throw configError(key, `must be set when ${signal}.enabled is true (otlp, otlp-http, otlp-grpc${signal === 'tracer' ? ', signoz, zipkin' : ''})`);
  const why = unsupported[name];
  if (why !== undefined) throw configError(key, `${name}: ${why}`);
  if (signal === 'tracer' && name === 'zipkin') {
    if (s.endpoint === '') throw configError(`${signal}.endpoint`, 'must be set for the zipkin exporter (the collector URL)');
    return 'zipkin';
  }
  if (signal === 'tracer' && name === 'signoz') return 'otlp-grpc';
  if (name === 'otlp-http') return 'otlp-http';
  if (name === 'otlp-grpc') return 'otlp-grpc';
  if (name === 'otlp') {
    const p = s.protocol.trim().toLowerCase();
    if (p === '' || p === 'http') return 'otlp-http';
    if (p === 'grpc') return 'otlp-grpc';
    throw configError(`${signal}.protocol`, `must be http or grpc, not ${JSON.stringify(s.protocol)}`);
  }
  throw configError(key, `unknown exporter ${JSON.stringify(s.exporter)}`);
}

/** Throws (naming the key) when an enabled section cannot be served; run before anything is opened. */
export function validateTelemetryConfig(sections: Readonly<Record<Signal, ExporterSection>>): void {
  for (const signal of ['tracer', 'meter', 'logger'] as const) {
    const s = sections[signal];
    if (!s.enabled) continue;
    const kind = exporterKind(signal, s);
    if (kind !== 'zipkin' && s.endpoint.trim() === '') throw configError(`${signal}.endpoint`, `must be set when ${signal}.enabled is true`);
  }
}

function headerRecord(headers: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of headers) {
    const i = h.indexOf(':');
    if (i > 0) out[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  return out;
}

function baseUrl(s: ExporterSection): string {
  const e = s.endpoint.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(e)) return e.replace(/\/+$/, '');
  return `${s.insecure ? 'http' : 'https'}://${e}`;
}

function httpUrl(signal: Signal, s: ExporterSection): string {
  const base = baseUrl(s);
  // A full URL that already has a path keeps it unless urlpath overrides it.
  const hasPath = /^[a-z][a-z0-9+.-]*:\/\/[^/]+\/./i.test(base);
  if (s.urlpath !== '') return base.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/]+).*$/i, '$1') + (s.urlpath.startsWith('/') ? s.urlpath : `/${s.urlpath}`);
  return hasPath ? base : base + DEFAULT_PATH[signal];
}

function grpcOptions(s: ExporterSection): { url: string; credentials: ReturnType<typeof credentials.createInsecure>; metadata: Metadata } {
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(headerRecord(s.headers))) metadata.set(k.toLowerCase(), v);
  return { url: baseUrl(s), credentials: s.insecure ? credentials.createInsecure() : credentials.createSsl(), metadata };
}

function spanExporter(s: ExporterSection): SpanExporter {
  const kind = exporterKind('tracer', s);
  if (kind === 'zipkin') return new ZipkinExporter({ url: baseUrl(s), headers: headerRecord(s.headers), serviceName: s.service_name });
  if (kind === 'otlp-grpc') return new OtlpGrpcTraceExporter(grpcOptions(s));
  return new OtlpHttpTraceExporter({ url: httpUrl('tracer', s), headers: headerRecord(s.headers) });
}

function metricExporter(s: ExporterSection): PushMetricExporter {
  if (exporterKind('meter', s) === 'otlp-grpc') return new OtlpGrpcMetricExporter(grpcOptions(s));
  return new OtlpHttpMetricExporter({ url: httpUrl('meter', s), headers: headerRecord(s.headers) });
}

/** The OTLP log exporter of the `logger` section. */
export function logExporter(s: ExporterSection): LogRecordExporter {
  if (exporterKind('logger', s) === 'otlp-grpc') return new OtlpGrpcLogExporter(grpcOptions(s));
  return new OtlpHttpLogExporter({ url: httpUrl('logger', s), headers: headerRecord(s.headers) });
}

/** The package version reported as `service.version` (src/ and dist/ sit at the same depth). */
export function telemetryVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Resource attributes as Permify reports them. */
export function telemetryResource(serviceName: string, accountId: string, version: string): Resource {
  return resourceFromAttributes({
    'service.name': serviceName === '' ? 'permify' : serviceName,
    'service.version': version,
    ...(accountId !== '' ? { id: accountId, 'project.id': accountId } : {}),
    'host.name': os.hostname(),
    'os.type': os.platform(),
    'host.arch': os.arch(),
  });
}

export interface TelemetryConfig {
  readonly account_id: string;
  readonly tracer: ExporterSection & { readonly sample_rate: number };
  readonly meter: ExporterSection & { readonly interval: number };
  readonly logger: ExporterSection;
}

export interface Telemetry {
  /** Spans of this server; a no-op tracer when `tracer.enabled` is false. */
  readonly tracer: Tracer;
  /** True when spans are exported (decorators skip their work otherwise). */
  readonly tracing: boolean;
  /** `tracer.sample_rate`, clamped to 0..1: the share of new calls that start a trace. */
  readonly sampleRate: number;
  /**
   * The OTLP metric push (when `meter.enabled`), to give to the metrics registry: built by the registry
   * around its own producers (the request families are not SDK instruments, see metrics.ts).
   */
  readonly metricReaders: readonly MetricReaderFactory[];
  readonly metricResource: Resource;
  /** Log record export (when `logger.enabled`), for the logger. */
  readonly loggerProvider: LoggerProvider | undefined;
  /** Flushes what is buffered and stops the exporters. Idempotent. */
  shutdown(): Promise<void>;
}

/** Builds the providers; throws a configuration error (naming the key) before opening anything. */
export function createTelemetry(config: TelemetryConfig, version: string): Telemetry {
  validateTelemetryConfig(config);
  let tracerProvider: TracerProvider | undefined;
  let loggerProvider: LoggerProvider | undefined;
  const readers: MetricReaderFactory[] = [];
  const t = config.tracer;
  if (t.enabled) {
    installContextManager();
    tracerProvider = new TracerProvider({
      resource: telemetryResource(t.service_name, config.account_id, version),
      // A caller's traceparent decides by its sampled flag; whether a new call starts a trace at all is
      // decided by the call pipeline at `sampleRate`, before any span is built (api/pipeline/tracing.ts).
      sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
      spanProcessors: [new BatchSpanProcessor({ exporter: spanExporter(t) })],
    });
  }
  const m = config.meter;
  if (m.enabled) {
    const exporter = metricExporter(m);
    readers.push(
      (metricProducers): MetricReader =>
        new PeriodicExportingMetricReader({
          exporter,
          exportIntervalMillis: Math.max(1, m.interval) * 1000,
          exportTimeoutMillis: Math.min(30_000, Math.max(1, m.interval) * 1000),
          metricProducers,
        }),
    );
  }
  const l = config.logger;
  if (l.enabled) {
    installContextManager();
    loggerProvider = new LoggerProvider({
      resource: telemetryResource(l.service_name, config.account_id, version),
      processors: [new BatchLogRecordProcessor({ exporter: logExporter(l) })],
    });
  }
  let shut: Promise<void> | undefined;
  return {
    tracer: tracerProvider?.getTracer('permify', version) ?? trace.getTracer('permify-noop'),
    tracing: tracerProvider !== undefined,
    sampleRate: Math.min(1, Math.max(0, t.sample_rate)),
    metricReaders: readers,
    metricResource: telemetryResource(m.service_name, config.account_id, version),
    loggerProvider,
    shutdown() {
      shut ??= Promise.allSettled([tracerProvider?.shutdown(), loggerProvider?.shutdown()]).then(() => undefined);
      return shut;
    },
  };
}
