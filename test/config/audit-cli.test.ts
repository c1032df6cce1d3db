/**
 * CLI and configuration audit against api-and-operations §10: empty PERMIFY_* variables, the `config`
 * command, `ast`/`fmt` on validation files whose schema is a path and on URLs, `ast --pretty`, and
 * `migrate` (memory no-op, `--target`, `reset`).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import pg from 'pg';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAst } from '../../src/cli/commands/ast.js';
import { registerConfig } from '../../src/cli/commands/config.js';
import { registerFmt } from '../../src/cli/commands/fmt.js';
import { registerMigrate } from '../../src/cli/commands/migrate.js';
import { registerRepair } from '../../src/cli/commands/repair.js';
import { packageVersion, registerVersion } from '../../src/cli/commands/version.js';
import { loadConfig } from '../../src/config/load.js';
import { parseDurationMs } from '../../src/config/schema.js';
import { migrationStatus } from '../../src/storage/postgres/index.js';
import { migrations } from '../../src/storage/postgres/migrations/index.js';
import { createTestDatabase, stopSharedServer, type TestDatabase } from '../support/postgres.js';
import { runCli, type CliResult } from '../support/cli-run.js';

const dir = mkdtempSync(join(tmpdir(), 'permify-audit-cli-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}

const schemaText = 'entity user {}\n\nentity doc {\n    relation owner @user\n    permission view = owner\n}\n';

const run = (...args: string[]): Promise<CliResult> => runCli([registerAst, registerFmt, registerConfig, registerMigrate, registerVersion, registerRepair], args);

let server: Server;
let base = '';
beforeAll(async () => {
  const files: Record<string, string> = {
    '/s.perm': schemaText,
    '/v.yaml': `schema: |-\n${schemaText.replace(/^/gm, '  ')}`,
  };
  server = createServer((req, res) => {
    const body = files[req.url ?? ''];
    res.writeHead(body === undefined ? 404 : 200).end(body ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('environment variables', () => {
  it('a set but empty PERMIFY_* variable counts as unset (falls back to the file, then the default)', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'permify-audit-env-'));
    mkdirSync(join(cwd, 'config'));
    writeFileSync(join(cwd, 'config', 'config.yaml'), 'server:\n  http:\n    port: 4000\n');
    const loaded = loadConfig({
      cwd,
      env: { PERMIFY_HTTP_PORT: '', PERMIFY_HTTP_ENABLED: '', PERMIFY_SERVER_SHUTDOWN_TIMEOUT: '' },
    });
    expect(loaded.config.server.http.port).toBe(4000);
    expect(loaded.sources['server.http.port']).toBe('FILE');
    expect(loaded.config.server.http.enabled).toBe(true);
    expect(loaded.sources['server.http.enabled']).toBe('DEFAULT');
    expect(loaded.config.server.shutdown_timeout).toBe(5000);
  });
});

describe('permify config', () => {
  it('prints every key with its value and source, flag over env over file, secrets masked', async () => {
    const cfg = file(
      'c/config.yaml',
      'server:\n  rate_limit: 7\n  http:\n    port: 4000\nauthn:\n  preshared:\n    keys: [abc123]\n',
    );
    process.env.PERMIFY_RATE_LIMIT = '8';
    process.env.PERMIFY_GRPC_PORT = '5555';
    try {
      const r = await run('config', '-c', cfg, '--server-rate-limit', '9');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^server\.rate_limit\s+9\s+FLAG$/m);
      expect(r.out).toMatch(/^server\.grpc\.port\s+5555\s+ENV$/m);
      expect(r.out).toMatch(/^server\.http\.port\s+4000\s+FILE$/m);
      expect(r.out).toMatch(/^authn\.preshared\.keys\s+\["a\*\*\*\*3"\]\s+FILE$/m);
      expect(r.out).not.toContain('abc123');
    } finally {
      delete process.env.PERMIFY_RATE_LIMIT;
      delete process.env.PERMIFY_GRPC_PORT;
    }
  });
  it('a list flag given several times accumulates, each occurrence may itself be comma-separated', async () => {
    const r = await run(
      'config',
      '--http-cors-allowed-origins',
      'https://a.example',
      '--http-cors-allowed-origins',
      'https://b.example,https://c.example',
    );
    expect(r.out).toMatch(
      /^server\.http\.cors_allowed_origins\s+\["https:\/\/a\.example","https:\/\/b\.example","https:\/\/c\.example"\]\s+FLAG$/m,
    );
  });
  it('durations are shown in Go notation, as they are written in the YAML', async () => {
    const r = await run('config', '--database-garbage-collection-window', '200h');
    expect(r.out).toMatch(/^authn\.oidc\.refresh_interval\s+15m0s\s+DEFAULT$/m);
    expect(r.out).toMatch(/^database\.max_connection_lifetime\s+5m0s\s+DEFAULT$/m);
    expect(r.out).toMatch(/^database\.garbage_collection\.window\s+200h0m0s\s+FLAG$/m);
    expect(r.out).toMatch(/^database\.connect_timeout\s+0s\s+DEFAULT$/m);
  });
  it('a bad value fails with the key and where it came from', async () => {
    const r = await run('config', '--grpc-port', '70000');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/invalid configuration: server\.grpc\.port: .* \(from --grpc-port\)/);
    expect(r.out).toBe('');
  });
});

describe('permify ast / fmt inputs', () => {
  it('ast is compact by default and indented with --pretty', async () => {
    const p = file('a.perm', schemaText);
    const compact = await run('ast', p);
    expect(compact.code).toBe(0);
    expect(compact.out.trimEnd()).not.toContain('\n');
    const pretty = await run('ast', '--pretty', p);
    expect(pretty.out).toContain('\n  "entities"');
    expect(JSON.parse(pretty.out)).toEqual(JSON.parse(compact.out));
  });
  it('a validation file whose schema is a relative path is read through that path', async () => {
    file('rel/sub/s.perm', schemaText);
    const v = file('rel/sub/v.yaml', 'schema: s.perm\nrelationships: []\n');
    const a = await run('ast', v);
    expect(a.err).toBe('');
    expect((JSON.parse(a.out) as { entities: { name: string }[] }).entities.map((e) => e.name)).toEqual([
      'user',
      'doc',
    ]);
    const f = await run('fmt', v);
    expect(f.out).toBe(schemaText);
    expect((await run('fmt', '--check', v)).code).toBe(0);
    expect((await run('ast', file('rel/abs.yaml', `schema: ${join(dir, 'rel/sub/s.perm')}\n`))).err).toContain(
      'invalid file path',
    );
  });
  it('schema files and validation files are fetched from http(s) URLs', async () => {
    const perm = await run('ast', `${base}/s.perm`);
    expect(perm.code).toBe(0);
    expect(JSON.parse(perm.out)).toMatchObject({ entities: [{ name: 'user' }, { name: 'doc' }] });
    const yaml = await run('fmt', `${base}/v.yaml`);
    expect(yaml.out).toBe(schemaText);
    const missing = await run('ast', `${base}/nope.perm`);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('HTTP 404');
    const inlineUrl = file('u.yaml', `schema: ${base}/s.perm\n`);
    expect((await run('fmt', inlineUrl)).out).toBe(schemaText);
  });
});

describe('permify migrate', () => {
  it('the memory engine has nothing to migrate and succeeds without a uri', async () => {
    for (const sub of ['up', 'down', 'status', 'reset']) {
      const r = await run('migrate', sub, '--database-engine', 'memory');
      expect(r.code).toBe(0);
      expect(r.out).toBe('the memory engine has no migrations\n');
    }
    const other = await run('migrate', 'up', '--database-engine', 'mysql');
    expect(other.code).toBe(1);
    expect(other.err).toContain('unsupported database engine "mysql"');
  });
  it('--target must be a version number; --steps and --target exclude each other', async () => {
    expect((await run('migrate', 'up', '--database-engine', 'memory', '--target', 'x')).err).toContain(
      '--target must be a non-negative integer version (got "x")',
    );
    expect(
      (await run('migrate', 'down', '--database-engine', 'memory', '--target', '5', '--steps', '1')).err,
    ).toContain('--steps and --target cannot be combined');
  });

  const dbs: TestDatabase[] = [];
  afterAll(async () => {
    for (const d of dbs) await d.drop();
    await stopSharedServer();
  });
  it('up --target, down --target (0 = one step) and reset on PostgreSQL', async () => {
    const db = await createTestDatabase();
    dbs.push(db);
    const versions = migrations.map((m) => m.version);
    const up = await run('migrate', 'up', '--database-uri', db.uri, '--target', versions[3]!);
    expect(up.out).toBe(
      versions
        .slice(0, 4)
        .map((v) => `applied ${v}\n`)
        .join(''),
    );
    expect((await migrationStatus(db.uri)).filter((s) => s.applied)).toHaveLength(4);
    await run('migrate', 'up', '--database-uri', db.uri);
    const down = await run('migrate', 'down', '--database-uri', db.uri, '--target', versions[5]!);
    expect(down.out).toBe(
      versions
        .slice(6)
        .reverse()
        .map((v) => `reverted ${v}\n`)
        .join(''),
    );
    const one = await run('migrate', 'down', '--database-uri', db.uri);
    expect(one.out).toBe(`reverted ${versions[5]!}\n`);
    const reset = await run('migrate', 'reset', '--database-uri', db.uri);
    expect(reset.code).toBe(0);
    expect((await migrationStatus(db.uri)).every((s) => !s.applied)).toBe(true);
  });

  it('repair datastore advances the transaction-id counter past the recorded ids, --dry-run only reports', async () => {
    const db = await createTestDatabase();
    dbs.push(db);
    await run('migrate', 'up', '--database-uri', db.uri);
    const client = new pg.Client({ connectionString: db.uri });
    await client.connect();
    const one = async (text: string): Promise<string> => {
      const r = await client.query<{ v: string }>(text);
      return r.rows[0]!.v;
    };
    try {
      // A row "restored" from a cluster whose counter was 300 ids ahead of this one.
      await client.query(
        "INSERT INTO transactions (id, tenant_id) VALUES ((pg_current_xact_id()::text::bigint + 300)::text::xid8, 't1')",
      );
      const recorded = BigInt(await one('SELECT max(id::text::bigint)::text AS v FROM transactions'));
      const dry = await run('repair', 'datastore', '--database-uri', db.uri, '--dry-run');
      expect(dry.code).toBe(0);
      expect(dry.out).toMatch(/dry run: would advance the transaction-id counter by \d+/);
      expect(BigInt(await one('SELECT pg_current_xact_id()::text AS v'))).toBeLessThan(recorded);
      const r = await run('repair', 'datastore', '--database-uri', db.uri, '--batch-size', '64', '--verbose=false');
      expect(r.err).toBe('');
      expect(r.out).toMatch(/^advanced the transaction-id counter by \d+\n$/);
      expect(BigInt(await one('SELECT pg_current_xact_id()::text AS v'))).toBeGreaterThan(recorded);
      expect(await one('SELECT count(*)::text AS v FROM transactions')).toBe('1');
      const again = await run('repair', 'datastore', '--database-uri', db.uri);
      expect(again.out).toContain('nothing to do');
    } finally {
      await client.end();
    }
    expect((await run('repair', 'datastore', '--database-engine', 'mysql', '--database-uri', db.uri)).code).toBe(1);
  });
});

describe('garbage collection settings', () => {
  const pg = { PERMIFY_DATABASE_ENGINE: 'postgres', PERMIFY_DATABASE_URI: 'postgres://u@h/db' };
  it('enabled GC with a timeout but no interval is refused instead of silently never running', () => {
    expect(() =>
      loadConfig({
        cwd: dir,
        env: {
          ...pg,
          PERMIFY_DATABASE_GARBAGE_COLLECTION_ENABLED: 'true',
          PERMIFY_DATABASE_GARBAGE_COLLECTION_TIMEOUT: '5m',
        },
      }),
    ).toThrow(
      'invalid configuration: database.garbage_collection.interval: must be > 0 when garbage collection is enabled',
    );
    const ok = loadConfig({
      cwd: dir,
      env: {
        ...pg,
        PERMIFY_DATABASE_GARBAGE_COLLECTION_ENABLED: 'true',
        PERMIFY_DATABASE_GARBAGE_COLLECTION_TIMEOUT: '5m',
        PERMIFY_DATABASE_GARBAGE_COLLECTION_INTERVAL: '200h',
      },
    });
    expect(ok.config.database.garbage_collection.interval).toBe(200 * 3_600_000);
    // Without a timeout GC does not start (Permify), so the interval does not matter; nor on the memory engine.
    expect(() =>
      loadConfig({ cwd: dir, env: { ...pg, PERMIFY_DATABASE_GARBAGE_COLLECTION_ENABLED: 'true' } }),
    ).not.toThrow();
    expect(() =>
      loadConfig({
        cwd: dir,
        env: { PERMIFY_DATABASE_GARBAGE_COLLECTION_ENABLED: 'true', PERMIFY_DATABASE_GARBAGE_COLLECTION_TIMEOUT: '5m' },
      }),
    ).not.toThrow();
  });
});

describe('Go duration syntax', () => {
  it('accepts numbers without integer or fraction digits and a leading +, as time.ParseDuration does', () => {
    expect(parseDurationMs('.5s')).toBe(500);
    expect(parseDurationMs('1.s')).toBe(1000);
    expect(parseDurationMs('+5s')).toBe(5000);
    expect(parseDurationMs('1h.5m')).toBe(3_630_000);
    for (const bad of ['.s', '1..5s', '5', '5S', '-5s', '']) expect(parseDurationMs(bad)).toBeUndefined();
    expect(
      loadConfig({ cwd: dir, flags: { 'authn.oidc.refresh_interval': '.5m' } }).config.authn.oidc.refresh_interval,
    ).toBe(30_000);
  });
});

describe('database URIs', () => {
  it('a postgres engine URI that is not a postgres:// URL is refused at load, not retried as a DNS failure', () => {
    for (const [env, key] of [
      ['PERMIFY_DATABASE_URI', 'database.uri'],
      ['PERMIFY_DATABASE_WRITER_URI', 'database.writer.uri'],
      ['PERMIFY_DATABASE_READER_URI', 'database.reader.uri'],
    ] as const) {
      const extra = env === 'PERMIFY_DATABASE_URI' ? {} : { PERMIFY_DATABASE_WRITER_URI: 'postgres://u@h/db' };
      expect(() =>
        loadConfig({ cwd: dir, env: { PERMIFY_DATABASE_ENGINE: 'postgres', ...extra, [env]: 'host=db user=me' } }),
      ).toThrow(`invalid configuration: ${key}: must be a postgres:// or postgresql:// URL (from ${env})`);
    }
    const ok = loadConfig({
      cwd: dir,
      env: { PERMIFY_DATABASE_ENGINE: 'postgres', PERMIFY_DATABASE_URI: 'postgresql://u:p@h:5432/db?sslmode=disable' },
    });
    expect(ok.config.database.uri).toBe('postgresql://u:p@h:5432/db?sslmode=disable');
    // The memory engine ignores the URI entirely.
    expect(() => loadConfig({ cwd: dir, env: { PERMIFY_DATABASE_URI: 'whatever' } })).not.toThrow();
  });
  it('migrate refuses a non-URL before connecting', async () => {
    const r = await run('migrate', 'status', '--database-uri', 'notauri');
    expect(r.code).toBe(1);
    expect(r.err).toContain('database uri must be a postgres:// or postgresql:// URL');
  });
});

describe('permify version', () => {
  it('prints only the version string, v + semver, like Permify', async () => {
    const r = await run('version');
    expect(r.code).toBe(0);
    expect(r.out).toBe(`v${packageVersion()}\n`);
    expect(r.out).toMatch(/^v\d+\.\d+\.\d+\S*\n$/);
  });
});

describe('YAML scalars for string keys', () => {
  it("numbers and booleans are taken as strings (Permify's sample file has profiler.port: 6060)", () => {
    const cfg = file(
      'scalars/config.yaml',
      'account_id: 12345\nprofiler:\n  enabled: true\n  port: 6060\ndistributed:\n  port: 5000\nauthn:\n  preshared:\n    keys: [12345, true, abc]\n',
    );
    const { config } = loadConfig({ configPath: cfg, cwd: dir });
    expect(config.account_id).toBe('12345');
    expect(config.profiler.port).toBe('6060');
    expect(config.distributed.port).toBe('5000');
    expect(config.authn.preshared.keys).toEqual(['12345', 'true', 'abc']);
  });
});
