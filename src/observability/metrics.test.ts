import { describe, expect, it } from 'vitest';
import { DataPointType, type HistogramMetricData, type SumMetricData } from '@opentelemetry/sdk-metrics';
import { conventionalHistogramOrder, createMetrics, RequestMetrics } from './metrics.js';

describe('metrics registry', () => {
  it('counts calls per (transport, rpc, code) and keeps a duration histogram with buckets', async () => {
    const m = createMetrics({ runtime: false });
    m.observe('grpc', 'base.v1.Permission/Check', 'OK', 0.5);
    m.observe('grpc', 'base.v1.Permission/Check', 'OK', 0.25);
    m.observe('grpc', 'base.v1.Permission/Check', 'INVALID_ARGUMENT', 0.25);
    m.observe('rest', 'base.v1.Permission/Check', '200', 1);
    m.rateLimited();
    const text = await m.render();
    expect(text).toContain('permify_requests_total{transport="grpc",rpc="base.v1.Permission/Check",code="OK"} 2\n');
    expect(text).toContain('permify_requests_total{transport="grpc",rpc="base.v1.Permission/Check",code="INVALID_ARGUMENT"} 1\n');
    expect(text).toContain('permify_requests_total{transport="rest",rpc="base.v1.Permission/Check",code="200"} 1\n');
    expect(text).toContain('# TYPE permify_request_duration_seconds histogram');
    expect(text).toContain('permify_request_duration_seconds_sum{transport="grpc",rpc="base.v1.Permission/Check",code="OK"} 0.75\n');
    expect(text).toContain('permify_request_duration_seconds_bucket{transport="grpc",rpc="base.v1.Permission/Check",code="OK",le="0.25"} 1\n');
    expect(text).toContain('permify_request_duration_seconds_bucket{transport="grpc",rpc="base.v1.Permission/Check",code="OK",le="0.5"} 2\n');
    expect(text).toContain('permify_rate_limited_total 1\n');
    await m.shutdown();
  });

  it('counts calls in flight per (transport, rpc) as a gauge, from the first call on', async () => {
    const m = createMetrics({ runtime: false });
    expect(await m.render()).not.toContain('permify_requests_in_flight');
    m.inFlight('grpc', 'base.v1.Permission/Check', 1);
    m.inFlight('grpc', 'base.v1.Permission/Check', 1);
    m.inFlight('grpc', 'base.v1.Permission/Check', -1);
    m.inFlight('rest', 'base.v1.Data/Write', 1);
    m.inFlight('rest', 'base.v1.Data/Write', -1);
    const text = await m.render();
    expect(text).toContain('# TYPE permify_requests_in_flight gauge');
    expect(text).toContain('permify_requests_in_flight{transport="grpc",rpc="base.v1.Permission/Check"} 1\n');
    expect(text).toContain('permify_requests_in_flight{transport="rest",rpc="base.v1.Data/Write"} 0\n');
    await m.shutdown();
  });

  it('escapes label values', async () => {
    const m = createMetrics({ runtime: false });
    m.observe('rest', 'a"b\\c\nd', '404', 0);
    expect(await m.render()).toContain('rpc="a\\"b\\\\c\\nd",code="404"} 1\n');
    await m.shutdown();
  });

  it('adds process and runtime metrics unless asked not to', async () => {
    const m = createMetrics();
    const text = await m.render();
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes']) {
      expect(text).toMatch(new RegExp(`^${name}(\\{[^}]*\\})? [0-9.e+-]+$`, 'm'));
    }
    await m.shutdown();
    const off = createMetrics({ runtime: false });
    expect(await off.render()).not.toContain('process_cpu_seconds_total');
    await off.shutdown();
  });
});

describe('RequestMetrics (the producer behind the request families)', () => {
  it('answers what an SDK counter, histogram and up-down counter would: inclusive bucket bounds, min/max, copies', async () => {
    const r = new RequestMetrics([0.1, 1]);
    expect((await r.collect()).resourceMetrics.scopeMetrics).toEqual([]);
    for (const s of [0.05, 0.1, 0.5, 1, 3]) r.observe('grpc', 'x/Y', 'OK', s);
    r.inFlight('grpc', 'x/Y', 1);
    const first = await r.collect();
    const metrics = first.resourceMetrics.scopeMetrics[0]?.metrics ?? [];
    expect(metrics.map((m) => m.descriptor.name)).toEqual(['permify_requests', 'permify_request_duration_seconds', 'permify_requests_in_flight']);
    const requests = metrics[0] as SumMetricData;
    expect(requests.isMonotonic).toBe(true);
    expect(requests.dataPoints[0]?.value).toBe(5);
    expect(requests.dataPoints[0]?.attributes).toEqual({ transport: 'grpc', rpc: 'x/Y', code: 'OK' });
    const hist = metrics[1] as HistogramMetricData;
    expect(hist.dataPointType).toBe(DataPointType.HISTOGRAM);
    const v = hist.dataPoints[0]?.value;
    // 0.05 and 0.1 <= 0.1; 0.5 and 1 <= 1; 3 above the last bound.
    expect(v?.buckets).toEqual({ boundaries: [0.1, 1], counts: [2, 2, 1] });
    expect(v?.count).toBe(5);
    expect(v?.sum).toBeCloseTo(4.65);
    expect([v?.min, v?.max]).toEqual([0.05, 3]);
    const inFlight = metrics[2] as SumMetricData;
    expect(inFlight.isMonotonic).toBe(false);
    expect(inFlight.dataPoints[0]?.value).toBe(1);
    // Later calls do not change what was collected before.
    r.observe('grpc', 'x/Y', 'OK', 0.01);
    expect(v?.buckets.counts).toEqual([2, 2, 1]);
    const again = (await r.collect()).resourceMetrics.scopeMetrics[0]?.metrics[1] as HistogramMetricData;
    expect(again.dataPoints[0]?.value.buckets.counts).toEqual([3, 2, 1]);
    expect(again.dataPoints[0]?.startTime).toEqual(hist.dataPoints[0]?.startTime);
  });
});

describe('conventionalHistogramOrder', () => {
  it('puts buckets before sum and count, series by series, and leaves other families alone', () => {
    const text = [
      '# TYPE c counter',
      'c{a="1"} 2',
      '# TYPE h histogram',
      'h_count{a="1"} 2',
      'h_sum{a="1"} 0.5',
      'h_bucket{a="1",le="0.1"} 1',
      'h_bucket{a="1",le="+Inf"} 2',
      'h_count{a="2"} 1',
      'h_sum{a="2"} 3',
      'h_bucket{a="2",le="0.1"} 0',
      'h_bucket{a="2",le="+Inf"} 1',
      '# TYPE g histogram',
      'g_count 1',
      'g_sum 0.5',
      'g_bucket{le="+Inf"} 1',
      '',
    ].join('\n');
    expect(conventionalHistogramOrder(text).split('\n')).toEqual([
      '# TYPE c counter',
      'c{a="1"} 2',
      '# TYPE h histogram',
      'h_bucket{a="1",le="0.1"} 1',
      'h_bucket{a="1",le="+Inf"} 2',
      'h_sum{a="1"} 0.5',
      'h_count{a="1"} 2',
      'h_bucket{a="2",le="0.1"} 0',
      'h_bucket{a="2",le="+Inf"} 1',
      'h_sum{a="2"} 3',
      'h_count{a="2"} 1',
      '# TYPE g histogram',
      'g_bucket{le="+Inf"} 1',
      'g_sum 0.5',
      'g_count 1',
      '',
    ]);
  });
});
