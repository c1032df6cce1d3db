/**
 * `permify explain` (issue 14): in-process from a validation file, and against a running server's
 * permifyts.v1.Explain over gRPC (with a preshared key), printing the proof tree or the REST JSON.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerExplain } from '../../src/cli/commands/explain.js';
import type { RunningServer } from '../../src/server.js';
import { runCli } from '../support/cli-run.js';
import { request, startTestServer } from './rest-support.js';

const schema = `entity user {}
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

const relationships = ['doc:1#parent@folder:a', 'folder:a#parent@folder:b', 'folder:b#viewer@user:v'];

describe('permify explain', () => {
  let file: string;
  let server: RunningServer;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'explain-cli-'));
    file = join(dir, 'world.yaml');
    writeFileSync(
      file,
      [
        'schema: |-',
        ...schema.split('\n').map((l) => `  ${l}`),
        'relationships:',
        ...relationships.map((r) => `  - ${r}`),
        'attributes:',
        '  - doc:1$level|integer:7',
        'scenarios: []',
        '',
      ].join('\n'),
    );
    server = await startTestServer({
      'authn.enabled': 'true',
      'authn.method': 'preshared',
      'authn.preshared.keys': 'k1',
    });
    const http = server.ports.http as number;
    const auth = { authorization: 'Bearer k1' };
    const w = await request(http, 'POST', '/v1/tenants/t1/schemas/write', { schema }, auth);
    expect(w.status, w.text).toBe(200);
    const d = await request(
      http,
      'POST',
      '/v1/tenants/t1/data/write',
      {
        metadata: { schema_version: '' },
        tuples: relationships.map((r) => {
          const [, et, ei, rel, st, si] = /^(\w+):(\w+)#(\w+)@(\w+):(\w+)$/.exec(r) as RegExpExecArray;
          return { entity: { type: et, id: ei }, relation: rel, subject: { type: st, id: si, relation: '' } };
        }),
        attributes: [],
      },
      auth,
    );
    expect(d.status, d.text).toBe(200);
  });
  afterAll(async () => server.close());

  it('in-process from a validation file: an allowed check as a tree', async () => {
    const r = await runCli([registerExplain], ['explain', '--file', file, 'doc:1', 'view', 'user:v']);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe('ALLOWED');
    expect(r.out).toContain('ALLOWED permission doc:1#view = owner or parent.view');
    expect(r.out).toContain('ALLOWED subject folder:b#viewer@user:v');
    expect(r.out).toContain('read doc:1#parent@folder:a');
  });

  it('in-process: a denial lists what is missing; a rule with --data shows its evaluation', async () => {
    const denied = await runCli([registerExplain], ['explain', '-f', file, 'doc:1', 'view', 'user:x']);
    expect(denied.out.split('\n')[0]).toBe('DENIED');
    expect(denied.out).toContain(
      'missing (leaves that would have had to hold):\n  doc:1#owner@user:x\n  folder:a#viewer@user:x',
    );
    const rule = await runCli(
      [registerExplain],
      ['explain', '-f', file, 'doc:1', 'high', 'user:x', '--data', '{"min":3}'],
    );
    expect(rule.out).toContain('rule is_high(level=7) context.data {"min":3} -> true');
    const bad = await runCli([registerExplain], ['explain', '-f', file, 'doc:1', 'high', 'user:x', '--data', '[1]']);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('--data must be a JSON object');
  });

  it('against a running server over gRPC, with a token; --json prints the REST answer', async () => {
    const address = `127.0.0.1:${server.ports.grpc}`;
    const r = await runCli(
      [registerExplain],
      ['explain', '--address', address, '--token', 'k1', 'doc:1', 'view', 'user:v'],
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('ALLOWED subject folder:b#viewer@user:v');
    const j = await runCli(
      [registerExplain],
      [
        'explain',
        '--address',
        address,
        '--token',
        'k1',
        '--json',
        '--context-tuple',
        'doc:2#owner@user:q',
        'doc:2',
        'view',
        'user:q',
      ],
    );
    expect(j.code, j.err).toBe(0);
    const answer = JSON.parse(j.out) as { can: string; root: { kind: string } };
    expect(answer.can).toBe('CHECK_RESULT_ALLOWED');
    expect(answer.root.kind).toBe('EXPLAIN_NODE_KIND_PERMISSION');
    expect(j.out).toContain('"contextual": true');
    const unauth = await runCli([registerExplain], ['explain', '--address', address, 'doc:1', 'view', 'user:v']);
    expect(unauth.code).toBe(1);
    expect(unauth.err).toContain('UNAUTHENTICATED');
  });
});
