/** Expand: the userset tree of one permission of one entity (../expand.ts) at the resolved snapshot. */
import { type EngineState, normalise, prepare } from '../engine-state.js';
import { expandTree } from '../expand.js';
import type { ExpandRequest, ExpandResponse } from '../types.js';

export async function expand(es: EngineState, req: ExpandRequest, signal?: AbortSignal): Promise<ExpandResponse> {
  try {
    const st = await prepare(es, req.tenantId, req.metadata.schemaVersion, req.metadata.snapToken, req.context, signal);
    return { tree: await expandTree(st, req.entity, req.permission, req.arguments) };
  } catch (e) {
    throw normalise(e);
  }
}
