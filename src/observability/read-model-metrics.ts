/**
 * The read model as instruments; being instruments, they reach both /metrics and OTLP. Read from `state()`
 * once per collection (scrape or OTLP push):
 * - `permify_read_model_caught_up`: 1 while tailing normally (reads and head tokens come from the model);
 * - `permify_read_model_lag_seconds`: time since the last successful tailing cycle, and per loaded tenant
 *   `permify_read_model_tenant_lag_seconds{tenant}`;
 * - `permify_read_model_rows{tenant}` / `permify_read_model_bytes{tenant}`: what each loaded tenant holds;
 *   `permify_read_model_max_rows` / `permify_read_model_max_bytes`: the budget;
 * - counters `..._cycles`, `..._failed_cycles`, `..._applied_transactions`, `..._reads` (answered by the
 *   model), `..._fallback_reads` (read from PostgreSQL instead).
 * Recorded as transactions are applied: `permify_read_model_apply_lag_seconds`, a histogram of the time from a
 * write transaction's start to its application in this process's model (ReadModel.applyLagListeners).
 */
import type { ObservableResult } from '@opentelemetry/api';
import type { ReadModel } from '../storage/read-model/read-model.js';
import type { Metrics } from './metrics.js';

export function registerReadModelMetrics(metrics: Metrics, model: Pick<ReadModel, 'state' | 'applyLagListeners'>): void {
  const state = (): ReturnType<ReadModel['state']> => model.state();
  const meter = metrics.meter;
  const applyLag = meter.createHistogram('permify_read_model_apply_lag_seconds', {
    description: "Seconds from a write transaction's start to its application in this process's read model.",
    advice: { explicitBucketBoundaries: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] },
  });
  model.applyLagListeners.add((_tenantId, seconds) => applyLag.record(seconds));
  const g = (name: string, description: string) => meter.createObservableGauge(name, { description });
  const c = (name: string, description: string) => meter.createObservableCounter(name, { description });
  const caughtUp = g('permify_read_model_caught_up', 'Whether the read model is tailing normally.');
  const lag = g('permify_read_model_lag_seconds', 'Seconds since the last successful tailing cycle (-1 before the first).');
  const maxRows = g('permify_read_model_max_rows', 'Rows the read model may hold.');
  const maxBytes = g('permify_read_model_max_bytes', 'Estimated bytes the read model may hold.');
  const cycles = c('permify_read_model_cycles', 'Successful tailing cycles.');
  const failed = c('permify_read_model_failed_cycles', 'Failed tailing cycles (retried).');
  const applied = c('permify_read_model_applied_transactions', 'Write transactions applied.');
  const reads = c('permify_read_model_reads', 'Reads answered by the read model.');
  const fallbacks = c('permify_read_model_fallback_reads', 'Reads sent to PostgreSQL instead.');
  const rows = g('permify_read_model_rows', 'Rows (history included) the read model holds per loaded tenant.');
  const bytes = g('permify_read_model_bytes', 'Estimated bytes the read model holds per loaded tenant.');
  const tenantLag = g('permify_read_model_tenant_lag_seconds', 'Seconds since the last successful cycle, per loaded tenant.');
  const all = [caughtUp, lag, maxRows, maxBytes, cycles, failed, applied, reads, fallbacks, rows, bytes, tenantLag];
  meter.addBatchObservableCallback((r) => {
    const s = state();
    const o = (inst: (typeof all)[number], v: number, a?: Record<string, string>): void => (r as ObservableResult & typeof r).observe(inst, v, a);
    o(caughtUp, s.caughtUp ? 1 : 0);
    o(lag, s.lastCycleAgoMs < 0 ? -1 : s.lastCycleAgoMs / 1000);
    o(maxRows, s.maxTuples);
    o(maxBytes, s.maxBytes);
    o(cycles, s.cycles);
    o(failed, s.failedCycles);
    o(applied, s.appliedTransactions);
    o(reads, s.modelReads);
    o(fallbacks, s.fallbacks);
    for (const t of s.tenants) {
      if (!t.loaded) continue;
      const a = { tenant: t.tenantId };
      o(rows, t.rows, a);
      o(bytes, t.bytes, a);
      o(tenantLag, t.lagMs / 1000, a);
    }
  }, all);
}
