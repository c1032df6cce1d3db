/**
 * Explain: a Check with the proof tree of its evaluation (../explain.ts). Same validation and resolution as
 * Check; the cache is only consulted to mark the root `cached`, never filled.
 */
import { checkCacheKey } from '../check-cache.js';
import { checkDepth, type EngineState, normalise, prepare } from '../engine-state.js';
import { explainCheck } from '../explain.js';
import { contextKey } from '../state.js';
import type { CheckRequest, ExplainResponse } from '../types.js';

export async function explain(es: EngineState, req: CheckRequest, signal?: AbortSignal): Promise<ExplainResponse> {
  try {
    checkDepth(es, req.metadata.depth);
    const st = await prepare(es, req.tenantId, req.metadata.schemaVersion, req.metadata.snapToken, req.context, signal);
    let cached = false;
    if (es.cacheOn) {
      const key = checkCacheKey(
        st.tenantId,
        st.schemaVersion,
        st.snapToken,
        contextKey(req.context),
        req.entity,
        req.permission,
        req.subject,
        req.arguments,
      );
      cached = es.checkCache.get(key, req.metadata.depth) !== undefined;
    }
    return await explainCheck({ ...st, concurrency: 1 }, req, cached, es.maxExplainNodes);
  } catch (e) {
    throw normalise(e);
  }
}
