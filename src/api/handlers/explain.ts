/**
 * permifyts.v1.Explain: Check, answered with the proof tree of its evaluation (docs/explain.md). The request
 * is base.v1.PermissionCheckRequest, validated exactly as Permission.Check's; the engine evaluates it with
 * the Check evaluator (src/engine/explain.ts) and this handler only converts the tree to protobuf.
 */
import { create, type JsonObject } from '@bufbuild/protobuf';
import type { ExplainResponse as EngineExplainResponse } from '../../engine/types.js';
import type { TraceKind, TraceNode, TraceOutcome } from '../../engine/explain-trace.js';
import { attributeValueToAny } from '../convert/attribute-value.js';
import {
  argumentsFromProto,
  contextFromProto,
  entityFromProto,
  entityToProto,
  subjectFromProto,
  tupleToProto,
} from '../convert/data.js';
import { CheckResult } from '../gen/base/v1/base_pb.js';
import * as x from '../gen/permifyts/v1/explain_pb.js';
import { unary, type HandlerEnv } from './deps.js';
import type { ServiceHandlers } from './types.js';

const kinds: Readonly<Record<TraceKind, x.ExplainNodeKind>> = {
  permission: x.ExplainNodeKind.PERMISSION,
  relation: x.ExplainNodeKind.RELATION,
  walk: x.ExplainNodeKind.WALK,
  attribute: x.ExplainNodeKind.ATTRIBUTE,
  'rule-call': x.ExplainNodeKind.RULE_CALL,
  union: x.ExplainNodeKind.UNION,
  intersection: x.ExplainNodeKind.INTERSECTION,
  exclusion: x.ExplainNodeKind.EXCLUSION,
  subject: x.ExplainNodeKind.SUBJECT,
};

const outcomes: Readonly<Record<TraceOutcome, x.ExplainOutcome>> = {
  allowed: x.ExplainOutcome.ALLOWED,
  denied: x.ExplainOutcome.DENIED,
  skipped: x.ExplainOutcome.SKIPPED,
  'depth-exhausted': x.ExplainOutcome.DEPTH_EXHAUSTED,
  cycle: x.ExplainOutcome.CYCLE,
  error: x.ExplainOutcome.ERROR,
};

/** The proof tree as protobuf (iterative: a tree on cyclic data can be as deep as the depth limit). */
export function explainNodeToProto(root: TraceNode): x.ExplainNode {
  const convert = (n: TraceNode): x.ExplainNode =>
    create(x.ExplainNodeSchema, {
      kind: kinds[n.kind],
      entity: entityToProto(n.entity),
      name: n.name,
      expression: n.expression,
      outcome: outcomes[n.outcome],
      cached: n.cached,
      tuples: n.tuples.map((t) =>
        create(x.ExplainTupleSchema, { tuple: tupleToProto(t.tuple), contextual: t.contextual }),
      ),
      attributes: n.attributes.map((a) =>
        create(x.ExplainAttributeSchema, {
          entity: entityToProto(a.entity),
          attribute: a.attribute,
          value: a.value === undefined ? undefined : attributeValueToAny(a.value),
          contextual: a.contextual,
        }),
      ),
      rule:
        n.rule === undefined
          ? undefined
          : create(x.ExplainRuleSchema, {
              name: n.rule.name,
              arguments: n.rule.arguments as JsonObject,
              contextData: n.rule.contextData as JsonObject,
              result: n.rule.result,
              error: n.rule.error,
            }),
      missing: [...n.missing],
      note: n.note,
    });
  const out = convert(root);
  const stack: [TraceNode, x.ExplainNode][] = [[root, out]];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [n, p] = top;
    for (const c of n.children) {
      const pc = convert(c);
      p.children.push(pc);
      stack.push([c, pc]);
    }
  }
  return out;
}

export function explainResponseToProto(r: EngineExplainResponse): x.ExplainResponse {
  return create(x.ExplainResponseSchema, {
    can: r.can === undefined ? CheckResult.UNSPECIFIED : r.can === 'allowed' ? CheckResult.ALLOWED : CheckResult.DENIED,
    metadata: create(x.ExplainMetadataSchema, {
      snapToken: r.metadata.snapToken,
      schemaVersion: r.metadata.schemaVersion,
      checkCount: r.metadata.checkCount,
      depth: r.metadata.depth,
    }),
    root: explainNodeToProto(r.root),
    error: r.error === undefined ? undefined : create(x.ExplainErrorSchema, r.error),
  });
}

export function createExplainHandlers(env: HandlerEnv): ServiceHandlers<typeof x.Explain> {
  const { engine } = env;
  return {
    Check: unary(async (r, ctx) =>
      explainResponseToProto(
        await engine.explain(
          {
            tenantId: r.tenantId,
            metadata: {
              schemaVersion: r.metadata?.schemaVersion ?? '',
              snapToken: r.metadata?.snapToken ?? '',
              depth: r.metadata?.depth ?? 0,
            },
            entity: entityFromProto(r.entity),
            permission: r.permission,
            subject: subjectFromProto(r.subject),
            context: contextFromProto(r.context),
            arguments: argumentsFromProto(r.arguments),
          },
          ctx.signal,
        ),
      ),
    ),
  };
}
