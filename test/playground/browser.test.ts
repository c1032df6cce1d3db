/**
 * The playground driven in a real headless Chromium (Debian's `chromium`, through playwright-core) against
 * the real server on port 0: load, type a schema with an error and see the diagnostic at the server's line
 * and column, fix it and save, add relationships, run a check and see the explain tree (or, while the
 * server has no Explain API, the "unavailable" notice), import a public validation file and see every
 * assertion pass, and with authentication on, give the token the page asks for. No console errors at any
 * point. A screenshot of each step goes to test-results/playground/.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { RunningServer } from '../../src/server.js';
import { request } from '../e2e/rest-support.js';
import { ROOT, ensurePlaygroundBuilt, startPlaygroundServer } from './support.js';

const CHROMIUM = process.env['PERMIFY_TEST_CHROMIUM'] ?? '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'test-results', 'playground');
const PUBLIC_FILE = '/work/shared/conformance/public/facebook-groups.yaml';

const BROKEN = `entity user {}

entity document {
  relation owner @user
  relation viewer @user
  permission view = owner or viewr
  attribute public boolean
}
`;
const FIXED = BROKEN.replace('viewr', 'viewer');

async function launch(): Promise<{ context: BrowserContext; profile: string }> {
  const profile = mkdtempSync(path.join(tmpdir(), 'playground-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 1300 },
    timeout: 20_000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return { context, profile };
}

interface PageWatch {
  /** Console errors and uncaught exceptions, except Chromium's own log line for each API answer >= 400. */
  errors: string[];
  /** Chromium's "Failed to load resource: the server responded with a status of N" lines. */
  failedLoads: number;
  /** API answers >= 400, as `status path message`. */
  apiErrors: string[];
}

/**
 * Watches a page for errors. Chromium logs every HTTP answer >= 400 to the console, also those the page
 * expects and handles (a schema that does not compile is a 400, a tenant without a schema a 404); so those
 * log lines are counted apart and matched one for one against the API answers the test expects.
 */
function watch(page: Page): PageWatch {
  const w: PageWatch = { errors: [], failedLoads: 0, apiErrors: [] };
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (/^Failed to load resource: the server responded with a status of \d+/.test(m.text())) w.failedLoads++;
    else w.errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => w.errors.push(`pageerror: ${e.message}`));
  page.on('response', async (r) => {
    if (r.status() < 400) return;
    const body = (await r.json().catch(() => ({}))) as { message?: string };
    w.apiErrors.push(`${r.status()} ${new URL(r.url()).pathname} ${body.message ?? ''}`);
  });
  return w;
}

/** The API answers >= 400 the steps cause on purpose; anything else is a failure of the page. */
function unexpected(apiErrors: readonly string[], explainMissing: boolean): string[] {
  return apiErrors.filter(
    (e) =>
      !/^400 \/v1\/tenants\/playground-\w+\/schemas\/write \d+:\d+: /.test(e) && // live diagnostics
      !/^404 \/v1\/tenants\/[\w-]+\/schemas\/(read|list) ERROR_CODE_SCHEMA_NOT_FOUND$/.test(e) && // a tenant without a schema
      !(explainMissing && /^404 \/v1\/tenants\/t1\/permissions\/explain Not Found$/.test(e)) &&
      !/^401 \/v1\/.* ERROR_CODE_MISSING_BEARER_TOKEN$/.test(e), // before the token is given
  );
}

/** Replaces the editor's whole text (as a user would: select all, type). */
async function setSchema(page: Page, text: string): Promise<void> {
  await page.locator('.cm-content').click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
}

describe('playground in headless Chromium', () => {
  let server: RunningServer;
  let context: BrowserContext;
  let profile: string;
  let base: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `no Chromium at ${CHROMIUM}: apt-get install chromium (as .ci/run does), or set PERMIFY_TEST_CHROMIUM`,
      );
    }
    mkdirSync(SHOTS, { recursive: true });
    await ensurePlaygroundBuilt();
    server = await startPlaygroundServer();
    base = `http://127.0.0.1:${server.ports.http}`;
    ({ context, profile } = await launch());
  }, 60_000);
  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('schema diagnostics, relationships, check with explain, scenarios: no console errors', async () => {
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    const w = watch(page);
    const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

    await page.goto(`${base}/playground/`);
    await page.locator('.cm-content').waitFor();
    await page.getByTestId('tenant').waitFor();
    await expect.poll(() => page.getByTestId('tenant').inputValue()).toBe('t1');
    await shot('01-loaded');

    // A schema with an error: the server's compiler places it at 6:31, on the misspelt name.
    await setSchema(page, BROKEN);
    const diagnostics = page.getByTestId('diagnostics');
    await expect.poll(() => diagnostics.textContent()).toContain('line 6, column 31: undefined relation reference');
    await expect.poll(() => page.locator('.cm-lintRange-error').first().textContent()).toBe('viewr');
    const markedLine = await page.locator('.cm-line', { has: page.locator('.cm-lintRange-error') }).textContent();
    expect(markedLine).toBe('  permission view = owner or viewr');
    expect(await page.getByTestId('save-schema').isDisabled()).toBe(true);
    await shot('02-schema-error');

    // Fixed, after a burst of edits faster than the page renders (the editor once replayed stale texts from
    // its props against newer keystrokes, ping-ponging until the page hung): the latest text wins, the
    // diagnostics clear, the model graph has its nodes, and the schema is saved to the tenant.
    for (const text of [FIXED, BROKEN, FIXED.replace('viewer\n', 'viewer\n\n'), BROKEN, FIXED])
      await setSchema(page, text);
    await page.waitForTimeout(500);
    expect((await page.locator('.cm-line').allTextContents()).join('\n')).toBe(FIXED);
    await expect.poll(() => diagnostics.textContent()).toBe('no errors');
    await expect.poll(() => page.getByTestId('model-graph').getAttribute('data-nodes')).toBe('6');
    await page.getByTestId('save-schema').click();
    await expect.poll(() => page.getByTestId('schema-version').textContent()).toMatch(/schema version: \w{20}/);
    await shot('03-schema-saved');

    // Relationships through the table's input; the table lists what the server now holds.
    await page.getByTestId('new-relationships').fill('document:1#owner@user:alice\ndocument:1#viewer@user:bob');
    await page.getByTestId('add-relationships').click();
    const rows = page.getByTestId('relationships').locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(2);
    expect(await rows.nth(1).getAttribute('data-tuple')).toBe('document:1#viewer@user:bob');
    await shot('04-relationships');

    // A check, then its explain tree (or the notice, on a server without the Explain API).
    const explain = await request(server.ports.http as number, 'POST', '/v1/tenants/t1/permissions/explain', {
      metadata: { depth: 20 },
      entity: { type: 'document', id: '1' },
      permission: 'view',
      subject: { type: 'user', id: 'bob' },
    });
    await page.getByTestId('q-entity').fill('document:1');
    await page.getByTestId('q-permission').fill('view');
    await page.getByTestId('q-subject').fill('user:bob');
    await page.getByTestId('run-query').click();
    await expect.poll(() => page.getByTestId('query-result').textContent()).toMatch(/^ALLOWED/);
    if (explain.status === 200) {
      const tree = page.getByTestId('explain-tree');
      await tree.waitFor();
      expect(await tree.locator('.explain-node').first().textContent()).toContain('document:1#view');
      expect(await tree.locator('.explain-node[data-outcome="allowed"]').count()).toBeGreaterThan(1);
      // The denied branch names what was missing; the granting tuple is shown where it was read.
      const text = (await tree.textContent()) ?? '';
      expect(text).toContain('missing document:1#owner@user:bob');
      expect(text).toContain('tuple document:1#viewer@user:bob');
    } else {
      await page.getByTestId('explain-unavailable').waitFor();
      expect(await page.getByTestId('explain-unavailable').textContent()).toBe('explain unavailable on this server');
    }
    await shot('05-check-explain');

    // Other query forms answer too.
    await page.getByTestId('tab-lookup-entity').click();
    await page.getByTestId('q-entity-type').fill('document');
    await page.getByTestId('run-query').click();
    await expect.poll(() => page.getByTestId('query-result').textContent()).toBe('entity ids: 1');
    await page.getByTestId('tab-subject-permission').click();
    await page.getByTestId('run-query').click();
    await expect.poll(() => page.getByTestId('query-result').textContent()).toContain('view: allowed');

    // Editing a row rewrites that relationship (delete + write); deleting removes it.
    await rows.nth(1).getByRole('button', { name: 'edit' }).click();
    const editor = page.getByTestId('relationships').locator('tbody input');
    await editor.fill('document:1#viewer@user:carol');
    await editor.press('Enter');
    await expect
      .poll(async () => (await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-tuple')))).join(' '))
      .toBe('document:1#owner@user:alice document:1#viewer@user:carol');
    await rows.nth(0).getByRole('button', { name: 'delete' }).click();
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.nth(0).getAttribute('data-tuple')).toBe('document:1#viewer@user:carol');

    // Attributes: add through the form, change the value in the table, delete.
    const attributes = page.getByTestId('attributes').locator('tbody tr');
    await page.getByTestId('new-attribute-entity').fill('document:1');
    await page.getByTestId('new-attribute-name').fill('public');
    await page.getByTestId('new-attribute-value').fill('true');
    await page.getByTestId('add-attribute').click();
    await expect.poll(() => attributes.count()).toBe(1);
    expect(await attributes.nth(0).locator('td').allTextContents()).toEqual([
      'document:1',
      'public',
      'boolean',
      '',
      'delete',
    ]);
    await expect.poll(() => attributes.nth(0).locator('input').inputValue()).toBe('true');
    await attributes.nth(0).locator('input').fill('false');
    await attributes.nth(0).locator('input').press('Enter');
    await attributes.nth(0).locator('input').blur();
    const read = async () =>
      JSON.stringify(
        (
          await request(server.ports.http as number, 'POST', '/v1/tenants/t1/data/attributes/read', {
            metadata: {},
            filter: { entity: { type: 'document', ids: [] } },
          })
        ).json,
      );
    await expect.poll(read).toContain('"attributes":[{"entity":{"type":"document","id":"1"},"attribute":"public"');
    await expect.poll(read).not.toContain('"data":true');
    await shot('05b-data-tables');
    await attributes.nth(0).getByRole('button', { name: 'delete' }).click();
    await expect.poll(() => attributes.count()).toBe(0);

    // Lookup subject and expand on the edited data.
    await page.getByTestId('tab-lookup-subject').click();
    await page.getByTestId('q-subject-ref').fill('user');
    await page.getByTestId('run-query').click();
    await expect.poll(() => page.getByTestId('query-result').textContent()).toBe('subject ids: carol');
    await page.getByTestId('tab-expand').click();
    await page.getByTestId('run-query').click();
    await expect
      .poll(() => page.getByTestId('query-result').textContent())
      .toBe(
        ['document:1#view or', '  document:1#owner -> (no subjects)', '  document:1#viewer -> user:carol'].join('\n'),
      );

    // A public validation file: imported into a new tenant, every assertion run and passed.
    await page.getByTestId('scenario-file').setInputFiles(PUBLIC_FILE);
    await expect.poll(() => page.getByTestId('scenario-done').textContent(), { timeout: 20_000 }).toBe('done');
    const summary = await page.getByTestId('scenario-summary').textContent();
    // facebook-groups.yaml has one stray key read as an assertion; like `permify validate`, it is skipped.
    const [, passed, total, skipped] = /^(\d+) of (\d+) assertions passed, (\d+) skipped$/.exec(summary ?? '') ?? [];
    expect(Number(total)).toBeGreaterThan(10);
    expect(passed).toBe(total);
    expect(skipped).toBe('1');
    expect(await page.getByTestId('scenario-results').locator('tr.fail').count()).toBe(0);
    expect(await page.getByTestId('scenario-results').locator('tr.pass').count()).toBe(Number(total));
    await expect.poll(() => page.getByTestId('tenant').inputValue()).toMatch(/^playground-/);
    await page.getByTestId('scenarios-panel').scrollIntoViewIfNeeded();
    await shot('06-scenarios');

    // Export: the file holds the imported schema and scenarios and the tenant's data, and reads back.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-scenarios').click()]);
    const exported = parseYaml(readFileSync((await download.path()) as string, 'utf8')) as Record<string, unknown[]>;
    const original = parseYaml(readFileSync(PUBLIC_FILE, 'utf8')) as Record<string, unknown[]>;
    expect(exported['schema']).toBe(original['schema']);
    expect([...(exported['relationships'] as string[])].sort()).toEqual(
      [...(original['relationships'] as string[])].sort(),
    );
    expect(exported['scenarios']).toEqual(original['scenarios']);

    expect(w.errors).toEqual([]);
    expect(unexpected(w.apiErrors, explain.status !== 200)).toEqual([]);
    expect(w.failedLoads).toBe(w.apiErrors.length);
    await page.close();
  }, 60_000);

  it('with authentication on, the page asks for a token and sends it', async () => {
    const authed = await startPlaygroundServer({
      'authn.enabled': 'true',
      'authn.method': 'preshared',
      'authn.preshared.keys': 'pg-secret',
    });
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    const w = watch(page);
    try {
      // Fresh storage for this origin: no token remembered.
      await page.goto(`http://127.0.0.1:${authed.ports.http}/playground/`);
      await expect.poll(() => page.getByTestId('status').textContent()).toContain('authentication required');
      await expect.poll(() => page.locator('label.token.required').count()).toBe(1);
      await shot(page, '07-token-required');
      await page.getByTestId('token').fill('pg-secret');
      await page.getByTestId('token').press('Enter');
      await page.getByTestId('token').blur();
      await expect.poll(() => page.getByTestId('status').textContent()).toContain('has no schema yet');
      await setSchema(page, FIXED);
      await expect.poll(() => page.getByTestId('diagnostics').textContent()).toBe('no errors');
      await page.getByTestId('save-schema').click();
      await expect.poll(() => page.getByTestId('schema-version').textContent()).toMatch(/schema version: \w{20}/);
      expect(await page.locator('label.token.required').count()).toBe(0);
      await shot(page, '08-token-accepted');
      expect(w.errors).toEqual([]);
      expect(unexpected(w.apiErrors, false)).toEqual([]);
      expect(w.apiErrors.some((e) => e.startsWith('401 '))).toBe(true);
    } finally {
      await page.close();
      await authed.close();
    }
  }, 40_000);
});

function shot(page: Page, name: string): Promise<Buffer> {
  return page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}
