/**
 * permifyts.v1.Explain end to end (issue 14): the real server on port 0, driven over gRPC (a connect-node
 * gRPC client) and REST (`POST /v1/tenants/{tenant_id}/permissions/explain`). Each answer is compared with
 * Permission.Check's for the same request; denials, rules with context data, depth exhaustion on cyclic data
 * and contextual tuples are covered on both transports.
 */
import { createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckResult } from '../../src/api/gen/base/v1/base_pb.js';
import { Data, Permission, Schema } from '../../src/api/gen/base/v1/service_pb.js';
import {
  Explain,
  ExplainNodeKind,
  ExplainOutcome,
  type ExplainNode,
} from '../../src/api/gen/permifyts/v1/explain_pb.js';
import type { RunningServer } from '../../src/server.js';
import { request, startTestServer } from './rest-support.js';

const schema = `
entity user {}
entity folder {
  relation parent @folder
  relation viewer @user
  permission view = viewer or parent.view
}
entity doc {
  relation parent @folder
  relation owner @user
  attribute level integer
  permission view = owner or parent.view
  permission high = is_high(level)
}
rule is_high(level integer) {
  level > context.data.min
}`;

const tenant = 't1';

interface JsonNode {
  kind: string;
  entity: { type: string; id: string };
  name: string;
  expression: string;
  outcome: string;
  cached: boolean;
  tuples: { tuple: { entity: { id: string }; relation: string; subject: { id: string } }; contextual: boolean }[];
  attributes: unknown[];
  rule?: { name: string; arguments: Record<string, unknown>; context_data: Record<string, unknown>; result: boolean };
  missing: string[];
  note: string;
  children: JsonNode[];
}

interface JsonAnswer {
  can: string;
  metadata: { snap_token: string; schema_version: string; check_count: number; depth: number };
  root: JsonNode;
  error?: { code: string; message: string };
}

function findJson(n: JsonNode, pred: (n: JsonNode) => boolean): JsonNode | undefined {
  if (pred(n)) return n;
  for (const c of n.children ?? []) {
    const hit = findJson(c, pred);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

function findProto(n: ExplainNode, pred: (n: ExplainNode) => boolean): ExplainNode | undefined {
  if (pred(n)) return n;
  for (const c of n.children) {
    const hit = findProto(c, pred);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

describe('permifyts.v1.Explain over gRPC and REST', () => {
  let server: RunningServer;
  let explain: Client<typeof Explain>;
  let permission: Client<typeof Permission>;
  let schemaVersion = '';
  let snapToken = '';

  beforeAll(async () => {
    server = await startTestServer();
    const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.ports.grpc}` });
    explain = createClient(Explain, transport);
    permission = createClient(Permission, transport);
    ({ schemaVersion } = await createClient(Schema, transport).write({ tenantId: tenant, schema }));
    const t = (e: string, rel: string, s: string) => {
      const [et, ei] = e.split(':') as [string, string];
      const [st, si] = s.split(':') as [string, string];
      return { entity: { type: et, id: ei }, relation: rel, subject: { type: st, id: si } };
    };
    ({ snapToken } = await createClient(Data, transport).write({
      tenantId: tenant,
      metadata: { schemaVersion },
      tuples: [
        t('doc:1', 'parent', 'folder:a'),
        t('folder:a', 'parent', 'folder:b'),
        t('folder:b', 'viewer', 'user:v'),
        t('folder:c', 'parent', 'folder:d'),
        t('folder:d', 'parent', 'folder:c'),
      ],
    }));
  });
  afterAll(async () => server.close());

  const body = (entity: string, perm: string, subject: string, extra: Record<string, unknown> = {}) => {
    const [et, ei] = entity.split(':') as [string, string];
    const [st, si] = subject.split(':') as [string, string];
    return {
      metadata: { snap_token: snapToken, schema_version: '', depth: 10 },
      entity: { type: et, id: ei },
      permission: perm,
      subject: { type: st, id: si, relation: '' },
      ...extra,
    };
  };

  const rest = async (b: ReturnType<typeof body>): Promise<JsonAnswer> => {
    const r = await request(server.ports.http as number, 'POST', `/v1/tenants/${tenant}/permissions/explain`, b);
    expect(r.status, r.text).toBe(200);
    return r.json as JsonAnswer;
  };

  it('an allowed check through two walks: same answer and tree over gRPC and REST, equal to Check', async () => {
    const req = {
      tenantId: tenant,
      metadata: { snapToken, depth: 10 },
      entity: { type: 'doc', id: '1' },
      permission: 'view',
      subject: { type: 'user', id: 'v' },
    };
    const g = await explain.check(req);
    const c = await permission.check(req);
    expect(g.can).toBe(CheckResult.ALLOWED);
    expect(g.can).toBe(c.can);
    expect(g.metadata).toMatchObject({ snapToken, schemaVersion, depth: 10 });
    expect(g.root?.kind).toBe(ExplainNodeKind.PERMISSION);
    const hit = findProto(g.root as ExplainNode, (n) => n.kind === ExplainNodeKind.SUBJECT);
    expect(hit?.tuples[0]?.tuple?.entity?.id).toBe('b');

    const r = await rest(body('doc:1', 'view', 'user:v'));
    expect(r.can).toBe('CHECK_RESULT_ALLOWED');
    expect(r.metadata).toMatchObject({ snap_token: snapToken, schema_version: schemaVersion, depth: 10 });
    expect(r.metadata.check_count).toBe(g.metadata?.checkCount);
    expect(r.root).toMatchObject({
      kind: 'EXPLAIN_NODE_KIND_PERMISSION',
      entity: { type: 'doc', id: '1' },
      name: 'view',
      expression: 'owner or parent.view',
      outcome: 'EXPLAIN_OUTCOME_ALLOWED',
    });
    const walk = findJson(r.root, (n) => n.kind === 'EXPLAIN_NODE_KIND_WALK');
    expect(walk).toMatchObject({ name: 'parent', expression: 'parent.view', outcome: 'EXPLAIN_OUTCOME_ALLOWED' });
    expect(walk?.tuples[0]?.tuple.subject.id).toBe('a');
    expect(walk?.tuples[0]?.contextual).toBe(false);
  });

  it('a denial lists what is missing (REST and gRPC)', async () => {
    const r = await rest(body('doc:1', 'view', 'user:x'));
    expect(r.can).toBe('CHECK_RESULT_DENIED');
    expect(r.root.outcome).toBe('EXPLAIN_OUTCOME_DENIED');
    expect(r.root.missing).toEqual([
      'doc:1#owner@user:x',
      'folder:a#viewer@user:x',
      'folder:b#viewer@user:x',
      'folder:b#parent@folder:<id>',
    ]);
    const g = await explain.check({
      tenantId: tenant,
      metadata: { snapToken, depth: 10 },
      entity: { type: 'doc', id: '1' },
      permission: 'view',
      subject: { type: 'user', id: 'x' },
    });
    expect(g.can).toBe(CheckResult.DENIED);
    expect(g.root?.missing).toEqual(r.root.missing);
  });

  it('a rule with context data: arguments, the data used and the result', async () => {
    const req = body('doc:1', 'high', 'user:x', {
      context: {
        tuples: [],
        attributes: [
          {
            entity: { type: 'doc', id: '1' },
            attribute: 'level',
            value: { '@type': 'type.googleapis.com/base.v1.IntegerValue', data: 7 },
          },
        ],
        data: { min: 5, unused: 'x' },
      },
    });
    const r = await rest(req);
    expect(r.can).toBe('CHECK_RESULT_ALLOWED');
    const call = findJson(r.root, (n) => n.kind === 'EXPLAIN_NODE_KIND_RULE_CALL');
    expect(call?.rule).toMatchObject({
      name: 'is_high',
      arguments: { level: 7 },
      context_data: { min: 5 },
      result: true,
    });
    const g = await explain.check({
      tenantId: tenant,
      metadata: { snapToken, depth: 10 },
      entity: { type: 'doc', id: '1' },
      permission: 'high',
      subject: { type: 'user', id: 'x' },
      context: { data: { min: 9 } },
    });
    expect(g.can).toBe(CheckResult.DENIED);
    const gcall = findProto(g.root as ExplainNode, (n) => n.kind === ExplainNodeKind.RULE_CALL);
    expect(gcall?.rule?.result).toBe(false);
    expect(gcall?.rule?.arguments).toEqual({ level: null });
    expect(gcall?.rule?.contextData).toEqual({ min: 9 });
  });

  it('depth exhaustion on cyclic data: the error Check fails with, and the cycle', async () => {
    const req = {
      tenantId: tenant,
      metadata: { snapToken, depth: 5 },
      entity: { type: 'folder', id: 'c' },
      permission: 'view',
      subject: { type: 'user', id: 'x' },
    };
    await expect(permission.check(req)).rejects.toThrow(/DEPTH_NOT_ENOUGH/);
    const g = await explain.check(req);
    expect(g.can).toBe(CheckResult.UNSPECIFIED);
    expect(g.error?.code).toBe('ERROR_CODE_DEPTH_NOT_ENOUGH');
    expect(g.root?.outcome).toBe(ExplainOutcome.DEPTH_EXHAUSTED);
    const cycle = findProto(g.root as ExplainNode, (n) => n.outcome === ExplainOutcome.CYCLE);
    expect(cycle?.note).toMatch(/^cycle: folder:(c|d)#view -> folder:(c|d)#view -> folder:(c|d)#view/);

    const r = await rest({
      ...body('folder:c', 'view', 'user:x'),
      metadata: { snap_token: snapToken, schema_version: '', depth: 5 },
    });
    expect(r.error?.code).toBe('ERROR_CODE_DEPTH_NOT_ENOUGH');
    expect(findJson(r.root, (n) => n.outcome === 'EXPLAIN_OUTCOME_CYCLE')?.note).toBe(cycle?.note);
  });

  it('contextual tuples are used and marked contextual', async () => {
    const r = await rest(
      body('doc:2', 'view', 'user:v', {
        context: {
          tuples: [
            {
              entity: { type: 'doc', id: '2' },
              relation: 'parent',
              subject: { type: 'folder', id: 'b', relation: '' },
            },
          ],
          attributes: [],
          data: {},
        },
      }),
    );
    expect(r.can).toBe('CHECK_RESULT_ALLOWED');
    const walk = findJson(r.root, (n) => n.kind === 'EXPLAIN_NODE_KIND_WALK');
    expect(walk?.tuples).toEqual([
      {
        tuple: {
          entity: { type: 'doc', id: '2' },
          relation: 'parent',
          subject: { type: 'folder', id: 'b', relation: '' },
        },
        contextual: true,
      },
    ]);
  });

  it('bad input is refused as for Check (REST 400, gRPC INVALID_ARGUMENT)', async () => {
    const bad = { ...body('doc:1', 'view', 'user:x'), metadata: { snap_token: '', schema_version: '', depth: 1 } };
    const r = await request(server.ports.http as number, 'POST', `/v1/tenants/${tenant}/permissions/explain`, bad);
    expect(r.status).toBe(400);
    await expect(
      explain.check({
        tenantId: tenant,
        metadata: { depth: 1 },
        entity: { type: 'doc', id: '1' },
        permission: 'view',
        subject: { type: 'user', id: 'x' },
      }),
    ).rejects.toThrow(/depth/i);
  });
});
