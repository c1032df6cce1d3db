/**
 * Check: one permission of one entity for one subject, answered from the check cache when an equal request
 * (same tenant, schema version, snapshot, context, depth budget or less) was answered before.
 */
import { cachedCheck, cacheView, checkDepth, type EngineState, normalise, prepare } from '../engine-state.js';
import type { CheckRequest, CheckResponse } from '../types.js';

export async function check(es: EngineState, req: CheckRequest, signal?: AbortSignal): Promise<CheckResponse> {
  try {
    checkDepth(es, req.metadata.depth);
    const st = await prepare(es, req.tenantId, req.metadata.schemaVersion, req.metadata.snapToken, req.context, signal);
    const r = await cachedCheck(
      es,
      st,
      cacheView(es, st, req.context),
      req.entity,
      req.permission,
      req.subject,
      req.metadata.depth,
      req.arguments,
    );
    return { can: r.can, metadata: { checkCount: r.count } };
  } catch (e) {
    throw normalise(e);
  }
}
