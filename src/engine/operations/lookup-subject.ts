/**
 * LookupSubject: the subject ids of one type (and subject relation) holding a permission on one entity
 * (../lookup-subject.ts), sorted, paged by the continuation token. Every page is cut from the complete answer
 * at the first page's snapshot and schema version, computed once: continuation pages take it from the
 * candidate cache (keyed like LookupEntity's, by tenant, request, snapshot and version), sorted lazily as the
 * pages advance. Without it every page recomputed and sorted the whole answer.
 */
import { candidateBytes, candidateCacheKey } from '../candidate-cache.js';
import { continueAt, hashRequest, resumeFrom } from '../continuous-token.js';
import { cacheable, type EngineState, normalise, pageSizeOf, prepare } from '../engine-state.js';
import { LazySortedIds } from '../ids.js';
import { allSubjectIds, lookupSubjectSet } from '../lookup-subject.js';
import { contextKey } from '../state.js';
import type { LookupSubjectRequest, LookupSubjectResponse } from '../types.js';

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
    const cacheKey = candidateCacheKey(st.tenantId, hash, st.snapToken, st.schemaVersion);
    let answer = at.cursor === undefined ? undefined : es.candidateCache.get(cacheKey);
    if (answer === undefined) {
      const set = await lookupSubjectSet(st, req.entity, req.permission, req.subjectReference, undefined);
      let ids: string[];
      if (set.all) {
        const every = await allSubjectIds(st, req.subjectReference);
        // Ascending; filtering keeps the order.
        ids = every.filter((id) => !set.ids.has(id));
      } else ids = [...set.ids];
      st.budget.charge(ids.length);
      // Only the ids a page reaches get sorted (a first page of a huge answer costs a linear selection).
      answer = new LazySortedIds(ids, pageSize + 1);
      if (ids.length > pageSize && cacheable(es, st)) {
        es.candidateCache.set(cacheKey, st.tenantId, answer, candidateBytes(ids));
      }
    }
    const start = at.cursor === undefined ? 0 : answer.lowerBound(at.cursor);
    const end = Math.min(answer.length, start + pageSize);
    const subjectIds: string[] = [];
    for (let i = start; i < end; i += 1) subjectIds.push(answer.at(i) as string);
    return { subjectIds, continuousToken: continueAt(answer.at(end), st, hash) };
  } catch (e) {
    throw normalise(e);
  }
}
