/**
 * Explain: a Check with the proof tree of its evaluation (../explain.ts). Same validation and resolution as
 * Check; the cache is only consulted to mark the root `cached`, never filled.
 */
import { cacheView, checkDepth, type EngineState, normalise, prepare } from '../engine-state.js';
import { explainCheck } from '../explain.js';
import type { CheckRequest, ExplainResponse } from '../types.js';

export async function explain(es: EngineState, req: CheckRequest, signal?: AbortSignal): Promise<ExplainResponse> {
  try {
    checkDepth(es, req.metadata.depth);
    const st = await prepare(es, req.tenantId, req.metadata.schemaVersion, req.metadata.snapToken, req.context, signal);
    const view = cacheView(es, st, req.context);
    const cached =
      view !== undefined &&
      es.checkCache.get(view, req.entity, req.permission, req.subject, req.arguments, req.metadata.depth) !== undefined;
    return await explainCheck({ ...st, concurrency: 1 }, req, cached, es.maxExplainNodes);
  } catch (e) {
    throw normalise(e);
  }
}
