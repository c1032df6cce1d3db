/**
 * Check: one permission of one entity for one subject, answered from the check cache when an equal request
 * (same tenant, schema version, snapshot, context, depth budget or less) was answered before.
 */
import {
  cachedCheck,
  cacheView,
  checkDepth,
  type EngineState,
  evalStateOf,
  normalise,
  resolveRequest,
} from '../engine-state.js';
import type { CheckRequest, CheckResponse } from '../types.js';

export async function check(es: EngineState, req: CheckRequest, signal?: AbortSignal): Promise<CheckResponse> {
  try {
    checkDepth(es, req.metadata.depth);
    const at = await resolveRequest(es, req.tenantId, req.metadata.schemaVersion, req.metadata.snapToken, signal);
    const r = await cachedCheck(
      es,
      cacheView(es, at, req.context),
      () => evalStateOf(es, at, req.context, signal),
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
