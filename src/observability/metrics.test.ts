import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.js';

describe('metrics registry', () => {
  it('counts calls per (transport, rpc, code) and sums durations per (transport, rpc)', () => {
    const m = createMetrics();
    m.observe('grpc', 'base.v1.Permission/Check', 'OK', 0.5);
    m.observe('grpc', 'base.v1.Permission/Check', 'OK', 0.25);
    m.observe('grpc', 'base.v1.Permission/Check', 'INVALID_ARGUMENT', 0.25);
    m.observe('rest', 'base.v1.Permission/Check', '200', 1);
    m.rateLimited();
    const text = m.render();
    expect(text).toContain('permify_requests_total{transport="grpc",rpc="base.v1.Permission/Check",code="OK"} 2\n');
    expect(text).toContain('permify_requests_total{transport="grpc",rpc="base.v1.Permission/Check",code="INVALID_ARGUMENT"} 1\n');
    expect(text).toContain('permify_requests_total{transport="rest",rpc="base.v1.Permission/Check",code="200"} 1\n');
    expect(text).toContain('permify_request_duration_seconds_sum{transport="grpc",rpc="base.v1.Permission/Check"} 1\n');
    expect(text).toContain('permify_request_duration_seconds_count{transport="grpc",rpc="base.v1.Permission/Check"} 3\n');
    expect(text).toContain('permify_rate_limited_total 1\n');
  });

  it('escapes label values', () => {
    const m = createMetrics();
    m.observe('rest', 'a"b\\c\nd', '404', 0);
    expect(m.render()).toContain('rpc="a\\"b\\\\c\\nd",code="404"} 1\n');
  });
});
