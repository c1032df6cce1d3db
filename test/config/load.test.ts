import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatConfigTable, loadConfig, maskSecret, redactedConfig } from '../../src/config/load.js';
import { configLeaves, parseDurationMs, parseSizeBytes } from '../../src/config/schema.js';
import { PermifyError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'permify-config-'));
function yamlFile(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
const none = '/nonexistent';

function failure(fn: () => unknown): PermifyError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PermifyError) return e;
    throw e;
  }
  throw new Error('expected a failure');
}

describe('defaults', () => {
  it('match Permify code defaults except the deliberate 100 req/s rate limit', () => {
    const { config, sources } = loadConfig({ env: {}, cwd: none });
    expect(config.server.grpc.port).toBe(3478);
    expect(config.server.http.port).toBe(3476);
    expect(config.server.rate_limit).toBe(100);
    expect(config.database.engine).toBe('memory');
    expect(config.authn.oidc.refresh_interval).toBe(15 * 60_000);
    expect(config.authn.oidc.valid_methods).toEqual(['RS256', 'HS256']);
    expect(config.service.permission.cache.max_cost).toBe(10 * 1024 * 1024);
    expect(config.database.max_connection_lifetime).toBe(300_000);
    expect(sources['server.http.port']).toBe('DEFAULT');
  });
});

describe('precedence: defaults < YAML < env < flags', () => {
  const file = yamlFile(
    'config.yaml',
    'server:\n  rate_limit: 1_000\n  http:\n    port: 4000\n  grpc:\n    port: "4001"\nlogger:\n  level: debug\n  file: ignored.log\nauthn:\n  preshared:\n    keys: [a, b]\n',
  );
  it('YAML overrides defaults; unknown keys are ignored; _ separators in numbers', () => {
    const { config, sources } = loadConfig({ configPath: file, env: {} });
    expect(config.server.rate_limit).toBe(1000);
    expect(config.server.http.port).toBe(4000);
    expect(config.server.grpc.port).toBe(4001);
    expect(config.logger.level).toBe('debug');
    expect(config.authn.preshared.keys).toEqual(['a', 'b']);
    expect(sources['server.http.port']).toBe('FILE');
  });
  it('env overrides YAML, flags override env', () => {
    const { config, sources } = loadConfig({
      configPath: file,
      env: { PERMIFY_HTTP_PORT: '5000', PERMIFY_GRPC_PORT: '5001', PERMIFY_AUTHN_PRESHARED_KEYS: 'x, y ,z', PERMIFY_RATE_LIMIT: '7' },
      flags: { 'server.http.port': '6000' },
    });
    expect(config.server.http.port).toBe(6000);
    expect(config.server.grpc.port).toBe(5001);
    expect(config.authn.preshared.keys).toEqual(['x', 'y', 'z']);
    expect(config.server.rate_limit).toBe(7);
    expect([sources['server.http.port'], sources['server.grpc.port'], sources['server.rate_limit']]).toEqual(['FLAG', 'ENV', 'ENV']);
  });
  it('reads ./config/config.yaml implicitly when present', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'permify-cwd-'));
    const sub = join(cwd, 'config');
    mkdirSync(sub);
    writeFileSync(join(sub, 'config.yaml'), 'server:\n  http:\n    port: 4321\n');
    expect(loadConfig({ env: {}, cwd }).config.server.http.port).toBe(4321);
  });
});

describe('env and flag names', () => {
  it('uses Permify’s irregular env names', () => {
    const names = new Map(configLeaves.map((l) => [l.key, l.meta.env]));
    expect(names.get('server.rate_limit')).toBe('PERMIFY_RATE_LIMIT');
    expect(names.get('server.name_override')).toBe('PERMIFY_NAME_OVERRIDE');
    expect(names.get('authn.oidc.backoff_max_retries')).toBe('PERMIFY_AUTHN_OIDC_BACKOFF_RETRIES');
    expect(names.get('tracer.urlpath')).toBe('PERMIFY_TRACER_URL_PATH');
    expect(names.get('logger.level')).toBe('PERMIFY_LOG_LEVEL');
    const flags = new Map(configLeaves.map((l) => [l.key, l.meta.flag]));
    expect(flags.get('server.grpc.tls.cert')).toBe('grpc-tls-cert-path');
    expect(flags.get('database.uri')).toBe('database-uri');
    expect(new Set(configLeaves.map((l) => l.meta.env)).size).toBe(configLeaves.length);
    expect(new Set(configLeaves.map((l) => l.meta.flag)).size).toBe(configLeaves.length);
  });
  it('parses Go durations and byte sizes', () => {
    expect(parseDurationMs('1h30m')).toBe(5_400_000);
    expect(parseDurationMs('300ms')).toBe(300);
    expect(parseDurationMs('12')).toBeUndefined();
    expect(parseSizeBytes('10MiB')).toBe(10 * 1024 * 1024);
    expect(parseSizeBytes('1GB')).toBe(1e9);
    expect(parseSizeBytes('ten')).toBeUndefined();
    expect(loadConfig({ env: { PERMIFY_AUTHN_OIDC_BACKOFF_INTERVAL: '2m' }, cwd: none }).config.authn.oidc.backoff_interval).toBe(120_000);
  });
  it('an unknown logger level falls back to info', () => {
    expect(loadConfig({ env: { PERMIFY_LOG_LEVEL: 'chatty' }, cwd: none }).config.logger.level).toBe('info');
  });
});

describe('bad configuration fails fast naming the key', () => {
  const cases: [string, Parameters<typeof loadConfig>[0], RegExp][] = [
    ['port not a number', { env: { PERMIFY_HTTP_PORT: 'abc' } }, /server\.http\.port.*PERMIFY_HTTP_PORT/],
    ['port out of range', { flags: { 'server.grpc.port': '70000' } }, /server\.grpc\.port.*--grpc-port/],
    ['bad duration', { env: { PERMIFY_AUTHN_OIDC_REFRESH_INTERVAL: '5 minutes' } }, /authn\.oidc\.refresh_interval/],
    ['unknown engine', { env: { PERMIFY_DATABASE_ENGINE: 'mysql' } }, /database\.engine/],
    ['postgres without uri', { env: { PERMIFY_DATABASE_ENGINE: 'postgres' } }, /database\.uri/],
    ['preshared without keys', { env: { PERMIFY_AUTHN_ENABLED: 'true', PERMIFY_AUTHN_METHOD: 'preshared' } }, /authn\.preshared\.keys/],
    ['unknown auth method', { env: { PERMIFY_AUTHN_ENABLED: 'true', PERMIFY_AUTHN_METHOD: 'ldap' } }, /authn\.method/],
    [
      'oidc without backoff frequency',
      { env: { PERMIFY_AUTHN_ENABLED: 'true', PERMIFY_AUTHN_METHOD: 'oidc', PERMIFY_AUTHN_OIDC_ISSUER: 'http://x', PERMIFY_AUTHN_OIDC_AUDIENCE: 'a' } },
      /authn\.oidc\.backoff_frequency/,
    ],
    ['tls without cert', { env: { PERMIFY_GRPC_TLS_ENABLED: 'true' } }, /server\.grpc\.tls\.cert/],
    ['bad boolean', { env: { PERMIFY_HTTP_ENABLED: 'maybe' } }, /server\.http\.enabled/],
    ['bad header entry', { env: { PERMIFY_TRACER_HEADERS: 'novalue' } }, /tracer\.headers/],
    ['config not .yaml', { configPath: join(dir, 'x.yml') }, /config: file name must end in \.yaml/],
    ['unreadable file', { configPath: join(dir, 'missing.yaml') }, /config: cannot read/],
  ];
  for (const [name, opts, re] of cases) {
    it(name, () => {
      const err = failure(() => loadConfig({ env: {}, cwd: none, ...opts }));
      expect(err.code).toBe('ERROR_CODE_VALIDATION');
      expect(err.message).toMatch(re);
    });
  }
  it('invalid YAML names the file', () => {
    const bad = yamlFile('bad.yaml', 'server: [unclosed\n');
    expect(failure(() => loadConfig({ configPath: bad, env: {} })).message).toMatch(/config: .*bad\.yaml is not valid YAML/);
  });
});

describe('redaction', () => {
  it('masks secrets in printouts, keeps the rest', () => {
    const { config } = loadConfig({ env: { PERMIFY_AUTHN_PRESHARED_KEYS: 'supersecret', PERMIFY_DATABASE_URI: 'postgres://u:p@h/db' }, cwd: none });
    const red = redactedConfig(config);
    expect(red['authn.preshared.keys']).toEqual(['s*********t']);
    expect(red['database.uri']).toBe(maskSecret('postgres://u:p@h/db'));
    expect(String(red['database.uri'])).not.toContain('u:p');
    expect(red['server.http.port']).toBe(3476);
    const table = formatConfigTable(loadConfig({ env: { PERMIFY_AUTHN_PRESHARED_KEYS: 'supersecret' }, cwd: none }));
    expect(table).not.toContain('supersecret');
    expect(table).toMatch(/authn\.preshared\.keys\s+\["s\*+t"\]\s+ENV/);
  });
});
