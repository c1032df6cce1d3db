/**
 * Local OTLP receivers for the observability tests: one over HTTP (protobuf bodies at /v1/traces,
 * /v1/metrics, /v1/logs, as a collector's otlphttp receiver) and one over gRPC (the three collector
 * services' Export methods). Both decode what arrives with the OTLP message definitions of
 * otlp-subset.proto and keep flat records the tests can search.
 */
import { fileURLToPath } from 'node:url';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

const root = protobuf.loadSync(fileURLToPath(new URL('./otlp-subset.proto', import.meta.url)));
const TraceRequest = root.lookupType('otlptest.ExportTraceServiceRequest');
const MetricsRequest = root.lookupType('otlptest.ExportMetricsServiceRequest');
const LogsRequest = root.lookupType('otlptest.ExportLogsServiceRequest');

export type AttrValue = string | number | boolean | undefined;

export interface SpanRecord {
  readonly traceId: string;
  readonly spanId: string;
  /** Empty for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP SpanKind: 1 internal, 2 server. */
  readonly kind: number;
  readonly attributes: Readonly<Record<string, AttrValue>>;
  /** 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
  readonly statusMessage: string;
  readonly resource: Readonly<Record<string, AttrValue>>;
}

export interface MetricPoint {
  readonly attributes: Readonly<Record<string, AttrValue>>;
  readonly value?: number;
  readonly count?: number;
  readonly sum?: number;
  readonly bucketCounts?: readonly number[];
  readonly bounds?: readonly number[];
}

export interface MetricRecord {
  readonly name: string;
  readonly kind: 'sum' | 'gauge' | 'histogram';
  readonly points: readonly MetricPoint[];
}

export interface LogRecord {
  readonly body: AttrValue;
  readonly severityText: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly attributes: Readonly<Record<string, AttrValue>>;
}

interface Decoded {
  [k: string]: unknown;
}

const hex = (b: unknown): string => (b instanceof Uint8Array ? Buffer.from(b).toString('hex') : '');
const num = (v: unknown): number | undefined =>
  v === undefined || v === null ? undefined : typeof v === 'number' ? v : Number(String(v));

function anyValue(v: Decoded | undefined): AttrValue {
  if (v === undefined || v === null) return undefined;
  if (v.stringValue !== undefined) return v.stringValue as string;
  if (v.boolValue !== undefined) return v.boolValue as boolean;
  if (v.intValue !== undefined) return num(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue as number;
  return undefined;
}

function attrs(list: unknown): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const kv of (list as Decoded[] | undefined) ?? []) out[kv.key as string] = anyValue(kv.value as Decoded | undefined);
  return out;
}

const options = { longs: Number, bytes: Uint8Array, defaults: false, arrays: true } as const;

/** What one receiver collected. */
export class OtlpSink {
  readonly spans: SpanRecord[] = [];
  readonly metrics: MetricRecord[] = [];
  readonly logs: LogRecord[] = [];
  /** Request headers of the last export, by signal. */
  readonly headers: Partial<Record<'traces' | 'metrics' | 'logs', Record<string, string>>> = {};

  addTraces(body: Uint8Array): void {
    const req = TraceRequest.toObject(TraceRequest.decode(body), options) as Decoded;
    for (const rs of (req.resourceSpans as Decoded[]) ?? []) {
      const resource = attrs((rs.resource as Decoded | undefined)?.attributes);
      for (const ss of (rs.scopeSpans as Decoded[]) ?? []) {
        for (const s of (ss.spans as Decoded[]) ?? []) {
          const status = (s.status as Decoded | undefined) ?? {};
          this.spans.push({
            traceId: hex(s.traceId),
            spanId: hex(s.spanId),
            parentSpanId: hex(s.parentSpanId),
            name: s.name as string,
            kind: (s.kind as number) ?? 0,
            attributes: attrs(s.attributes),
            statusCode: (status.code as number) ?? 0,
            statusMessage: (status.message as string) ?? '',
            resource,
          });
        }
      }
    }
  }

  addMetrics(body: Uint8Array): void {
    const req = MetricsRequest.toObject(MetricsRequest.decode(body), options) as Decoded;
    for (const rm of (req.resourceMetrics as Decoded[]) ?? []) {
      for (const sm of (rm.scopeMetrics as Decoded[]) ?? []) {
        for (const m of (sm.metrics as Decoded[]) ?? []) {
          const name = m.name as string;
          if (m.histogram !== undefined) {
            const points = (((m.histogram as Decoded).dataPoints as Decoded[]) ?? []).map((p) => ({
              attributes: attrs(p.attributes),
              count: num(p.count) ?? 0,
              sum: num(p.sum) ?? 0,
              bucketCounts: ((p.bucketCounts as unknown[]) ?? []).map((x) => num(x) ?? 0),
              bounds: (p.explicitBounds as number[]) ?? [],
            }));
            this.metrics.push({ name, kind: 'histogram', points });
          } else {
            const data = (m.sum ?? m.gauge) as Decoded | undefined;
            const points = ((data?.dataPoints as Decoded[]) ?? []).map((p) => ({
              attributes: attrs(p.attributes),
              value: num(p.asDouble) ?? num(p.asInt) ?? 0,
            }));
            this.metrics.push({ name, kind: m.sum !== undefined ? 'sum' : 'gauge', points });
          }
        }
      }
    }
  }

  addLogs(body: Uint8Array): void {
    const req = LogsRequest.toObject(LogsRequest.decode(body), options) as Decoded;
    for (const rl of (req.resourceLogs as Decoded[]) ?? []) {
      for (const sl of (rl.scopeLogs as Decoded[]) ?? []) {
        for (const r of (sl.logRecords as Decoded[]) ?? []) {
          this.logs.push({
            body: anyValue(r.body as Decoded | undefined),
            severityText: (r.severityText as string) ?? '',
            traceId: hex(r.traceId),
            spanId: hex(r.spanId),
            attributes: attrs(r.attributes),
          });
        }
      }
    }
  }
}

export interface OtlpReceiver {
  readonly port: number;
  readonly sink: OtlpSink;
  close(): Promise<void>;
}

/** An OTLP/HTTP (protobuf) receiver on 127.0.0.1, any free port. */
export async function startOtlpHttpReceiver(): Promise<OtlpReceiver> {
  const sink = new OtlpSink();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      try {
        if (req.url === '/v1/traces') {
          sink.addTraces(body);
          sink.headers.traces = headers;
        } else if (req.url === '/v1/metrics') {
          sink.addMetrics(body);
          sink.headers.metrics = headers;
        } else if (req.url === '/v1/logs') {
          sink.addLogs(body);
          sink.headers.logs = headers;
        } else {
          res.writeHead(404).end();
          return;
        }
      } catch (e) {
        res.writeHead(400, { 'Content-Type': 'text/plain' }).end(String(e));
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    sink,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function exportService(path: string): grpc.ServiceDefinition {
  return {
    Export: {
      path,
      requestStream: false,
      responseStream: false,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: () => Buffer.alloc(0),
      responseDeserialize: (b: Buffer) => b,
      originalName: 'Export',
    },
  } as unknown as grpc.ServiceDefinition;
}

/** An OTLP/gRPC receiver (plain text) on 127.0.0.1, any free port. */
export async function startOtlpGrpcReceiver(): Promise<OtlpReceiver> {
  const sink = new OtlpSink();
  const server = new grpc.Server();
  const add = (service: string, signal: 'traces' | 'metrics' | 'logs', decode: (b: Uint8Array) => void): void => {
    const name = service === 'trace' ? 'Trace' : service === 'metrics' ? 'Metrics' : 'Logs';
    server.addService(exportService(`/opentelemetry.proto.collector.${service}.v1.${name}Service/Export`), {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
        try {
          decode(call.request);
          sink.headers[signal] = Object.fromEntries(Object.entries(call.metadata.getMap()).map(([k, v]) => [k, String(v)]));
          done(null, Buffer.alloc(0));
        } catch (e) {
          done({ code: grpc.status.INVALID_ARGUMENT, details: String(e) });
        }
      },
    });
  };
  add('trace', 'traces', (b) => sink.addTraces(b));
  add('metrics', 'metrics', (b) => sink.addMetrics(b));
  add('logs', 'logs', (b) => sink.addLogs(b));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return {
    port,
    sink,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

/** Polls `check` until it returns a value (not undefined/false) or `timeoutMs` passes. */
export async function waitFor<T>(check: () => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
