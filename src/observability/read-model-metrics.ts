/**
 * The read model's state as instruments, read from `state()` once per collection (scrape or OTLP push), under
 * the names storage/read-model/metrics.ts documents (`permify_read_model_*`), plus the lag per tenant
 * (`permify_read_model_tenant_lag_seconds{tenant}`). Being instruments, they reach both /metrics and OTLP.
 */
import type { ObservableResult } from '@opentelemetry/api';
import type { ReadModelState } from '../storage/read-model/read-model.js';
import type { Metrics } from './metrics.js';

export function registerReadModelMetrics(metrics: Metrics, state: () => ReadModelState): void {
  const meter = metrics.meter;
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
