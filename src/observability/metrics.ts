/**
 * A small Prometheus registry with stable metric names, served as text at `GET /metrics` on the HTTP port:
 *
 * - `permify_requests_total{transport,rpc,code}`: finished calls by gRPC status name;
 * - `permify_request_duration_seconds_sum/_count{transport,rpc}`: total handling time;
 * - `permify_rate_limited_total`: calls refused by the token bucket.
 */
export interface Metrics {
  observe(transport: 'grpc' | 'rest', rpc: string, code: string, seconds: number): void;
  rateLimited(): void;
  /** Prometheus text exposition format 0.0.4. */
  render(): string;
}

const label = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export function createMetrics(): Metrics {
  const requests = new Map<string, number>();
  const durations = new Map<string, { sum: number; count: number }>();
  let limited = 0;
  return {
    observe(transport, rpc, code, seconds) {
      const k = `transport="${label(transport)}",rpc="${label(rpc)}",code="${label(code)}"`;
      requests.set(k, (requests.get(k) ?? 0) + 1);
      const dk = `transport="${label(transport)}",rpc="${label(rpc)}"`;
      const d = durations.get(dk) ?? { sum: 0, count: 0 };
      d.sum += seconds;
      d.count += 1;
      durations.set(dk, d);
    },
    rateLimited() {
      limited++;
    },
    render() {
      const lines = ['# HELP permify_requests_total Finished calls by transport, RPC and gRPC status.', '# TYPE permify_requests_total counter'];
      for (const [k, v] of requests) lines.push(`permify_requests_total{${k}} ${v}`);
      lines.push('# HELP permify_request_duration_seconds Time spent handling calls.', '# TYPE permify_request_duration_seconds summary');
      for (const [k, d] of durations) {
        lines.push(`permify_request_duration_seconds_sum{${k}} ${d.sum}`, `permify_request_duration_seconds_count{${k}} ${d.count}`);
      }
      lines.push('# HELP permify_rate_limited_total Calls refused by the rate limiter.', '# TYPE permify_rate_limited_total counter', `permify_rate_limited_total ${limited}`);
      return lines.join('\n') + '\n';
    },
  };
}
