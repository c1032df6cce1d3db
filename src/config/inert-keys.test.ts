import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../observability/logger.js';
import { startServer } from '../server.js';
import { loadConfig } from './load.js';
import { inertConfigKeys } from './inert-keys.js';

const load = (flags: Record<string, string>) => loadConfig({ env: {}, cwd: '/nonexistent', flags }).config;

describe('inert configuration keys', () => {
  it('are reported only when set away from their default, pool keys only for postgres', () => {
    expect(inertConfigKeys(load({}))).toEqual([]);
    const keys = inertConfigKeys(
      load({
        // Wired into the engine (LookupEntity's check fan-out), so not inert.
        'service.permission.bulk_limit': '50',
        'service.circuit_breaker': 'true',
        'server.name_override': 'permify.local',
        'database.health_check_period': '30s',
        'distributed.address': 'peer:5000',
      }),
    ).map((k) => k.key);
    expect(keys).toEqual([
      'server.name_override',
      'service.circuit_breaker',
      'distributed.address',
    ]);
    const pg = inertConfigKeys(
      load({
        'database.engine': 'postgres',
        'database.uri': 'postgres://u@h/db',
        'database.min_idle_connections': '4',
        'database.health_check_period': '30s',
        'database.max_connection_lifetime_jitter': '10s',
        // Wired into the pool, so not inert.
        'database.min_connections': '2',
        'database.max_connection_lifetime': '10m',
        'database.max_connection_idle_time': '5m',
      }),
    ).map((k) => k.key);
    expect(pg).toEqual([
      'database.min_idle_connections',
      'database.health_check_period',
      'database.max_connection_lifetime_jitter',
    ]);
  });

  it('are warned about once at start, naming the key', async () => {
    const lines: Array<{ level: string; msg: string; key?: string }> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l));
        done();
      },
    });
    const config = load({
      account_id: 'acme',
      'server.grpc.port': '0',
      'server.http.enabled': 'false',
      'service.permission.bulk_limit': '7',
      'server.name_override': 'permify.local',
    });
    const server = await startServer(config, {
      logger: createLogger({ level: 'info', output: 'json', destination: sink }),
    });
    await server.close();
    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.key).toBe('server.name_override');
    expect(warnings[0]?.msg).toMatch(/server\.name_override is accepted for compatibility and has no effect/);
  });
});
