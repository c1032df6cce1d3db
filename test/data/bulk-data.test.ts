/**
 * Bulk export and import end to end (issue 15): the real server on port 0 (memory and PostgreSQL), driven by
 * `permify data export|import` in-process, by the CLI as a child process (killed mid-import) and by the REST
 * NDJSON routes.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postStream } from './ndjson-support.js';
import { registerData } from '../../src/cli/commands/data.js';
import { parseAttribute, parseTuple, tupleToString } from '../../src/data/notation.js';
import type { Attribute, Tuple } from '../../src/data/types.js';
import type { RunningServer } from '../../src/server.js';
import { runCli } from '../support/cli-run.js';
import { createTestDatabase, stopSharedServer, type TestDatabase } from '../support/postgres.js';
import { request, startTestServer } from '../e2e/rest-support.js';

const root = join(import.meta.dirname, '..', '..');
const schema = `
entity user {}
entity organization {
  relation member @user
}
entity document {
  relation viewer @user @organization#member
  relation owner @user
  attribute public boolean
  attribute tags string[]
  attribute score double
}`;

/** Tuples and attributes of a data set of `n` documents (deterministic). */
function dataset(n: number): { tuples: Tuple[]; attributes: Attribute[] } {
  const tuples: Tuple[] = [];
  const attributes: Attribute[] = [];
  for (let i = 0; i < n; i += 1) {
    tuples.push(parseTuple(`document:d${i}#viewer@user:u${i % 97}`));
    if (i % 3 === 0) tuples.push(parseTuple(`document:d${i}#viewer@organization:o${i % 7}#member`));
    if (i % 5 === 0) tuples.push(parseTuple(`organization:o${i % 7}#member@user:u${i}`));
    if (i % 4 === 0) attributes.push(parseAttribute(`document:d${i}$public|boolean:${i % 8 === 0}`));
    if (i % 6 === 0) attributes.push(parseAttribute(`document:d${i}$tags|string[]:a${i},b`));
    if (i % 10 === 0) attributes.push(parseAttribute(`document:d${i}$score|double:${i / 8}`));
  }
  return { tuples, attributes };
}

/** NDJSON lines of a REST streaming answer, as parsed objects. */
function streamLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe.each(['memory', 'postgres'] as const)('bulk data (%s)', (engine) => {
  let server: RunningServer;
  let db: TestDatabase | undefined;
  let dir: string;
  let address: string;
  let counter = 0;

  const cli = (...args: string[]) => runCli([registerData], ['data', ...args, '--address', address, '--no-progress']);

  /** A fresh tenant with the schema. */
  async function tenant(label: string): Promise<string> {
    counter += 1;
    const id = `bulk-${label}-${counter}`;
    const port = server.ports.http as number;
    expect((await request(port, 'POST', '/v1/tenants/create', { id, name: id })).status).toBe(200);
    expect((await request(port, 'POST', `/v1/tenants/${id}/schemas/write`, { schema })).status).toBe(200);
    return id;
  }

  async function seed(id: string, n: number): Promise<void> {
    const { tuples, attributes } = dataset(n);
    for (let i = 0; i < Math.max(tuples.length, attributes.length); i += 500) {
      await server.store.writer.write(id, [
        { writeTuples: tuples.slice(i, i + 500), writeAttributes: attributes.slice(i, i + 500) },
      ]);
    }
  }

  beforeAll(async () => {
    if (engine === 'postgres') db = await createTestDatabase();
    server = await startTestServer({
      'database.engine': engine,
      ...(db ? { 'database.uri': db.uri, 'database.max_open_connections': 8 } : {}),
    });
    address = `127.0.0.1:${server.ports.grpc}`;
    dir = mkdtempSync(join(tmpdir(), 'permify-bulk-'));
  });

  afterAll(async () => {
    await server?.close();
    await db?.drop();
    if (engine === 'postgres') await stopSharedServer();
    rmSync(dir, { recursive: true, force: true });
  });

  it('round trip over gRPC: export, import into an empty tenant, export again gives identical files (ndjson and yaml)', async () => {
    const source = await tenant('src');
    await seed(source, 1200);
    for (const format of ['ndjson', 'yaml'] as const) {
      const first = join(dir, `first-${engine}.${format}`);
      const second = join(dir, `second-${engine}.${format}`);
      const e1 = await cli('export', '--tenant', source, '--format', format, '--out', first, '--page-size', '333');
      expect(e1.err).toContain('export complete');
      expect(e1.code).toBe(0);
      const target = await tenant('dst');
      const i = await cli('import', '--tenant', target, '--batch-size', '250', first);
      expect(i.err).toMatch(/import complete: [\d,]+ items applied/);
      expect(i.code).toBe(0);
      const e2 = await cli('export', '--tenant', target, '--format', format, '--out', second);
      expect(e2.code).toBe(0);
      const a = readFileSync(first, 'utf8');
      expect(a.split('\n').length).toBeGreaterThan(1500);
      expect(readFileSync(second, 'utf8')).toBe(a);
    }
  });

  it('round trip over REST NDJSON: Export pages and Import batches', async () => {
    const port = server.ports.http as number;
    const source = await tenant('rest-src');
    await seed(source, 300);
    const exported = async (id: string): Promise<unknown[]> => {
      const r = await postStream(port, `/v1/tenants/${id}/data/export`, JSON.stringify({ page_size: 100 }));
      expect(r.status).toBe(200);
      const lines = streamLines(r.text);
      expect(lines.length).toBeGreaterThan(3);
      return lines.flatMap((l) => (l.result as { items: unknown[] }).items);
    };
    const items = await exported(source);
    const target = await tenant('rest-dst');
    const body = [];
    for (let i = 0; i < items.length; i += 120) body.push(JSON.stringify({ items: items.slice(i, i + 120) }));
    const r = await postStream(port, `/v1/tenants/${target}/data/import`, body.join('\n') + '\n');
    expect(r.status).toBe(200);
    const acks = streamLines(r.text).map((l) => l.result as { applied: string; batches: string });
    expect(acks).toHaveLength(body.length);
    expect(acks.at(-1)).toMatchObject({ applied: String(items.length), batches: String(body.length) });
    expect(await exported(target)).toEqual(items);
    // A malformed line fails the stream with an error line naming it.
    const bad = await postStream(port, `/v1/tenants/${target}/data/import`, '{"items":[]}\nnot json\n');
    const last = streamLines(bad.text).at(-1) as { error: { code: number; message: string } };
    expect(last.error.code).toBe(3);
    expect(last.error.message).toContain('line 2');
    // Both imports ran through the whole pipeline: counted once each with their code, none left in flight.
    const metrics = await request(port, 'GET', '/metrics');
    const series = (name: string): string[] =>
      metrics.text.split('\n').filter((l) => l.startsWith(name) && l.includes('transport="rest"') && l.includes('Data/Import'));
    expect(series('permify_requests_in_flight{')).toEqual([expect.stringMatching(/ 0$/)]);
    expect(series('permify_requests_total{').map((l) => /code="(\w+)"/.exec(l)?.[1]).sort()).toEqual(['200', '400']);
  });

  it('an export taken during concurrent writes is exactly the chosen snapshot', async () => {
    const id = await tenant('snap');
    await seed(id, 600);
    const snap = await server.store.reader.headSnapToken(id);
    const expected = (await server.store.reader.queryRelationships(id, {}, snap)).map(tupleToString);
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i += 1) {
        // Yield to the event loop: the memory store's writes complete without I/O and would starve the export.
        await new Promise((r) => setImmediate(r));
        await server.store.writer.write(id, [
          {
            writeTuples: [parseTuple(`document:new${i}#owner@user:w${i}`)],
            deleteTuples: [parseTuple(`document:d${i}#viewer@user:u${i % 97}`)],
          },
        ]);
      }
    })();
    try {
      const out = join(dir, `snap-${engine}.ndjson`);
      const e = await cli('export', '--tenant', id, '--snap-token', snap, '--out', out, '--page-size', '50');
      expect(e.code).toBe(0);
      const tuples = readFileSync(out, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{"tuple"'))
        .map((l) => {
          const t = (
            JSON.parse(l) as {
              tuple: {
                entity: { type: string; id: string };
                relation: string;
                subject: { type: string; id: string; relation?: string };
              };
            }
          ).tuple;
          return tupleToString({
            entity: t.entity,
            relation: t.relation,
            subject: { ...t.subject, relation: t.subject.relation ?? '' },
          });
        });
      expect(tuples).toEqual(expected);
    } finally {
      writing = false;
      await writer;
    }
    // The writes did happen meanwhile: the head differs from the snapshot.
    expect(
      (await server.store.reader.queryRelationships(id, {}, await server.store.reader.headSnapToken(id))).map(
        tupleToString,
      ),
    ).not.toEqual(expected);
  });

  it.runIf(engine === 'memory' || engine === 'postgres')(
    'a killed import resumes with --resume and ends with exactly the intended data',
    async () => {
      const source = await tenant('kill-src');
      await seed(source, 6000);
      const file = join(dir, `kill-${engine}.ndjson`);
      expect((await cli('export', '--tenant', source, '--out', file)).code).toBe(0);
      const target = await tenant('kill-dst');
      const state = join(dir, `kill-${engine}.state.json`);
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          join(root, 'src/cli/main.ts'),
          'data',
          'import',
          '--tenant',
          target,
          '--address',
          address,
          '--batch-size',
          '100',
          '--state',
          state,
          '--no-progress',
          file,
        ],
        { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      // Kill it once some batches are committed but well before the end.
      for (let i = 0; i < 600; i += 1) {
        const s = existsSync(state) ? (JSON.parse(readFileSync(state, 'utf8')) as { applied: number }) : undefined;
        if (s && s.applied >= 1000) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      child.kill('SIGKILL');
      await exited;
      const partial = JSON.parse(readFileSync(state, 'utf8')) as { applied: number };
      expect(partial.applied).toBeGreaterThan(0);
      expect(partial.applied).toBeLessThan(readFileSync(file, 'utf8').split('\n').length - 1);

      const resumed = await cli(
        'import',
        '--tenant',
        target,
        '--batch-size',
        '500',
        '--state',
        state,
        '--resume',
        file,
      );
      expect(resumed.err).toContain('resumed from');
      expect(resumed.code).toBe(0);
      expect(existsSync(state)).toBe(false);
      const again = join(dir, `kill-again-${engine}.ndjson`);
      expect((await cli('export', '--tenant', target, '--out', again)).code).toBe(0);
      // Exactly the intended data: no line lost, none twice. With two batches in flight (the default), the
      // kill can cancel a batch after the next one committed; the resumed import sends it again and PostgreSQL
      // numbers its rows after that next batch's (docs/bulk-data.md), so only the memory store keeps the order.
      const lines = (f: string): string[] => readFileSync(f, 'utf8').split('\n');
      if (engine === 'memory') expect(readFileSync(again, 'utf8')).toBe(readFileSync(file, 'utf8'));
      else expect(lines(again).sort()).toEqual(lines(file).sort());
    },
    60_000,
  );

  it('a killed export resumes with --resume at the same snapshot despite writes meanwhile', async () => {
    const id = await tenant('kill-export');
    await seed(id, 6000);
    const whole = join(dir, `export-whole-${engine}.ndjson`);
    expect((await cli('export', '--tenant', id, '--out', whole)).code).toBe(0);
    const out = join(dir, `export-killed-${engine}.ndjson`);
    const state = `${out}.export-state.json`;
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(root, 'src/cli/main.ts'),
        'data',
        'export',
        '--tenant',
        id,
        '--address',
        address,
        '--page-size',
        '10',
        '--out',
        out,
        '--no-progress',
      ],
      { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    for (let i = 0; i < 600; i += 1) {
      const s = existsSync(state) ? (JSON.parse(readFileSync(state, 'utf8')) as { tuples: number }) : undefined;
      if (s && s.tuples >= 500) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    child.kill('SIGKILL');
    await exited;
    const partial = JSON.parse(readFileSync(state, 'utf8')) as { tuples: number };
    expect(partial.tuples).toBeGreaterThan(0);
    expect(partial.tuples).toBeLessThan(6000);
    // Writes after the export started (and before its resumption) must not show up in it.
    await server.store.writer.write(id, [
      {
        writeTuples: [parseTuple('document:late#owner@user:late')],
        deleteTuples: [parseTuple('document:d1#viewer@user:u1')],
      },
    ]);
    const resumed = await cli('export', '--tenant', id, '--out', out, '--resume', '--page-size', '700');
    expect(resumed.err).toContain('export complete (resumed)');
    expect(resumed.code).toBe(0);
    expect(existsSync(state)).toBe(false);
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(whole, 'utf8'));
  }, 60_000);

  it('reports bad lines with their line numbers; --on-error skip goes on, abort stops', async () => {
    const file = join(dir, `bad-${engine}.ndjson`);
    const good = (t: string) =>
      JSON.stringify({
        tuple: {
          entity: { type: t.split(':')[0], id: t.split(':')[1]!.split('#')[0] },
          relation: 'viewer',
          subject: { type: 'user', id: 'u1' },
        },
      });
    writeFileSync(
      file,
      [
        good('document:a'),
        good('document:b'),
        '{"tuple": {oops',
        good('document:c'),
        JSON.stringify({
          tuple: { entity: { type: 'document', id: 'x' }, relation: 'nope', subject: { type: 'user', id: 'u1' } },
        }),
        good('document:d'),
      ].join('\n') + '\n',
    );
    const skipT = await tenant('bad-skip');
    const skip = await cli('import', '--tenant', skipT, '--on-error', 'skip', '--batch-size', '2', file);
    expect(skip.code).toBe(1);
    expect(skip.err).toContain(`${file}:3: invalid JSON`);
    expect(skip.err).toMatch(new RegExp(`${file}:5: .*`));
    expect(skip.err).toContain('4 items applied');
    const head = await server.store.reader.headSnapToken(skipT);
    expect((await server.store.reader.queryRelationships(skipT, {}, head)).map(tupleToString)).toEqual([
      'document:a#viewer@user:u1',
      'document:b#viewer@user:u1',
      'document:c#viewer@user:u1',
      'document:d#viewer@user:u1',
    ]);

    const abortT = await tenant('bad-abort');
    const abort = await cli(
      'import',
      '--tenant',
      abortT,
      '--batch-size',
      '2',
      '--state',
      join(dir, 'abort.state'),
      file,
    );
    expect(abort.code).toBe(1);
    expect(abort.err).toContain(`${file}:3: invalid JSON`);
    expect(abort.err).not.toContain(`${file}:5:`);
    expect(abort.err).toContain('--resume');
    const h2 = await server.store.reader.headSnapToken(abortT);
    expect((await server.store.reader.queryRelationships(abortT, {}, h2)).map(tupleToString)).toEqual([
      'document:a#viewer@user:u1',
      'document:b#viewer@user:u1',
    ]);

    // A schema violation under abort names its line too (reported by the server).
    const schemaBad = join(dir, `schema-bad-${engine}.ndjson`);
    writeFileSync(schemaBad, [good('document:a'), readFileSync(file, 'utf8').split('\n')[4]].join('\n') + '\n');
    const s = await cli(
      'import',
      '--tenant',
      await tenant('bad-schema'),
      '--state',
      join(dir, 'schema.state'),
      schemaBad,
    );
    expect(s.code).toBe(1);
    expect(s.err).toMatch(new RegExp(`${schemaBad}:2: `));
  });

  it('loads a Permify validation file (relationships: / attributes:) as is', async () => {
    const file = join(dir, `validation-${engine}.yaml`);
    writeFileSync(
      file,
      `schema: >-\n  entity user {}\nrelationships:\n  - document:1#viewer@user:1\n  - "document:2#viewer@organization:o#member"\nattributes:\n  - document:1$public|boolean:true\n  - document:1$tags|string[]:x,y\nscenarios: []\n`,
    );
    const id = await tenant('yaml');
    const r = await cli('import', '--tenant', id, file);
    expect(r.err).toContain('4 items applied');
    const head = await server.store.reader.headSnapToken(id);
    expect((await server.store.reader.queryRelationships(id, {}, head)).map(tupleToString)).toEqual([
      'document:1#viewer@user:1',
      'document:2#viewer@organization:o#member',
    ]);
    expect(await server.store.reader.queryAttributes(id, {}, head)).toHaveLength(2);
  });
});
