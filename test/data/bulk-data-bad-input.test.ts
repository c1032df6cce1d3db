/**
 * Bad input to permifyts.v1.Data (issue 15) on both transports: invalid tenant ids (too long, bad
 * characters, empty), invalid item fields and oversized tokens are INVALID_ARGUMENT / 400 naming the field,
 * with the same rules as base.v1 requests -- never INTERNAL / 500.
 */
import { create } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postStream } from './ndjson-support.js';
import * as pb from '../../src/api/gen/permifyts/v1/data_pb.js';
import { createDataClient, RpcError, type DataClient } from '../../src/cli/data/client.js';
import type { RunningServer } from '../../src/server.js';
import { request, startTestServer } from '../e2e/rest-support.js';

const schema = `
entity user {}
entity document {
  relation viewer @user
  attribute public boolean
}`;

/** The last NDJSON line's error, or the whole body's (a failure before the first message). */
function errorOf(text: string): { code: number; message: string } {
  const lines = text.split('\n').filter((l) => l !== '');
  const last = JSON.parse(lines.at(-1) as string) as { error?: { code: number; message: string } };
  expect(last.error).toBeDefined();
  return last.error as { code: number; message: string };
}

const tuple = (entityId: string, relation = 'viewer') => ({
  tuple: { entity: { type: 'document', id: entityId }, relation, subject: { type: 'user', id: 'u1' } },
});

describe('permifyts.v1.Data bad input', () => {
  let server: RunningServer;
  let client: DataClient;
  let port: number;
  const tenantId = 'bad-input';

  beforeAll(async () => {
    server = await startTestServer({
      'database.engine': 'memory',
      'service.data.max_import_batch': 4,
      'service.data.max_export_page_size': 3,
    });
    port = server.ports.http as number;
    client = createDataClient({ address: `127.0.0.1:${server.ports.grpc}` });
    expect((await request(port, 'POST', '/v1/tenants/create', { id: tenantId, name: tenantId })).status).toBe(200);
    expect((await request(port, 'POST', `/v1/tenants/${tenantId}/schemas/write`, { schema })).status).toBe(200);
  });

  afterAll(async () => {
    client?.close();
    await server?.close();
  });

  const badTenants = ['x'.repeat(300), 'a'.repeat(129), 'bad%20tenant', 'semi;colon'];

  it.each(badTenants)('REST import and export with tenant id %# answer 400 naming TenantId', async (bad) => {
    const imp = await postStream(port, `/v1/tenants/${bad}/data/import`, '{"items":[]}\n');
    expect(imp.status).toBe(400);
    expect(errorOf(imp.text)).toMatchObject({ code: 3, message: expect.stringContaining('TenantId') });
    const exp = await postStream(port, `/v1/tenants/${bad}/data/export`, '{}');
    expect(exp.status).toBe(400);
    expect(errorOf(exp.text)).toMatchObject({ code: 3, message: expect.stringContaining('TenantId') });
  });

  it('gRPC Import and Export with a huge or empty tenant_id are INVALID_ARGUMENT', async () => {
    for (const bad of ['y'.repeat(100_000), '', 'a b']) {
      const call = client.import();
      await call.send(create(pb.DataImportRequestSchema, { tenantId: bad, items: [] }));
      call.end();
      const imported = (async () => {
        for await (const r of call.responses) void r;
      })();
      await expect(imported).rejects.toSatisfy((e) => e instanceof RpcError && e.status === 3);
      await expect(imported).rejects.toThrow(/TenantId/);
      const exported = (async () => {
        for await (const r of client.export(create(pb.DataExportRequestSchema, { tenantId: bad }))) void r;
      })();
      await expect(exported).rejects.toSatisfy((e) => e instanceof RpcError && e.status === 3);
    }
  });

  it('an invalid item field is INVALID_ARGUMENT naming the item (abort) or a rejection (skip_invalid)', async () => {
    const hugeId = 'z'.repeat(5000);
    const body = JSON.stringify({ items: [tuple('ok1'), tuple(hugeId), tuple('bad id!')] }) + '\n';
    const aborted = await postStream(port, `/v1/tenants/${tenantId}/data/import`, body);
    expect(aborted.status).toBe(400);
    expect(errorOf(aborted.text)).toMatchObject({ code: 3, message: expect.stringMatching(/^item 1: .*Id/) });

    const skipped = await postStream(
      port,
      `/v1/tenants/${tenantId}/data/import`,
      JSON.stringify({ skip_invalid: true, items: [tuple('ok2'), tuple(hugeId), tuple('bad id!')] }) + '\n',
    );
    expect(skipped.status).toBe(200);
    const ack = JSON.parse(skipped.text.split('\n')[0] as string) as {
      result: { applied: string; rejected: { index?: number; message: string }[] };
    };
    expect(ack.result.applied).toBe('3');
    expect(ack.result.rejected.map((r) => r.index)).toEqual([1, 2]);
    for (const r of ack.result.rejected) {
      expect(r.message).toMatch(/invalid Entity\.Id/);
      expect(r.message).not.toContain('INTERNAL');
    }
  });

  it('oversized tokens, cursors and schema versions are client errors', async () => {
    const big = 's'.repeat(20_000);
    for (const body of [{ snap_token: big }, { cursor: big }]) {
      const r = await postStream(port, `/v1/tenants/${tenantId}/data/export`, JSON.stringify(body));
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
    }
    const r = await postStream(
      port,
      `/v1/tenants/${tenantId}/data/import`,
      JSON.stringify({ schema_version: big, items: [tuple('a')] }) + '\n',
    );
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
  });

  it('the configured limits: a larger import batch or export page fails naming the key; page_size 0 is capped', async () => {
    const big = await postStream(
      port,
      `/v1/tenants/${tenantId}/data/import`,
      JSON.stringify({ items: ['l1', 'l2', 'l3', 'l4', 'l5'].map((id) => tuple(id)) }) + '\n',
    );
    expect(big.status).toBe(400);
    expect(errorOf(big.text).message).toContain('service.data.max_import_batch (4)');
    const ok = await postStream(
      port,
      `/v1/tenants/${tenantId}/data/import`,
      JSON.stringify({ items: ['l1', 'l2', 'l3', 'l4'].map((id) => tuple(id)) }) + '\n',
    );
    expect(ok.status).toBe(200);
    const page = await postStream(port, `/v1/tenants/${tenantId}/data/export`, JSON.stringify({ page_size: 4 }));
    expect(page.status).toBe(400);
    expect(errorOf(page.text).message).toContain('service.data.max_export_page_size (3)');
    const all = await postStream(port, `/v1/tenants/${tenantId}/data/export`, '{}');
    expect(all.status).toBe(200);
    const sizes = all.text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => (JSON.parse(l) as { result: { items: unknown[] } }).result.items.length);
    expect(Math.max(...sizes)).toBe(3);
    expect(sizes.reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(4);
  });
});
