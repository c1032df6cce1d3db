import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small Prometheus registry with stable metric names, served as text at `GET /metrics` on the HTTP port
 * (behind authentication when it is enabled) or on a separate listener (`server.metrics.address`):
 *
 * - `permify_requests_total{transport,rpc,code}`: finished calls by gRPC status name;
 * - `permify_request_duration_seconds_sum/_count{transport,rpc}`: total handling time;
 * - `permify_rate_limited_total`: calls refused by the token bucket.
 */
export interface Metrics {
  observe(transport: 'grpc' | 'rest' | 'connect', rpc: string, code: string, seconds: number): void;
  rateLimited(): void;
  /**
   * Adds lines (complete Prometheus text: HELP, TYPE, samples) that `collect` renders at each scrape, e.g. a
   * store's internal state; returns the function that removes it.
   */
  addCollector(collect: () => readonly string[]): () => void;
  /** Prometheus text exposition format 0.0.4. */
  render(): string;
}

const label = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

interface Series {
  sum: number;
  count: number;
  /** Finished calls by status name. */
  readonly codes: Map<string, number>;
}

export function createMetrics(): Metrics {
  // transport -> rpc -> series: plain map lookups on the hot path; label text is built only by render().
  const series = new Map<string, Map<string, Series>>();
  let limited = 0;
  const collectors = new Set<() => readonly string[]>();
  return {
    addCollector(collect) {
      const own = (): readonly string[] => collect();
      collectors.add(own);
      return () => collectors.delete(own);
    },
    observe(transport, rpc, code, seconds) {
      let byRpc = series.get(transport);
      if (byRpc === undefined) series.set(transport, (byRpc = new Map()));
      let s = byRpc.get(rpc);
      if (s === undefined) byRpc.set(rpc, (s = { sum: 0, count: 0, codes: new Map() }));
      s.sum += seconds;
      s.count += 1;
      s.codes.set(code, (s.codes.get(code) ?? 0) + 1);
    },
    rateLimited() {
      limited++;
    },
    render() {
      const lines = ['# HELP permify_requests_total Finished calls by transport, RPC and gRPC status.', '# TYPE permify_requests_total counter'];
      for (const [transport, byRpc] of series) {
        for (const [rpc, s] of byRpc) {
          for (const [code, n] of s.codes) {
            lines.push(`permify_requests_total{transport="${label(transport)}",rpc="${label(rpc)}",code="${label(code)}"} ${n}`);
          }
        }
      }
      lines.push('# HELP permify_request_duration_seconds Time spent handling calls.', '# TYPE permify_request_duration_seconds summary');
      for (const [transport, byRpc] of series) {
        for (const [rpc, s] of byRpc) {
          const k = `transport="${label(transport)}",rpc="${label(rpc)}"`;
          lines.push(`permify_request_duration_seconds_sum{${k}} ${s.sum}`, `permify_request_duration_seconds_count{${k}} ${s.count}`);
        }
      }
      lines.push('# HELP permify_rate_limited_total Calls refused by the rate limiter.', '# TYPE permify_rate_limited_total counter', `permify_rate_limited_total ${limited}`);
      for (const collect of collectors) lines.push(...collect());
      return lines.join('\n') + '\n';
    },
  };
}

export interface MetricsListener {
  /** The bound port (meaningful when port 0 was asked for). */
  readonly port: number;
  close(): Promise<void>;
}

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
    } else {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' }).end(req.method === 'GET' ? metrics.render() : undefined);
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host === '' ? undefined : host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        // Scrapes are short and answer nothing that can be half-done: no drain, just stop.
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
