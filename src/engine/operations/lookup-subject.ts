/**
 * LookupSubject: the subject ids of one type (and subject relation) holding a permission on one entity
 * (../lookup-subject.ts), sorted, paged by the continuation token. Every page is cut from the complete answer
 * at the first page's snapshot and schema version.
 */
import { continueAt, hashRequest, resumeFrom } from '../continuous-token.js';
import { type EngineState, normalise, pageSizeOf, prepare } from '../engine-state.js';
import { compareIds, sortIds } from '../ids.js';
import { allSubjectIds, lookupSubjectSet } from '../lookup-subject.js';
import { contextKey } from '../state.js';
import type { LookupSubjectRequest, LookupSubjectResponse } from '../types.js';

/** The index of the first id ≥ `cursor` in ascending `ids`. */
function lowerBound(ids: readonly string[], cursor: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareIds(ids[mid] as string, cursor) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export async function lookupSubject(
  es: EngineState,
  req: LookupSubjectRequest,
  signal?: AbortSignal,
): Promise<LookupSubjectResponse> {
  try {
    const pageSize = pageSizeOf(es, req.pageSize);
    const hash = hashRequest([
      'lookup-subject',
      req.tenantId,
      req.entity.type,
      req.entity.id,
      req.permission,
      req.subjectReference.type,
      req.subjectReference.relation,
      contextKey(req.context),
    ]);
    const at = resumeFrom(req.continuousToken, hash, req.metadata.schemaVersion, req.metadata.snapToken);
    const st = await prepare(es, req.tenantId, at.schemaVersion, at.snapToken, req.context, signal);
    const set = await lookupSubjectSet(st, req.entity, req.permission, req.subjectReference, undefined);
    let ids: string[];
    if (set.all) {
      const every = await allSubjectIds(st, req.subjectReference);
      // Ascending; filtering keeps the order.
      ids = every.filter((id) => !set.ids.has(id));
    } else ids = sortIds([...set.ids]);
    st.budget.charge(ids.length);
    const start = at.cursor === undefined ? 0 : lowerBound(ids, at.cursor);
    const end = Math.min(ids.length, start + pageSize);
    return { subjectIds: ids.slice(start, end), continuousToken: continueAt(ids[end], st, hash) };
  } catch (e) {
    throw normalise(e);
  }
}
