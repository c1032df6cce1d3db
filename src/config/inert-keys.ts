/**
 * Configuration keys that permify-ts accepts (so that Permify configuration files load unchanged) but that
 * change nothing here. `permify serve` warns once at start for each one that is set to something other than
 * its default, naming the key and why, instead of ignoring it silently.
 */
import { configSchema, type Config } from './schema.js';

/** An accepted key whose value has no effect, and why. */
export interface InertConfigKey {
  readonly key: string;
  readonly reason: string;
}

interface InertRule {
  readonly key: string;
  readonly value: (c: Config) => unknown;
  /** Only inert under this condition (default: always). */
  readonly when?: (c: Config) => boolean;
  readonly reason: string;
}

const postgres = (c: Config): boolean => c.database.engine === 'postgres';

const rules: readonly InertRule[] = [
  {
    key: 'server.name_override',
    value: (c) => c.server.name_override,
    reason: 'the REST gateway calls the handlers in-process, so no internal gRPC client checks a server name',
  },
  {
    key: 'server.http.grpc_target_host',
    value: (c) => c.server.http.grpc_target_host,
    reason: 'the REST gateway calls the handlers in-process instead of dialling the gRPC port',
  },
  {
    key: 'service.circuit_breaker',
    value: (c) => c.service.circuit_breaker,
    reason: 'there is no circuit breaker; store failures answer each request with its error',
  },
  {
    key: 'database.min_idle_connections',
    value: (c) => c.database.min_idle_connections,
    when: postgres,
    reason:
      'the pool keeps database.min_connections (or database.max_idle_connections) open; it has no separate idle minimum',
  },
  {
    key: 'database.health_check_period',
    value: (c) => c.database.health_check_period,
    when: postgres,
    reason: 'the pool has no periodic health check; server.readiness.* probes the database',
  },
  {
    key: 'database.max_connection_lifetime_jitter',
    value: (c) => c.database.max_connection_lifetime_jitter,
    when: postgres,
    reason: 'connections are closed at exactly database.max_connection_lifetime',
  },
  ...(['address', 'port', 'partition_count', 'replication_factor', 'load', 'picker_width'] as const).map(
    (name): InertRule => ({
      key: `distributed.${name}`,
      value: (c) => c.distributed[name],
      reason: 'distributed mode is not supported by permify-ts',
    }),
  ),
];

let defaults: Config | undefined;

/** The keys of `config` that are set away from their default but have no effect, in a stable order. */
export function inertConfigKeys(config: Config): readonly InertConfigKey[] {
  defaults ??= configSchema.parse({});
  const base = defaults;
  return rules
    .filter((r) => (r.when?.(config) ?? true) && !Object.is(r.value(config), r.value(base)))
    .map((r) => ({ key: r.key, reason: r.reason }));
}
