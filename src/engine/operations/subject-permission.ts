/**
 * SubjectPermission: every permission (and, unless `onlyPermission`, relation) of one entity for one subject,
 * in schema order. Each name is verified like a lookup candidate (entering `evaluate` at the request depth),
 * sharing check-cache entries with equivalent Checks.
 */
import { Scope, mapBounded } from '../combine.js';
import { cachedEvaluate, cacheView, checkDepth, type EngineState, normalise, prepare, resultOf } from '../engine-state.js';
import { entityNotFound } from '../state.js';
import type { CheckResult, SubjectPermissionRequest, SubjectPermissionResponse } from '../types.js';

export async function subjectPermission(
  es: EngineState,
  req: SubjectPermissionRequest,
  signal?: AbortSignal,
): Promise<SubjectPermissionResponse> {
  try {
    checkDepth(es, req.metadata.depth);
    const st = await prepare(es, req.tenantId, req.metadata.schemaVersion, req.metadata.snapToken, req.context, signal);
    const def = st.schema.entities.get(req.entity.type);
    if (def === undefined) throw entityNotFound(req.entity.type);
    const names = def.memberOrder.filter((m) => {
      const k = def.references.get(m);
      return k === 'permission' || (k === 'relation' && req.metadata.onlyPermission !== true);
    });
    const view = cacheView(es, st, req.context);
    const values = await mapBounded(names, es.concurrency, (name) =>
      cachedEvaluate(es, st, view, req.entity, name, req.subject, req.metadata.depth, new Scope(undefined)),
    );
    const results = new Map<string, CheckResult>();
    names.forEach((n, i) => results.set(n, resultOf(values[i] as boolean)));
    return { results };
  } catch (e) {
    throw normalise(e);
  }
}
