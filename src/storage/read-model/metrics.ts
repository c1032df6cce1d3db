/**
 * The read model's state as Prometheus lines (rendered at each scrape of `/metrics`):
 *
 * - `permify_read_model_caught_up`: 1 while tailing normally (reads and head tokens come from the model);
 * - `permify_read_model_lag_seconds`: time since the last successful tailing cycle;
 * - `permify_read_model_rows{tenant}` / `permify_read_model_bytes{tenant}`: what each loaded tenant holds;
 * - `permify_read_model_max_rows` / `permify_read_model_max_bytes`: the budget;
 * - counters: `..._cycles_total`, `..._failed_cycles_total`, `..._applied_transactions_total`,
 *   `..._reads_total` (answered by the model), `..._fallback_reads_total` (read from PostgreSQL instead).
 */
import type { ReadModelState } from './read-model.js';

const label = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export function readModelMetricLines(s: ReadModelState): string[] {
  const gauge = (name: string, help: string, value: number): string[] => [
    `# HELP ${name} ${help}`,
    `# TYPE ${name} gauge`,
    `${name} ${value}`,
  ];
  const counter = (name: string, help: string, value: number): string[] => [
    `# HELP ${name} ${help}`,
    `# TYPE ${name} counter`,
    `${name} ${value}`,
  ];
  const lines = [
    ...gauge('permify_read_model_caught_up', 'Whether the read model is tailing normally.', s.caughtUp ? 1 : 0),
    ...gauge(
      'permify_read_model_lag_seconds',
      'Seconds since the last successful tailing cycle (-1 before the first).',
      s.lastCycleAgoMs < 0 ? -1 : s.lastCycleAgoMs / 1000,
    ),
    ...gauge('permify_read_model_max_rows', 'Rows the read model may hold.', s.maxTuples),
    ...gauge('permify_read_model_max_bytes', 'Estimated bytes the read model may hold.', s.maxBytes),
    ...counter('permify_read_model_cycles_total', 'Successful tailing cycles.', s.cycles),
    ...counter('permify_read_model_failed_cycles_total', 'Failed tailing cycles (retried).', s.failedCycles),
    ...counter('permify_read_model_applied_transactions_total', 'Write transactions applied.', s.appliedTransactions),
    ...counter('permify_read_model_reads_total', 'Reads answered by the read model.', s.modelReads),
    ...counter('permify_read_model_fallback_reads_total', 'Reads sent to PostgreSQL instead.', s.fallbacks),
    '# HELP permify_read_model_rows Rows (history included) the read model holds per loaded tenant.',
    '# TYPE permify_read_model_rows gauge',
  ];
  for (const t of s.tenants)
    if (t.loaded) lines.push(`permify_read_model_rows{tenant="${label(t.tenantId)}"} ${t.rows}`);
  lines.push(
    '# HELP permify_read_model_bytes Estimated bytes the read model holds per loaded tenant.',
    '# TYPE permify_read_model_bytes gauge',
  );
  for (const t of s.tenants)
    if (t.loaded) lines.push(`permify_read_model_bytes{tenant="${label(t.tenantId)}"} ${t.bytes}`);
  return lines;
}
