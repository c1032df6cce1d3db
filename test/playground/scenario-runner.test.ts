/**
 * The playground's scenario runner (the browser code, run here under Node with its fetch) against the real
 * server: every public validation file and a fixture with entity and subject filters and contexts pass every
 * assertion; a file with a wrong expectation fails exactly that one; export gives back an equivalent file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient, type ApiClient } from '../../playground/src/api.js';
import {
  exportValidationFile,
  loadValidationFile,
  parseValidationFile,
  runScenarios,
} from '../../playground/src/scenario.js';
import type { RunningServer } from '../../src/server.js';
import { ROOT, startPlaygroundServer } from './support.js';

const PUBLIC = '/work/shared/conformance/public';
const FIXTURES = path.join(ROOT, 'test', 'development', 'fixtures');

describe('scenario runner over the REST API', () => {
  let server: RunningServer;
  let api: ApiClient;
  let n = 0;
  beforeAll(async () => {
    server = await startPlaygroundServer();
    const base = `http://127.0.0.1:${server.ports.http}`;
    api = createApiClient(
      () => '',
      (input, init) => fetch(`${base}${String(input)}`, init),
    );
  });
  afterAll(async () => {
    await server?.close();
  });

  async function run(file: string) {
    const parsed = parseValidationFile(readFileSync(file, 'utf8'));
    const tenant = `runner-${++n}`;
    await api.call('/v1/tenants/create', { id: tenant, name: 'runner' });
    const at = await loadValidationFile(api, tenant, parsed);
    return { parsed, results: await runScenarios(api, tenant, parsed, at) };
  }

  it('passes every assertion of every public validation file (skipping, like permify validate, a stray key)', async () => {
    let total = 0;
    for (const name of readdirSync(PUBLIC).filter((f) => f.endsWith('.yaml'))) {
      const { results } = await run(path.join(PUBLIC, name));
      const skipped = results.filter((r) => r.skipped !== undefined);
      expect(
        results.filter((r) => !r.pass && r.skipped === undefined),
        name,
      ).toEqual([]);
      // facebook-groups.yaml has a mis-indented `checks:` inside an assertions map.
      expect(
        skipped.map((r) => `${r.label}: ${r.skipped}`),
        name,
      ).toEqual(
        name === 'facebook-groups.yaml'
          ? ['check group:1#checks@user:2: "checks" is not a permission, relation, attribute or rule of "group"']
          : [],
      );
      total += results.length;
    }
    expect(total).toBeGreaterThan(50);
  });

  it('runs entity filters, subject filters and contexts (spec 8.7 fixture), and reports a wrong expectation', async () => {
    const good = await run(path.join(FIXTURES, 'spec-8.7.yaml'));
    expect(good.results.filter((r) => !r.pass)).toEqual([]);
    expect(good.results.some((r) => r.label.startsWith('entity_filter '))).toBe(true);
    expect(good.results.some((r) => r.label.startsWith('subject_filter '))).toBe(true);
    const wrong = await run(path.join(FIXTURES, 'spec-8.7-wrong.yaml'));
    const failed = wrong.results.filter((r) => !r.pass);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ expected: 'true', actual: 'false' });
  });

  it('exports a file that parses back to the same content', async () => {
    const parsed = parseValidationFile(readFileSync(path.join(FIXTURES, 'spec-8.7.yaml'), 'utf8'));
    expect(parseValidationFile(exportValidationFile(parsed))).toEqual(parsed);
  });
});

describe('scenario runner on a rate-limited server', () => {
  it('slows down on 429 instead of failing assertions', async () => {
    const server = await startPlaygroundServer({ 'server.rate_limit': 5, 'server.rate_limit_burst': 1 });
    try {
      const base = `http://127.0.0.1:${server.ports.http}`;
      let limited = 0;
      const api = createApiClient(
        () => '',
        async (input, init) => {
          const res = await fetch(`${base}${String(input)}`, init);
          if (res.status === 429) limited++;
          return res;
        },
      );
      const parsed = parseValidationFile(readFileSync(path.join(PUBLIC, 'banking-system.yaml'), 'utf8'));
      await api.call('/v1/tenants/create', { id: 'limited', name: 'limited' });
      const at = await loadValidationFile(api, 'limited', parsed);
      const results = await runScenarios(api, 'limited', parsed, at);
      expect(results.map((r) => r.pass)).toEqual([true, true]);
      expect(limited).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });
});
