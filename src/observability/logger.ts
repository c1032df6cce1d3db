/**
 * The process logger: pino, JSON lines (`logger.output: json`) or key=value text lines (default, as
 * Permify), to stdout (or a given stream). Per-request lines are logged at debug only; tuple data and
 * tokens are never logged at info.
 *
 * A line logged while a traced call runs carries `trace_id` and `span_id`. With an OpenTelemetry logger
 * provider (`logger.enabled`, see telemetry.ts) every line is also shipped as an OTel log record with the
 * same level, message, fields and trace context; {@link shutdownLogExport} flushes it.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { Writable } from 'node:stream';
import { context, isSpanContextValid, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { SeverityNumber, type AnyValue, type AnyValueMap } from '@opentelemetry/api-logs';
import type { LoggerProvider } from '@opentelemetry/sdk-logs';

export type { Logger } from 'pino';

export interface LoggerOptions {
  readonly level: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** `json` or `text` ("" = text). */
  readonly output: string;
  /** Destination (default stdout). */
  readonly destination?: NodeJS.WritableStream;
  /** Also ship every line as an OpenTelemetry log record. */
  readonly loggerProvider?: LoggerProvider;
}

const SEVERITY: Readonly<Record<string, SeverityNumber>> = {
  trace: SeverityNumber.TRACE,
  debug: SeverityNumber.DEBUG,
  info: SeverityNumber.INFO,
  warn: SeverityNumber.WARN,
  error: SeverityNumber.ERROR,
  fatal: SeverityNumber.FATAL,
};

function anyValue(v: unknown): AnyValue {
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  return JSON.stringify(v);
}

/** Parses pino's JSON lines into OTel log records (trace context from the line's ids). */
function otelStream(provider: LoggerProvider): DestinationStream {
  const otel = provider.getLogger('permify');
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        try {
          const { time, level, msg, trace_id, span_id, ...rest } = JSON.parse(line) as Record<string, unknown>;
          const attributes: AnyValueMap = {};
          for (const [k, v] of Object.entries(rest)) attributes[k] = anyValue(v);
          const ctx =
            typeof trace_id === 'string' && typeof span_id === 'string'
              ? trace.setSpanContext(ROOT_CONTEXT, { traceId: trace_id, spanId: span_id, traceFlags: TraceFlags.SAMPLED })
              : ROOT_CONTEXT;
          const severityText = String(level).toUpperCase();
          otel.emit({
            timestamp: new Date(Number(time)),
            severityNumber: SEVERITY[String(level)] ?? SeverityNumber.UNSPECIFIED,
            severityText,
            body: typeof msg === 'string' ? msg : '',
            attributes,
            context: ctx,
          });
        } catch {
          // Not a JSON line: nothing to ship.
        }
      }
      cb();
    },
  });
}

/** The ids of the current span, added to each line (nothing outside a traced call). */
function traceFields(): Record<string, string> {
  const span = trace.getSpan(context.active());
  // A context left behind on a timer or socket by an ended call is not this line's.
  if (span === undefined || !span.isRecording()) return {};
  const sc = span.spanContext();
  return isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}

const exportProviders = new WeakMap<Logger, LoggerProvider>();

/** Flushes and stops the OTel log export of a logger made by {@link createLogger} (no-op without one). */
export async function shutdownLogExport(logger: Logger): Promise<void> {
  await exportProviders.get(logger)?.shutdown();
}

function textValue(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

/** Turns pino's JSON lines into `time=... level=... msg=... key=value` lines. */
function textStream(out: NodeJS.WritableStream): DestinationStream {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        try {
          const o = JSON.parse(line) as Record<string, unknown>;
          const { time, level, msg, ...rest } = o;
          const parts = [`time=${new Date(Number(time)).toISOString()}`, `level=${String(level).toUpperCase()}`, `msg=${textValue(msg ?? '')}`];
          for (const [k, v] of Object.entries(rest)) parts.push(`${k}=${textValue(v)}`);
          out.write(parts.join(' ') + '\n');
        } catch {
          out.write(line + '\n');
        }
      }
      cb();
    },
  });
}

export function createLogger(options: LoggerOptions): Logger {
  const out = options.destination ?? process.stdout;
  const local = options.output === 'json' ? (out as DestinationStream) : textStream(out);
  const provider = options.loggerProvider;
  const dest =
    provider === undefined
      ? local
      : pino.multistream([
          { stream: local, level: 'trace' },
          { stream: otelStream(provider), level: 'trace' },
        ]);
  const logger = pino(
    {
      level: options.level,
      base: undefined,
      formatters: { level: (label) => ({ level: label }) },
      mixin: traceFields,
      redact: { paths: ['authorization', 'headers.authorization', '*.authorization'], censor: '[redacted]' },
    },
    dest,
  );
  if (provider !== undefined) exportProviders.set(logger, provider);
  return logger;
}
