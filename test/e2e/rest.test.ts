/**
 * Drives every REST route of the real server (port 0, memory store) over HTTP and validates every
 * response body against Permify's OpenAPI document; plus routing errors, JSON errors, CORS, body limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import { assertMatchesOpenApi, request, startTestServer } from './rest-support.js';

const SCHEMA = `
entity user {}
entity organization {
  relation member @user
}
entity document {
  relation owner @user
  relation org @organization
  attribute public boolean
  permission edit = owner
  permission view = owner or org.member or is_public(public)
}
rule is_public(public boolean) {
  public == true
}
`;

let server: RunningServer;
let port: number;

/** Calls a route and checks the body against the OpenAPI schema of `template`. */
async function call(method: string, template: string, path: string, body?: unknown) {
  const res = await request(port, method, path, body);
  assertMatchesOpenApi(template, method, res.status, res.json);
  return res;
}

const T = '/v1/tenants/{tenant_id}';
const md = { depth: 20, snap_token: '', schema_version: '' };

beforeAll(async () => {
  server = await startTestServer();
  port = server.ports.http as number;
  const w = await call('POST', `${T}/schemas/write`, '/v1/tenants/t1/schemas/write', { schema: SCHEMA });
  expect(w.status).toBe(200);
  const d = await call('POST', `${T}/data/write`, '/v1/tenants/t1/data/write', {
    metadata: { schema_version: '' },
    tuples: [
      { entity: { type: 'document', id: 'd1' }, relation: 'owner', subject: { type: 'user', id: 'alice' } },
      { entity: { type: 'document', id: 'd2' }, relation: 'org', subject: { type: 'organization', id: 'o1' } },
      { entity: { type: 'organization', id: 'o1' }, relation: 'member', subject: { type: 'user', id: 'bob' } },
    ],
    attributes: [
      { entity: { type: 'document', id: 'd3' }, attribute: 'public', value: { '@type': 'type.googleapis.com/base.v1.BooleanValue', data: true } },
    ],
  });
  expect(d.status, d.text).toBe(200);
});

afterAll(async () => {
  await server.close();
});

describe('REST routes (every RPC except Watch)', () => {
  it('Check answers allowed/denied with Permify JSON names', async () => {
    const allowed = await call('POST', `${T}/permissions/check`, '/v1/tenants/t1/permissions/check', {
      metadata: md,
      entity: { type: 'document', id: 'd2' },
      permission: 'view',
      subject: { type: 'user', id: 'bob' },
    });
    expect(allowed.status).toBe(200);
    expect((allowed.json as { can: string }).can).toBe('CHECK_RESULT_ALLOWED');
    expect(allowed.json).toHaveProperty('metadata.check_count');
    const denied = await call('POST', `${T}/permissions/check`, '/v1/tenants/t1/permissions/check', {
      metadata: md,
      entity: { type: 'document', id: 'd1' },
      permission: 'edit',
      subject: { type: 'user', id: 'bob' },
    });
    expect((denied.json as { can: string }).can).toBe('CHECK_RESULT_DENIED');
  });

  it('BulkCheck', async () => {
    const res = await call('POST', `${T}/permissions/bulk-check`, '/v1/tenants/t1/permissions/bulk-check', {
      metadata: md,
      items: [
        { entity: { type: 'document', id: 'd1' }, permission: 'edit', subject: { type: 'user', id: 'alice' } },
        { entity: { type: 'document', id: 'd3' }, permission: 'view', subject: { type: 'user', id: 'zed' } },
      ],
    });
    expect(res.status, res.text).toBe(200);
    const results = (res.json as { results: { can: string }[] }).results;
    expect(results.map((r) => r.can)).toEqual(['CHECK_RESULT_ALLOWED', 'CHECK_RESULT_ALLOWED']);
  });

  it('Expand', async () => {
    const res = await call('POST', `${T}/permissions/expand`, '/v1/tenants/t1/permissions/expand', {
      metadata: { snap_token: '', schema_version: '' },
      entity: { type: 'document', id: 'd1' },
      permission: 'edit',
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toHaveProperty('tree');
  });

  it('LookupEntity and LookupEntityStream (newline-delimited results)', async () => {
    const body = { metadata: md, entity_type: 'document', permission: 'view', subject: { type: 'user', id: 'bob' } };
    const res = await call('POST', `${T}/permissions/lookup-entity`, '/v1/tenants/t1/permissions/lookup-entity', body);
    expect(res.status, res.text).toBe(200);
    expect((res.json as { entity_ids: string[] }).entity_ids).toEqual(['d2', 'd3']);
    const stream = await request(port, 'POST', '/v1/tenants/t1/permissions/lookup-entity-stream', body);
    expect(stream.status).toBe(200);
    const lines = stream.text.split('\n').filter((l) => l !== '');
    expect(stream.text.endsWith('\n')).toBe(true);
    const parsed = lines.map((l) => JSON.parse(l) as { result: { entity_id: string } });
    for (const p of parsed) assertMatchesOpenApi(`${T}/permissions/lookup-entity-stream`, 'POST', 200, p);
    expect(parsed.map((p) => p.result.entity_id).sort()).toEqual(['d2', 'd3']);
  });

  it('LookupEntityStream failing before the first message answers the HTTP status and an error line', async () => {
    const res = await request(port, 'POST', '/v1/tenants/t1/permissions/lookup-entity-stream', {
      metadata: { depth: 1 },
      entity_type: 'document',
      permission: 'view',
      subject: { type: 'user', id: 'bob' },
    });
    expect(res.status).toBe(400);
    const line = JSON.parse(res.text.trim()) as { error: { code: number; message: string; details: unknown[] } };
    expect(line.error.code).toBe(3);
    expect(line.error.details).toEqual([]);
    assertMatchesOpenApi(`${T}/permissions/lookup-entity-stream`, 'POST', 200, line);
  });

  it('LookupSubject and SubjectPermission', async () => {
    const ls = await call('POST', `${T}/permissions/lookup-subject`, '/v1/tenants/t1/permissions/lookup-subject', {
      metadata: md,
      entity: { type: 'document', id: 'd2' },
      permission: 'view',
      subject_reference: { type: 'user', relation: '' },
    });
    expect(ls.status, ls.text).toBe(200);
    expect((ls.json as { subject_ids: string[] }).subject_ids).toEqual(['bob']);
    const sp = await call('POST', `${T}/permissions/subject-permission`, '/v1/tenants/t1/permissions/subject-permission', {
      metadata: { ...md, only_permission: false },
      entity: { type: 'document', id: 'd1' },
      subject: { type: 'user', id: 'alice' },
    });
    expect(sp.status, sp.text).toBe(200);
    expect((sp.json as { results: Record<string, string> }).results.edit).toBe('CHECK_RESULT_ALLOWED');
  });

  it('Schema read, list and partial write (PATCH)', async () => {
    const read = await call('POST', `${T}/schemas/read`, '/v1/tenants/t1/schemas/read', { metadata: { schema_version: '' } });
    expect(read.status, read.text).toBe(200);
    expect(read.json).toHaveProperty('schema.entity_definitions.document.name', 'document');
    const list = await call('POST', `${T}/schemas/list`, '/v1/tenants/t1/schemas/list', { page_size: 10, continuous_token: '' });
    expect(list.status, list.text).toBe(200);
    expect((list.json as { schemas: unknown[] }).schemas.length).toBeGreaterThanOrEqual(1);
    const patch = await call('PATCH', `${T}/schemas/partial-write`, '/v1/tenants/t1/schemas/partial-write', {
      metadata: { schema_version: '' },
      partials: { user: { write: ['relation manager @user'], delete: [], update: [] } },
    });
    expect(patch.status, patch.text).toBe(200);
    expect(patch.json).toHaveProperty('schema_version');
  });

  it('relationship and attribute writes, reads and deletes', async () => {
    const w = await call('POST', `${T}/relationships/write`, '/v1/tenants/t1/relationships/write', {
      metadata: { schema_version: '' },
      tuples: [{ entity: { type: 'document', id: 'd9' }, relation: 'owner', subject: { type: 'user', id: 'carol' } }],
    });
    expect(w.status, w.text).toBe(200);
    const r = await call('POST', `${T}/data/relationships/read`, '/v1/tenants/t1/data/relationships/read', {
      metadata: { snap_token: '' },
      filter: { entity: { type: 'document', ids: ['d9'] } },
      page_size: 10,
    });
    expect(r.status, r.text).toBe(200);
    expect((r.json as { tuples: unknown[] }).tuples).toHaveLength(1);
    const a = await call('POST', `${T}/data/attributes/read`, '/v1/tenants/t1/data/attributes/read', {
      metadata: { snap_token: '' },
      filter: { entity: { type: 'document', ids: [] } },
    });
    expect(a.status, a.text).toBe(200);
    const attrs = (a.json as { attributes: { value: Record<string, unknown> }[] }).attributes;
    expect(attrs[0]?.value).toEqual({ '@type': 'type.googleapis.com/base.v1.BooleanValue', data: true });
    const dr = await call('POST', `${T}/relationships/delete`, '/v1/tenants/t1/relationships/delete', {
      filter: { entity: { type: 'document', ids: ['d9'] } },
    });
    expect(dr.status, dr.text).toBe(200);
    const dd = await call('POST', `${T}/data/delete`, '/v1/tenants/t1/data/delete', {
      tuple_filter: { entity: { type: 'document', ids: ['d9'] } },
      attribute_filter: { entity: { type: 'document', ids: ['d9'] } },
    });
    expect(dd.status, dd.text).toBe(200);
  });

  it('bundles: write, run, read, delete', async () => {
    const bw = await call('POST', `${T}/bundle/write`, '/v1/tenants/t1/bundle/write', {
      bundles: [
        {
          name: 'owner_bundle',
          arguments: ['docId', 'userId'],
          operations: [{ relationships_write: ['document:{{.docId}}#owner@user:{{.userId}}'], relationships_delete: [], attributes_write: [], attributes_delete: [] }],
        },
      ],
    });
    expect(bw.status, bw.text).toBe(200);
    const run = await call('POST', `${T}/data/run-bundle`, '/v1/tenants/t1/data/run-bundle', {
      name: 'owner_bundle',
      arguments: { docId: 'd7', userId: 'dave' },
    });
    expect(run.status, run.text).toBe(200);
    const br = await call('POST', `${T}/bundle/read`, '/v1/tenants/t1/bundle/read', { name: 'owner_bundle' });
    expect(br.status, br.text).toBe(200);
    expect(br.json).toHaveProperty('bundle.name', 'owner_bundle');
    const bd = await call('POST', `${T}/bundle/delete`, '/v1/tenants/t1/bundle/delete', { name: 'owner_bundle' });
    expect(bd.status, bd.text).toBe(200);
  });

  it('tenants: create, list, delete (DELETE /v1/tenants/{id})', async () => {
    const c = await call('POST', '/v1/tenants/create', '/v1/tenants/create', { id: 'acme', name: 'Acme' });
    expect(c.status, c.text).toBe(200);
    const l = await call('POST', '/v1/tenants/list', '/v1/tenants/list', { page_size: 10, continuous_token: '' });
    expect(l.status, l.text).toBe(200);
    expect((l.json as { tenants: { id: string }[] }).tenants.map((t) => t.id)).toContain('acme');
    const d = await call('DELETE', '/v1/tenants/{id}', '/v1/tenants/acme');
    expect(d.status, d.text).toBe(200);
  });
});

describe('REST errors', () => {
  it('unknown path 404, wrong method 501, Watch not served', async () => {
    const nf = await request(port, 'POST', '/v1/nothing');
    expect([nf.status, nf.json]).toEqual([404, { code: 5, message: 'Not Found', details: [] }]);
    const wm = await request(port, 'GET', '/v1/tenants/t1/permissions/check');
    expect([wm.status, wm.json]).toEqual([501, { code: 12, message: 'Method Not Allowed', details: [] }]);
    const watch = await request(port, 'POST', '/v1/tenants/t1/watch', {});
    expect(watch.status).toBe(404);
  });

  it('malformed JSON and type mismatches are 400 with gRPC code 3', async () => {
    for (const body of ['{bad', '[1,2]', '{"entity": 5}', '{"metadata": {"depth": "x"}}', '"str"']) {
      const res = await request(port, 'POST', '/v1/tenants/t1/permissions/check', body);
      expect(res.status, body).toBe(400);
      expect((res.json as { code: number }).code).toBe(3);
      assertMatchesOpenApi(`${T}/permissions/check`, 'POST', 400, res.json);
    }
  });

  it('validation failures carry the protoc-gen-validate text', async () => {
    const res = await request(port, 'POST', '/v1/tenants/t1/permissions/check', {
      metadata: { depth: 1 },
      entity: { type: 'document', id: 'd1' },
      permission: 'view',
      subject: { type: 'user', id: 'bob' },
    });
    expect(res.status).toBe(400);
    expect((res.json as { message: string }).message).toContain('invalid PermissionCheckRequest.Metadata');
  });

  it('domain errors map through the status table (schema not found -> 404)', async () => {
    await request(port, 'POST', '/v1/tenants/create', { id: 'empty', name: 'e' });
    const res = await request(port, 'POST', '/v1/tenants/empty/permissions/check', {
      metadata: md,
      entity: { type: 'document', id: 'd1' },
      permission: 'view',
      subject: { type: 'user', id: 'bob' },
    });
    expect(res.status).toBe(404);
    // Permify's code and message; the details say which tenant has no schema (issue 12).
    expect(res.json).toEqual({
      code: 5,
      message: 'ERROR_CODE_SCHEMA_NOT_FOUND',
      details: [
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: 'ERROR_CODE_SCHEMA_NOT_FOUND',
          domain: 'permify.co',
          metadata: { tenant_id: 'empty' },
        },
      ],
    });
  });

  it('path parameter overrides the body, empty body is an empty message', async () => {
    const res = await request(port, 'POST', '/v1/tenants/t1/schemas/list', '');
    expect(res.status, res.text).toBe(200);
    const tl = await request(port, 'POST', '/v1/tenants/t1/schemas/read', { tenant_id: 'other', metadata: { schema_version: '' } });
    expect(tl.status, tl.text).toBe(200);
  });

  it('bodies above the limit are refused with 413', async () => {
    const big = JSON.stringify({ schema: 'x'.repeat(5 * 1024 * 1024) });
    const res = await request(port, 'POST', '/v1/tenants/t1/schemas/write', big);
    expect(res.status).toBe(413);
    expect((res.json as { code: number }).code).toBe(8);
  });

  it('GET /healthz', async () => {
    const res = await request(port, 'GET', '/healthz');
    expect(res.status).toBe(200);
    expect(res.text).toBe('{"status":"SERVING"}\n');
  });

  it('GET /metrics exposes Prometheus counters', async () => {
    const res = await request(port, 'GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/permify_requests_total\{transport="rest",rpc="base\.v1\.Permission\/Check",code="200"\} \d+/);
  });
});

describe('CORS', () => {
  it('echoes the origin with credentials, answers preflights with 204', async () => {
    const res = await request(port, 'GET', '/healthz', undefined, { origin: 'https://app.example' });
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expect(res.headers['vary']).toContain('Origin');
    const pre = await request(port, 'OPTIONS', '/v1/tenants/t1/permissions/check', undefined, {
      origin: 'https://app.example',
      'access-control-request-method': 'post',
      'access-control-request-headers': 'authorization,content-type',
    });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-methods']).toBe('POST');
    expect(pre.headers['access-control-allow-headers']).toBe('authorization, content-type');
    const none = await request(port, 'GET', '/healthz');
    expect(none.headers['access-control-allow-origin']).toBeUndefined();
  });
});
