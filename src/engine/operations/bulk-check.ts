/**
 * BulkCheck: the items of one request share one schema version, snapshot, context and work budget; each item
 * has its own memo and check count. An item that fails is answered `denied` with check count 1 (upstream's
 * behaviour), except that cancellation and deadlines end the whole request.
 */
import { mapBounded } from '../combine.js';
import {
  cachedCheck,
  cacheView,
  checkDepth,
  endsRequest,
  type EngineState,
  evalStateOf,
  normalise,
  type ResolvedRequest,
  resolveRequest,
} from '../engine-state.js';
import { type EvalState, forkEvalState } from '../state.js';
import type { BulkCheckRequest, BulkCheckResponse, CheckResponse } from '../types.js';

const failed: CheckResponse = { can: 'denied', metadata: { checkCount: 1 } };

export async function bulkCheck(
  es: EngineState,
  req: BulkCheckRequest,
  signal?: AbortSignal,
): Promise<BulkCheckResponse> {
  try {
    checkDepth(es, req.metadata.depth);
  } catch (e) {
    throw normalise(e);
  }
  let at: ResolvedRequest;
  try {
    at = await resolveRequest(es, req.tenantId, req.metadata.schemaVersion, req.metadata.snapToken, signal);
  } catch (e) {
    const err = normalise(e);
    if (endsRequest(err)) throw err;
    return { results: req.items.map(() => failed) };
  }
  const view = cacheView(es, at, req.context);
  // One evaluation state for the request (its budget), made at the first miss; each item gets its own fork.
  let base: EvalState | undefined;
  const fork = (): EvalState => forkEvalState((base ??= evalStateOf(es, at, req.context, signal)));
  const results = await mapBounded(req.items, es.concurrency, async (item): Promise<CheckResponse> => {
    try {
      const r = await cachedCheck(
        es,
        view,
        fork,
        item.entity,
        item.permission,
        item.subject,
        req.metadata.depth,
        req.arguments,
      );
      return { can: r.can, metadata: { checkCount: r.count } };
    } catch (e) {
      const err = normalise(e);
      if (endsRequest(err)) throw err;
      return failed;
    }
  }).catch((e: unknown) => {
    throw normalise(e);
  });
  return { results };
}
