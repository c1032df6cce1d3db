/**
 * LookupEntity and LookupEntityStream: the complete candidate set (../lookup-entity.ts) is computed once per
 * request, snapshot and version (continuation pages reuse it from the candidate cache), sorted lazily, and
 * verified in id order by a window of concurrent checks; allowed ids are yielded with the token of the
 * position after them. Every page reads the first page's snapshot and schema version.
 */
import { candidateBytes, candidateCacheKey } from '../candidate-cache.js';
import { Scope } from '../combine.js';
import { continueAt, hashRequest, resumeFrom } from '../continuous-token.js';
import {
  cacheable,
  cachedEvaluate,
  cacheView,
  checkDepth,
  endsRequest,
  type EngineState,
  normalise,
  pageSizeOf,
  prepare,
} from '../engine-state.js';
import { PermifyError } from '../../errors.js';
import { compareIds, LazySortedIds } from '../ids.js';
import { collectCandidates } from '../lookup-entity.js';
import { contextKey, type EvalState, subjectText } from '../state.js';
import type { LookupEntityRequest, LookupEntityResponse, LookupEntityStreamItem } from '../types.js';

/** Extra candidate checks started beyond the ids still needed for the page. */
const lookaheadSlack = 16;

/** The allowed entity ids of one page, each with the continuation token of the position after it. */
async function* lookupEntityItems(
  es: EngineState,
  req: LookupEntityRequest,
  signal?: AbortSignal,
): AsyncGenerator<LookupEntityStreamItem> {
  const pageSize = pageSizeOf(es, req.pageSize);
  checkDepth(es, req.metadata.depth);
  const ctxKey = contextKey(req.context);
  const scopeText =
    req.scope === undefined
      ? ''
      : [...req.scope.entries()]
          .sort((a, b) => compareIds(a[0], b[0]))
          .map(([t, ids]) => `${t}=${[...ids].sort(compareIds).join(',')}`)
          .join(';');
  const hash = hashRequest([
    'lookup-entity',
    req.tenantId,
    req.entityType,
    req.permission,
    subjectText(req.subject),
    ctxKey,
    scopeText,
    String(req.metadata.depth),
  ]);
  const at = resumeFrom(req.continuousToken, hash, req.metadata.schemaVersion, req.metadata.snapToken);
  const prepared = await prepare(es, req.tenantId, at.schemaVersion, at.snapToken, req.context, signal);
  // Parallelism is spent across candidates (the window below); inside one candidate's check the children
  // run one at a time, so a candidate allowed by its first branch never pays for the others.
  const st: EvalState = { ...prepared, concurrency: 1 };
  const view = cacheView(es, st, req.context);
  // Continuation pages reuse the candidate set of the first page (same request, snapshot and version).
  const cacheKey = candidateCacheKey(st.tenantId, hash, st.snapToken, st.schemaVersion);
  let candidates = at.cursor === undefined ? undefined : es.candidateCache.get(cacheKey);
  if (candidates === undefined) {
    const candidateSet = await collectCandidates(prepared, {
      entityType: req.entityType,
      permission: req.permission,
      subject: req.subject,
      scope: req.scope,
      maxCandidates: es.maxCandidates,
    });
    // Only the ids a page reaches get sorted (a first page of a huge candidate set costs a linear selection).
    // Each step is linear in the candidates: the event loop gets a turn between them when one is due.
    await st.budget.pause();
    const ids = [...candidateSet];
    await st.budget.pause();
    candidates = new LazySortedIds(ids, pageSize + lookaheadSlack + es.bulkLimit);
    if (ids.length > pageSize && cacheable(es, st)) {
      es.candidateCache.set(cacheKey, st.tenantId, candidates, candidateBytes(ids));
    }
  }
  const sorted = candidates;
  const first = at.cursor === undefined ? 0 : sorted.lowerBound(at.cursor);
  const n = sorted.length;
  const depth = req.metadata.depth;
  const lookupScope = new Scope(undefined);
  type Outcome = { ok: true; allowed: boolean } | { ok: false; error: unknown };
  const window: Promise<Outcome>[] = [];
  let launched = first;
  let emitted = 0;
  // Look ahead no further than the ids still needed (plus a little slack): checks past a full page are waste.
  const launch = (): void => {
    // At most bulk_limit candidate checks in flight (Permify's bulk checker concurrency).
    const limit = Math.min(es.bulkLimit, pageSize - emitted + lookaheadSlack);
    while (window.length < limit && launched < n) {
      const id = sorted.at(launched++) as string;
      window.push(
        cachedEvaluate(
          es,
          st,
          view,
          { type: req.entityType, id },
          req.permission,
          req.subject,
          depth,
          new Scope(lookupScope),
        ).then(
          (allowed): Outcome => ({ ok: true, allowed }),
          (error: unknown): Outcome => ({ ok: false, error }),
        ),
      );
    }
  };
  try {
    launch();
    for (let i = first; i < n && emitted < pageSize; i++) {
      // Cached verdicts need no reads, so the loop itself gives the event loop its turns.
      const turn = st.budget.pause();
      if (turn !== undefined) await turn;
      const outcome = await (window.shift() as Promise<Outcome>);
      if (!outcome.ok) {
        const e = normalise(outcome.error);
        if (endsRequest(e)) throw e;
        // A rule evaluation error keeps its code and details (INVALID_ARGUMENT: the caller's data, not a server
        // fault); anything else is Permify's INTERNAL with the candidate's error as message.
        const ruleError = e.code === 'ERROR_CODE_INVALID_ARGUMENT';
        throw new PermifyError(
          ruleError ? e.code : 'ERROR_CODE_INTERNAL',
          `bulk execution failed: failed to get request result: ${e.message}`,
          ruleError ? { cause: e, details: e.details } : { cause: e },
        );
      }
      if (outcome.allowed) {
        emitted++;
        yield { entityId: sorted.at(i) as string, continuousToken: continueAt(sorted.at(i + 1), st, hash) };
      }
      if (emitted < pageSize) launch();
    }
  } finally {
    lookupScope.cancelled = true;
  }
}

export async function lookupEntity(
  es: EngineState,
  req: LookupEntityRequest,
  signal?: AbortSignal,
): Promise<LookupEntityResponse> {
  try {
    const entityIds: string[] = [];
    let continuousToken = '';
    for await (const item of lookupEntityItems(es, req, signal)) {
      entityIds.push(item.entityId);
      continuousToken = item.continuousToken;
    }
    return { entityIds, continuousToken };
  } catch (e) {
    throw normalise(e);
  }
}

export function lookupEntityStream(
  es: EngineState,
  req: LookupEntityRequest,
  signal?: AbortSignal,
): AsyncIterable<LookupEntityStreamItem> {
  return {
    async *[Symbol.asyncIterator]() {
      try {
        yield* lookupEntityItems(es, req, signal);
      } catch (e) {
        throw normalise(e);
      }
    },
  };
}
