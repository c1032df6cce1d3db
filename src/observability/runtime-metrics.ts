/**
 * Process and Node runtime metrics under the names Prometheus users know from other Node services
 * (`process_cpu_seconds_total`, `process_resident_memory_bytes`, `nodejs_heap_size_used_bytes`,
 * `nodejs_eventloop_delay_seconds`, `nodejs_gc_duration_seconds`, ...), as OpenTelemetry instruments so that
 * the OTLP push carries them too. Read at collection time from `process` and `v8`, except the event-loop
 * delay (a libuv histogram sampled every 20 ms) and GC pauses (a performance observer), which cost nothing
 * per request.
 */
import { monitorEventLoopDelay, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import * as v8 from 'node:v8';
import type { Meter } from '@opentelemetry/api';

const GC_KINDS: Readonly<Record<number, string>> = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' };

/** Registers the instruments on `meter`; returns the function that stops the samplers. */
export function registerRuntimeMetrics(meter: Meter): () => void {
  const startedSeconds = Date.now() / 1000 - process.uptime();
  meter
    .createObservableCounter('process_cpu_seconds', { description: 'User and system CPU time spent, seconds.' })
    .addCallback((r) => {
      const u = process.cpuUsage();
      r.observe((u.user + u.system) / 1e6);
    });
  meter
    .createObservableCounter('process_cpu_user_seconds', { description: 'User CPU time spent, seconds.' })
    .addCallback((r) => r.observe(process.cpuUsage().user / 1e6));
  meter
    .createObservableCounter('process_cpu_system_seconds', { description: 'System CPU time spent, seconds.' })
    .addCallback((r) => r.observe(process.cpuUsage().system / 1e6));
  meter
    .createObservableGauge('process_resident_memory_bytes', { description: 'Resident set size, bytes.' })
    .addCallback((r) => r.observe(process.memoryUsage.rss()));
  meter
    .createObservableGauge('process_start_time_seconds', { description: 'Start time of the process since the Unix epoch, seconds.' })
    .addCallback((r) => r.observe(startedSeconds));

  const heap = meter.createObservableGauge('nodejs_heap_size_used_bytes', { description: 'V8 heap in use, bytes.' });
  const heapTotal = meter.createObservableGauge('nodejs_heap_size_total_bytes', { description: 'V8 heap allocated, bytes.' });
  const external = meter.createObservableGauge('nodejs_external_memory_bytes', { description: 'Memory of C++ objects bound to JavaScript objects, bytes.' });
  const spaces = meter.createObservableGauge('nodejs_heap_space_size_used_bytes', { description: 'V8 heap in use per space, bytes.' });
  meter.addBatchObservableCallback(
    (r) => {
      const m = process.memoryUsage();
      r.observe(heap, m.heapUsed);
      r.observe(heapTotal, m.heapTotal);
      r.observe(external, m.external);
      for (const s of v8.getHeapSpaceStatistics()) r.observe(spaces, s.space_used_size, { space: s.space_name });
    },
    [heap, heapTotal, external, spaces],
  );

  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  const lag = meter.createObservableGauge('nodejs_eventloop_delay_seconds', { description: 'Event-loop delay since the previous collection, by statistic (min, mean, max, p50, p90, p99), seconds.' });
  meter.addBatchObservableCallback(
    (r) => {
      if (loop.count === 0) return;
      const s = (ns: number): number => ns / 1e9;
      r.observe(lag, s(loop.min), { stat: 'min' });
      r.observe(lag, s(loop.mean), { stat: 'mean' });
      r.observe(lag, s(loop.max), { stat: 'max' });
      r.observe(lag, s(loop.percentile(50)), { stat: 'p50' });
      r.observe(lag, s(loop.percentile(90)), { stat: 'p90' });
      r.observe(lag, s(loop.percentile(99)), { stat: 'p99' });
      loop.reset();
    },
    [lag],
  );
  meter
    .createObservableGauge('nodejs_active_handles', { description: 'Active libuv handles (sockets, timers, servers).' })
    .addCallback((r) => {
      const get = (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles;
      if (get) r.observe(get.call(process).length);
    });

  const gc = meter.createHistogram('nodejs_gc_duration_seconds', {
    description: 'Garbage-collection pauses by kind, seconds.',
    advice: { explicitBucketBoundaries: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] },
  });
  const kindAttrs = new Map<string, { kind: string }>();
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries() as (PerformanceEntry & { detail?: { kind?: number } })[]) {
      const kind = GC_KINDS[entry.detail?.kind ?? 0] ?? 'other';
      let a = kindAttrs.get(kind);
      if (a === undefined) kindAttrs.set(kind, (a = { kind }));
      gc.record(entry.duration / 1000, a);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => {
    observer.disconnect();
    loop.disable();
  };
}
