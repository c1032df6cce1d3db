/**
 * Explain (permifyts.v1.Explain/Check): a Check evaluated by the Check evaluator itself (check.ts) with a
 * trace node passed down, so the proof tree is the record of the evaluation that produced the answer; there
 * is no second evaluator that could disagree with Check.
 *
 * Choices (documented in docs/explain.md):
 * - The check cache is bypassed: the request is always evaluated, and the root is marked `cached` when Check
 *   would have answered it from the cache (only whole requests are cached). Explain does not fill the cache.
 * - Children of a combination run one at a time (concurrency 1), in the evaluator's usual order (cheap
 *   operands first), so the same request on the same snapshot gives the same tree; the result is the same
 *   as with concurrent children (combinations are deterministic, spec §5.2.2).
 * - Errors Check would answer with (depth exhaustion, rule evaluation errors, unknown definitions) are
 *   answered here with `can` undefined, the error, and the tree showing where it happened. Cancellation,
 *   deadlines and store failures are thrown, as Check throws them.
 */
import type { Subject } from '../data/types.js';
import { PermifyError, toPermifyError } from '../errors.js';
import { checkRoot } from './check.js';
import { ScopeCancelled } from './combine.js';
import { addMissing, entityText, subjectNotation, traceRoot, type TraceNode } from './explain-trace.js';
import type { EvalState } from './state.js';
import type { CheckRequest, ExplainResponse } from './types.js';

/** Errors that are part of the answer (Check would have answered with them); anything else is thrown. */
const explainedCodes: ReadonlySet<string> = new Set([
  'ERROR_CODE_DEPTH_NOT_ENOUGH',
  'ERROR_CODE_TYPE_CONVERSATION',
  'ERROR_CODE_INVALID_ARGUMENT',
  'ERROR_CODE_INTERNAL',
  'ERROR_CODE_SCHEMA_NOT_FOUND',
]);

/**
 * Evaluates `req` on `st` (already resolved to one schema version and snapshot) and returns the answer with
 * its proof tree. `cached`: Check would have answered this request from the check cache.
 */
export async function explainCheck(
  st: EvalState,
  req: CheckRequest,
  cached: boolean,
  maxNodes: number,
): Promise<ExplainResponse> {
  const root = traceRoot(req.entity, maxNodes);
  root.name = req.permission;
  let can: ExplainResponse['can'];
  let error: PermifyError | undefined;
  try {
    const allowed = await checkRoot(
      st,
      req.entity,
      req.permission,
      req.subject,
      req.metadata.depth,
      req.arguments,
      root,
    );
    can = allowed ? 'allowed' : 'denied';
  } catch (e) {
    const err = e instanceof ScopeCancelled ? new PermifyError('ERROR_CODE_CANCELLED') : toPermifyError(e);
    if (!explainedCodes.has(err.code)) throw err;
    error = err;
  }
  if (root.tree.exceeded) {
    throw new PermifyError(
      'ERROR_CODE_VALIDATION',
      `explain tree limit exceeded: service.permission.max_explain_nodes=${maxNodes} (lower metadata.depth or raise the limit)`,
      { details: { limit: 'maxExplainNodes' } },
    );
  }
  root.cached = cached;
  finalize(root, req.subject);
  return {
    can,
    error: error === undefined ? undefined : { code: error.code, message: error.message },
    metadata: {
      snapToken: st.snapToken,
      schemaVersion: st.schemaVersion,
      checkCount: st.count,
      depth: req.metadata.depth,
    },
    root,
  };
}

/**
 * Fills `missing` bottom-up: a denied leaf names what would have had to hold (the tuple of a relation, `true`
 * for a boolean attribute, a tuple to follow for a walk without any), a denied inner node gathers its denied
 * children's (any one of them for a union, walk or relation; all for an intersection). An exclusion denied by
 * its excluded side needs something removed rather than added: it says so in its note.
 */
function finalize(node: TraceNode, subject: Subject): void {
  for (const c of node.children) finalize(c, subject);
  if (node.outcome !== 'denied') return;
  switch (node.kind) {
    case 'relation':
      addMissing(node, [`${entityText(node.entity)}#${node.name}@${subjectNotation(subject)}`]);
      break;
    case 'attribute':
      addMissing(node, [`${entityText(node.entity)}$${node.name}|boolean:true`]);
      return;
    case 'rule-call':
      if (node.note === '') node.note = `rule ${node.name} evaluated to false`;
      return;
    case 'exclusion': {
      const [base, excluded] = node.children;
      if (base !== undefined && base.outcome === 'denied') addMissing(node, base.missing);
      else if (excluded !== undefined && excluded.outcome === 'allowed' && node.note === '') {
        const step = excluded.kind !== 'walk' && excluded.name !== '';
        node.note = `excluded: ${step ? excluded.name : excluded.expression} holds`;
      }
      return;
    }
    default:
      break;
  }
  for (const c of node.children) if (c.outcome === 'denied') addMissing(node, c.missing);
}
