/**
 * The configuration of `permify serve`: ONE zod schema that is the single source of truth for every key.
 *
 * Each leaf is built by a `field.*` helper that records, in {@link configRegistry}, Permify's YAML key, the
 * `--flag` name, the `PERMIFY_*` environment variable, a documentation string and whether the value is a
 * secret. The loader, the CLI flag registration, the redacted printout and the README table are all derived
 * by walking this schema, so a key cannot exist in one place and be missing in another.
 *
 * Leaves accept both their typed form (from YAML) and a string (from env vars and flags) and normalise it:
 * durations (Go syntax `300ms`, `12s`, `15m`) become milliseconds, byte sizes (`10MiB`) become bytes, lists
 * accept a YAML sequence or a comma-separated string, booleans accept `true/false/1/0`, ports accept a
 * number or a numeric string.
 */
import { z } from 'zod';

/** Metadata attached to each configuration leaf. */
export interface ConfigFieldMeta {
  /** Flag of `permify serve`, without the leading dashes (e.g. `http-port`). */
  readonly flag: string;
  /** Environment variable (fixed per key, several are irregular in Permify). */
  readonly env: string;
  readonly doc: string;
  /** Shown masked in printouts (all but the first and last character). */
  readonly secret?: boolean;
  /** Value syntax for help texts. */
  readonly kind: 'string' | 'bool' | 'int' | 'float' | 'port' | 'list' | 'duration' | 'size';
}

/** Registry holding the metadata of every leaf of {@link configSchema}. */
export const configRegistry = z.registry<ConfigFieldMeta>();

const GO_DURATION_UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Parses a Go duration (`1h30m`, `300ms`, `0`) into milliseconds; undefined when malformed. */
export function parseDurationMs(text: string): number | undefined {
  // Go's grammar: an optional `+` (a `-` is a negative duration, refused here), then number+unit pairs
  // where a number may lack its integer or its fraction digits (`.5s`, `1.s`), but not both.
  const s = text.trim().replace(/^\+/, '');
  if (s === '0') return 0;
  if (!/^((\d+\.?\d*|\.\d+)(ns|us|µs|ms|s|m|h))+$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(m[1]) * (GO_DURATION_UNIT_MS[m[2] as string] ?? Number.NaN);
  }
  return Number.isFinite(total) ? total : undefined;
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
};

/**
 * Whether `uri` is a connection URI the PostgreSQL driver understands: `postgres://` or `postgresql://`.
 * Anything else (a bare host, a key=value DSN) would otherwise surface much later as a baffling DNS error.
 */
export function isPostgresUri(uri: string): boolean {
  if (!/^postgres(ql)?:\/\//i.test(uri)) return false;
  try {
    new URL(uri);
    return true;
  } catch {
    return false;
  }
}

/**
 * Splits a listener address `host:port` (`:9090` = all interfaces, `[::1]:9090` for IPv6); undefined when
 * malformed.
 */
export function parseHostPort(address: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(address.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}

/** Parses a human byte size (`10MiB`, `1GB`, `512`) into bytes; undefined when malformed. */
export function parseSizeBytes(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text.replace(/_/g, ''));
  if (!m) return undefined;
  const unit = SIZE_UNITS[(m[2] ?? '').toLowerCase()];
  if (unit === undefined) return undefined;
  return Math.round(Number(m[1]) * unit);
}

function numberish(v: unknown): unknown {
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v.replace(/_/g, ''));
    return Number.isNaN(n) ? v : n;
  }
  return v;
}

/** YAML scalars for string keys (`port: 6060` in Permify's sample file, a numeric account id) become strings. */
function stringish(v: unknown): unknown {
  return typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' ? String(v) : v;
}

function boolish(v: unknown): unknown {
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (s === 'true' || s === '1' || s === 't' || s === 'yes') return true;
    if (s === 'false' || s === '0' || s === 'f' || s === 'no' || s === '') return false;
  }
  return v;
}

function listish(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stringish);
  if (typeof v === 'string') {
    return v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }
  return v;
}

function durationish(v: unknown): unknown {
  if (typeof v === 'number') return v === 0 ? 0 : Number.NaN; // bare numbers other than 0 are ambiguous in Go
  if (typeof v === 'string') return parseDurationMs(v) ?? v;
  return v;
}

function sizeish(v: unknown): unknown {
  if (typeof v === 'string') return parseSizeBytes(v) ?? v;
  return v;
}

function register<T extends z.ZodType>(schema: T, meta: Omit<ConfigFieldMeta, 'kind'>, kind: ConfigFieldMeta['kind']): T {
  configRegistry.add(schema, { ...meta, kind });
  return schema;
}

type Meta = Omit<ConfigFieldMeta, 'kind'>;

/** Leaf builders: each returns a zod schema with a default and registered metadata. */
export const field = {
  string: (def: string, meta: Meta) => register(z.preprocess(stringish, z.string()).default(def), meta, 'string'),
  enumOf: <const T extends readonly [string, ...string[]]>(values: T, def: T[number], meta: Meta) =>
    register(z.enum(values).default(def as never), meta, 'string'),
  bool: (def: boolean, meta: Meta) => register(z.preprocess(boolish, z.boolean()).default(def), meta, 'bool'),
  int: (def: number, meta: Meta, min = 0) =>
    register(z.preprocess(numberish, z.number().int().min(min)).default(def), meta, 'int'),
  float: (def: number, meta: Meta) => register(z.preprocess(numberish, z.number().min(0)).default(def), meta, 'float'),
  port: (def: number, meta: Meta) =>
    register(z.preprocess(numberish, z.number().int().min(0).max(65535)).default(def), meta, 'port'),
  list: (def: readonly string[], meta: Meta) =>
    register(z.preprocess(listish, z.array(z.string())).default([...def]), meta, 'list'),
  /** Go duration syntax; the parsed value is in milliseconds. */
  duration: (def: string, meta: Meta) =>
    register(
      z
        .preprocess(durationish, z.number({ error: 'expected a Go duration such as 300ms, 12s or 15m' }).min(0))
        .default(parseDurationMs(def) as number),
      meta,
      'duration',
    ),
  /** Human byte size; the parsed value is in bytes. */
  size: (def: string, meta: Meta) =>
    register(
      z
        .preprocess(sizeish, z.number({ error: 'expected a byte size such as 512KiB or 10MiB' }).int().min(0))
        .default(parseSizeBytes(def) as number),
      meta,
      'size',
    ),
};

const f = field;

const tls = (prefix: 'grpc' | 'http') =>
  z
    .object({
      enabled: f.bool(false, {
        flag: `${prefix}-tls-enabled`,
        env: `PERMIFY_${prefix.toUpperCase()}_TLS_ENABLED`,
        doc: `serve the ${prefix === 'grpc' ? 'gRPC' : 'REST'} listener over TLS`,
      }),
      cert: f.string('', {
        flag: `${prefix}-tls-cert-path`,
        env: `PERMIFY_${prefix.toUpperCase()}_TLS_CERT_PATH`,
        doc: 'PEM certificate (chain) file',
        secret: true,
      }),
      key: f.string('', {
        flag: `${prefix}-tls-key-path`,
        env: `PERMIFY_${prefix.toUpperCase()}_TLS_KEY_PATH`,
        doc: 'PEM private key file',
        secret: true,
      }),
    })
    .prefault({});

const exporter = (section: 'logger' | 'tracer' | 'meter', envPrefix: string, flagPrefix: string, defaults: { exporter: string; endpoint: string }) => ({
  enabled: f.bool(false, { flag: `${flagPrefix}-enabled`, env: `${envPrefix}_ENABLED`, doc: `export ${section === 'logger' ? 'log records' : section === 'tracer' ? 'spans' : 'metrics'} with OpenTelemetry` }),
  exporter: f.string(defaults.exporter, {
    flag: `${flagPrefix}-exporter`,
    env: `${envPrefix}_EXPORTER`,
    doc: `otlp, otlp-http or otlp-grpc${section === 'tracer' ? ', signoz (OTLP/gRPC) or zipkin' : ''}; other names fail at start`,
  }),
  endpoint: f.string(defaults.endpoint, { flag: `${flagPrefix}-endpoint`, env: `${envPrefix}_ENDPOINT`, doc: 'collector endpoint', secret: true }),
  insecure: f.bool(false, { flag: `${flagPrefix}-insecure`, env: `${envPrefix}_INSECURE`, doc: 'plain-text connection to the collector' }),
  urlpath: f.string('', { flag: `${flagPrefix}-urlpath`, env: `${envPrefix}_URL_PATH`, doc: 'collector URL path' }),
  headers: f.list([], { flag: `${flagPrefix}-headers`, env: `${envPrefix}_HEADERS`, doc: 'collector headers, entries key:value', secret: true }),
  protocol: f.string('http', { flag: `${flagPrefix}-protocol`, env: `${envPrefix}_PROTOCOL`, doc: 'http or grpc' }),
  service_name: f.string('permify', { flag: `${flagPrefix}-service-name`, env: `${envPrefix}_SERVICE_NAME`, doc: 'service name reported to the collector' }),
});

/**
 * The configuration schema. Keys are Permify's YAML keys (api-and-operations §10.2) plus a few documented
 * additions (`server.rate_limit_burst`, `server.http.max_body_size`, `server.shutdown_timeout`,
 * `service.permission.max_lookup_candidates`). Deliberate difference: `server.rate_limit` defaults to 100.
 */
export const configSchema = z
  .object({
    account_id: f.string('', { flag: 'account-id', env: 'PERMIFY_ACCOUNT_ID', doc: 'Permify account id (informational)' }),
    server: z
      .object({
        host: f.string('', { flag: 'server-host', env: 'PERMIFY_SERVER_HOST', doc: 'bind address of the gRPC and HTTP listeners (empty = all interfaces)' }),
        name_override: f.string('', { flag: 'server-name-override', env: 'PERMIFY_NAME_OVERRIDE', doc: 'accepted for compatibility, no effect (no internal gRPC client: the gateway calls the handlers in-process)' }),
        rate_limit: f.int(100, { flag: 'server-rate-limit', env: 'PERMIFY_RATE_LIMIT', doc: 'global token-bucket rate, requests per second (0 disables)' }),
        rate_limit_burst: f.int(0, { flag: 'server-rate-limit-burst', env: 'PERMIFY_RATE_LIMIT_BURST', doc: 'token-bucket capacity (0 = same as rate_limit)' }),
        shutdown_timeout: f.duration('5s', { flag: 'server-shutdown-timeout', env: 'PERMIFY_SERVER_SHUTDOWN_TIMEOUT', doc: 'time in-flight requests get to finish on shutdown' }),
        readiness: z
          .object({
            interval: f.duration('1s', { flag: 'server-readiness-interval', env: 'PERMIFY_SERVER_READINESS_INTERVAL', doc: 'period of the store readiness probe behind health' }),
            timeout: f.duration('1s', { flag: 'server-readiness-timeout', env: 'PERMIFY_SERVER_READINESS_TIMEOUT', doc: 'a readiness probe taking longer counts as failed' }),
            failure_threshold: f.int(3, { flag: 'server-readiness-failure-threshold', env: 'PERMIFY_SERVER_READINESS_FAILURE_THRESHOLD', doc: 'consecutive failed probes before health turns NOT_SERVING' }, 1),
            success_threshold: f.int(2, { flag: 'server-readiness-success-threshold', env: 'PERMIFY_SERVER_READINESS_SUCCESS_THRESHOLD', doc: 'consecutive good probes before health turns SERVING again' }, 1),
          })
          .prefault({}),
        metrics: z
          .object({
            enabled: f.bool(true, { flag: 'server-metrics-enabled', env: 'PERMIFY_SERVER_METRICS_ENABLED', doc: 'serve Prometheus text at GET /metrics' }),
            address: f.string('', { flag: 'server-metrics-address', env: 'PERMIFY_SERVER_METRICS_ADDRESS', doc: 'host:port of a separate /metrics listener without authentication (empty = on the HTTP port, behind authn)' }),
          })
          .prefault({}),
        grpc: z
          .object({
            port: f.port(3478, { flag: 'grpc-port', env: 'PERMIFY_GRPC_PORT', doc: 'gRPC listener port (0 = any free port)' }),
            tls: tls('grpc'),
          })
          .prefault({}),
        http: z
          .object({
            enabled: f.bool(true, { flag: 'http-enabled', env: 'PERMIFY_HTTP_ENABLED', doc: 'serve the REST/JSON gateway' }),
            port: f.port(3476, { flag: 'http-port', env: 'PERMIFY_HTTP_PORT', doc: 'REST listener port (0 = any free port)' }),
            grpc_target_host: f.string('127.0.0.1', { flag: 'http-grpc-target-host', env: 'PERMIFY_HTTP_GRPC_TARGET_HOST', doc: 'accepted for compatibility; the gateway calls the handlers in-process' }),
            tls: tls('http'),
            cors_allowed_origins: f.list(['*'], { flag: 'http-cors-allowed-origins', env: 'PERMIFY_HTTP_CORS_ALLOWED_ORIGINS', doc: 'CORS origins (* = any)' }),
            cors_allowed_headers: f.list(['*'], { flag: 'http-cors-allowed-headers', env: 'PERMIFY_HTTP_CORS_ALLOWED_HEADERS', doc: 'CORS request headers (* = any)' }),
            max_body_size: f.size('4MiB', { flag: 'http-max-body-size', env: 'PERMIFY_HTTP_MAX_BODY_SIZE', doc: 'largest accepted REST request body' }),
            playground: f.bool(true, { flag: 'http-playground', env: 'PERMIFY_HTTP_PLAYGROUND', doc: 'serve the browser playground at /playground (static files; the API it calls keeps its authentication)' }),
          })
          .prefault({}),
      })
      .prefault({}),
    profiler: z
      .object({
        enabled: f.bool(false, { flag: 'profiler-enabled', env: 'PERMIFY_PROFILER_ENABLED', doc: 'serve CPU and heap profiles (pprof format) on profiler.port' }),
        port: f.string('', { flag: 'profiler-port', env: 'PERMIFY_PROFILER_PORT', doc: 'port of the profiler listener (never an API port; empty = 6060)' }),
      })
      .prefault({}),
    logger: z
      .object({
        level: z
          .preprocess(
            (v) => (typeof v === 'string' && ['debug', 'info', 'warn', 'error'].includes(v.toLowerCase()) ? v.toLowerCase() : 'info'),
            z.enum(['debug', 'info', 'warn', 'error']),
          )
          .default('info'),
        output: f.enumOf(['text', 'json', ''], '', { flag: 'log-output', env: 'PERMIFY_LOG_OUTPUT', doc: 'text (default) or json lines on stdout' }),
        ...exporter('logger', 'PERMIFY_LOG', 'log', { exporter: 'otlp', endpoint: '' }),
      })
      .prefault({}),
    authn: z
      .object({
        enabled: f.bool(false, { flag: 'authn-enabled', env: 'PERMIFY_AUTHN_ENABLED', doc: 'require a bearer token on every RPC except health' }),
        method: f.string('', { flag: 'authn-method', env: 'PERMIFY_AUTHN_METHOD', doc: 'preshared or oidc' }),
        preshared: z
          .object({
            keys: f.list([], { flag: 'authn-preshared-keys', env: 'PERMIFY_AUTHN_PRESHARED_KEYS', doc: 'accepted bearer tokens', secret: true }),
          })
          .prefault({}),
        oidc: z
          .object({
            issuer: f.string('', { flag: 'authn-oidc-issuer', env: 'PERMIFY_AUTHN_OIDC_ISSUER', doc: 'issuer URL; its discovery document is fetched at start', secret: true }),
            audience: f.string('', { flag: 'authn-oidc-audience', env: 'PERMIFY_AUTHN_OIDC_AUDIENCE', doc: 'required aud claim', secret: true }),
            refresh_interval: f.duration('15m', { flag: 'authn-oidc-refresh-interval', env: 'PERMIFY_AUTHN_OIDC_REFRESH_INTERVAL', doc: 'background JWKS refresh period' }),
            backoff_interval: f.duration('12s', { flag: 'authn-oidc-backoff-interval', env: 'PERMIFY_AUTHN_OIDC_BACKOFF_INTERVAL', doc: 'how long a kid still unknown after its refetches is refused without refetching' }),
            backoff_frequency: f.duration('0', { flag: 'authn-oidc-backoff-frequency', env: 'PERMIFY_AUTHN_OIDC_BACKOFF_FREQUENCY', doc: 'least time between JWKS refetches for unknown kids (must be > 0 for oidc)' }),
            backoff_max_retries: f.int(5, { flag: 'authn-oidc-backoff-max-retries', env: 'PERMIFY_AUTHN_OIDC_BACKOFF_RETRIES', doc: 'JWKS refetches per unknown kid' }),
            valid_methods: f.list(['RS256', 'HS256'], { flag: 'authn-oidc-valid-methods', env: 'PERMIFY_AUTHN_OIDC_VALID_METHODS', doc: 'accepted JWS algorithms' }),
            leeway: f.duration('0s', { flag: 'authn-oidc-leeway', env: 'PERMIFY_AUTHN_OIDC_LEEWAY', doc: 'clock skew tolerated on exp/nbf/iat' }),
          })
          .prefault({}),
      })
      .prefault({}),
    tracer: z
      .object({
        ...exporter('tracer', 'PERMIFY_TRACER', 'tracer', { exporter: '', endpoint: '' }),
        sample_rate: f.float(1, { flag: 'tracer-sample-rate', env: 'PERMIFY_TRACER_SAMPLE_RATE', doc: 'share of new traces kept, 0..1 (a sampled incoming traceparent is always followed)' }),
      })
      .prefault({}),
    meter: z
      .object({
        ...exporter('meter', 'PERMIFY_METER', 'meter', { exporter: 'otlp', endpoint: 'telemetry.permify.co' }),
        interval: f.int(300, { flag: 'meter-interval', env: 'PERMIFY_METER_INTERVAL', doc: 'push period in seconds' }),
      })
      .prefault({}),
    service: z
      .object({
        circuit_breaker: f.bool(false, { flag: 'service-circuit-breaker', env: 'PERMIFY_SERVICE_CIRCUIT_BREAKER', doc: 'accepted for compatibility, no effect (warned at start when true)' }),
        watch: z
          .object({ enabled: f.bool(false, { flag: 'service-watch-enabled', env: 'PERMIFY_SERVICE_WATCH_ENABLED', doc: 'serve the Watch RPC' }) })
          .prefault({}),
        schema: z
          .object({
            max_size: f.size('1MiB', { flag: 'service-schema-max-size', env: 'PERMIFY_SERVICE_SCHEMA_MAX_SIZE', doc: 'largest schema text a Schema/Write or PartialWrite may store' }),
            cache: z
              .object({
                number_of_counters: f.int(1000, { flag: 'service-schema-cache-number-of-counters', env: 'PERMIFY_SERVICE_SCHEMA_CACHE_NUMBER_OF_COUNTERS', doc: 'compiled schema versions kept' }, 1),
                max_cost: f.size('64MiB', { flag: 'service-schema-cache-max-cost', env: 'PERMIFY_SERVICE_SCHEMA_CACHE_MAX_COST', doc: 'estimated heap of the compiled schema versions kept (about 24x their text)' }),
              })
              .prefault({}),
          })
          .prefault({}),
        data: z
          .object({
            max_import_batch: f.int(10_000, { flag: 'service-data-max-import-batch', env: 'PERMIFY_SERVICE_DATA_MAX_IMPORT_BATCH', doc: 'items of one permifyts.v1.Data/Import message, applied as one transaction; a larger batch fails naming this limit' }, 1),
            import_concurrency: f.int(2, { flag: 'service-data-import-concurrency', env: 'PERMIFY_SERVICE_DATA_IMPORT_CONCURRENCY', doc: 'batches of one permifyts.v1.Data/Import stream applied at once, each its own transaction, answered in order (PostgreSQL: about one database core each); rows keep the stream order whatever runs at once' }, 1),
            max_export_page_size: f.int(10_000, { flag: 'service-data-max-export-page-size', env: 'PERMIFY_SERVICE_DATA_MAX_EXPORT_PAGE_SIZE', doc: 'largest permifyts.v1.Data/Export page_size (0 in a request means min(1000, this)); a larger one fails naming this limit' }, 1),
          })
          .prefault({}),
        permission: z
          .object({
            bulk_limit: f.int(100, { flag: 'service-permission-bulk-limit', env: 'PERMIFY_SERVICE_PERMISSION_BULK_LIMIT', doc: 'candidate checks of one LookupEntity(Stream) page in flight at once (the lookup check fan-out)' }, 1),
            concurrency_limit: f.int(100, { flag: 'service-permission-concurrency-limit', env: 'PERMIFY_SERVICE_PERMISSION_CONCURRENCY_LIMIT', doc: 'parallel branches per check' }, 1),
            max_lookup_candidates: f.int(1_000_000, { flag: 'service-permission-max-lookup-candidates', env: 'PERMIFY_SERVICE_PERMISSION_MAX_LOOKUP_CANDIDATES', doc: 'candidates one lookup may consider' }, 1),
            max_explain_nodes: f.int(100_000, { flag: 'service-permission-max-explain-nodes', env: 'PERMIFY_SERVICE_PERMISSION_MAX_EXPLAIN_NODES', doc: 'nodes of one Explain proof tree; a larger one fails naming this limit' }, 1),
            max_page_size: f.int(10_000, { flag: 'service-permission-max-page-size', env: 'PERMIFY_SERVICE_PERMISSION_MAX_PAGE_SIZE', doc: 'largest LookupEntity/LookupSubject page_size (0 in a request means 1000)' }, 1),
            max_pattern_length: f.int(256, { flag: 'service-permission-max-pattern-length', env: 'PERMIFY_SERVICE_PERMISSION_MAX_PATTERN_LENGTH', doc: 'longest regular expression a rule may pass to matches(), characters; a longer one fails the request (INVALID_ARGUMENT) naming this limit (compiling is not linear in the pattern)' }, 1),
            time_slice: f.duration('10ms', { flag: 'service-permission-time-slice', env: 'PERMIFY_SERVICE_PERMISSION_TIME_SLICE', doc: 'longest run of one request before it lets the event loop take a turn' }),
            candidate_cache: z
              .object({
                max_cost: f.size('32MiB', { flag: 'service-permission-candidate-cache-max-cost', env: 'PERMIFY_SERVICE_PERMISSION_CANDIDATE_CACHE_MAX_COST', doc: 'LookupEntity candidate sets and LookupSubject answers kept for continuation pages, bytes (0 disables)' }),
              })
              .prefault({}),
            cache: z
              .object({
                number_of_counters: f.int(10_000, { flag: 'service-permission-cache-number-of-counters', env: 'PERMIFY_SERVICE_PERMISSION_CACHE_NUMBER_OF_COUNTERS', doc: 'check-cache entries (0 disables)' }),
                max_cost: f.size('10MiB', { flag: 'service-permission-cache-max-cost', env: 'PERMIFY_SERVICE_PERMISSION_CACHE_MAX_COST', doc: 'estimated bytes of the check cache (0 disables)' }),
              })
              .prefault({}),
          })
          .prefault({}),
      })
      .prefault({}),
    database: z
      .object({
        engine: f.enumOf(['memory', 'postgres'], 'memory', { flag: 'database-engine', env: 'PERMIFY_DATABASE_ENGINE', doc: 'memory or postgres' }),
        uri: f.string('', { flag: 'database-uri', env: 'PERMIFY_DATABASE_URI', doc: 'postgres URI for both roles', secret: true }),
        writer: z.object({ uri: f.string('', { flag: 'database-writer-uri', env: 'PERMIFY_DATABASE_WRITER_URI', doc: 'writer URI (when uri is empty)', secret: true }) }).prefault({}),
        reader: z.object({ uri: f.string('', { flag: 'database-reader-uri', env: 'PERMIFY_DATABASE_READER_URI', doc: 'reader URI (when uri is empty)', secret: true }) }).prefault({}),
        auto_migrate: f.bool(true, { flag: 'database-auto-migrate', env: 'PERMIFY_DATABASE_AUTO_MIGRATE', doc: 'apply migrations at start' }),
        max_connections: f.int(0, { flag: 'database-max-connections', env: 'PERMIFY_DATABASE_MAX_CONNECTIONS', doc: 'pool size (0 = max_open_connections)' }),
        max_open_connections: f.int(0, { flag: 'database-max-open-connections', env: 'PERMIFY_DATABASE_MAX_OPEN_CONNECTIONS', doc: 'pool size per role (deprecated name; 0 = twice the CPU cores, 4 to 20: see docs/postgres.md)' }),
        max_idle_connections: f.int(1, { flag: 'database-max-idle-connections', env: 'PERMIFY_DATABASE_MAX_IDLE_CONNECTIONS', doc: 'pool minimum when min_connections is 0 (deprecated)' }),
        min_connections: f.int(0, { flag: 'database-min-connections', env: 'PERMIFY_DATABASE_MIN_CONNECTIONS', doc: 'connections per pool kept open when idle (0 = max_idle_connections)' }),
        min_idle_connections: f.int(1, { flag: 'database-min-idle-connections', env: 'PERMIFY_DATABASE_MIN_IDLE_CONNECTIONS', doc: 'accepted for compatibility, no effect (see min_connections)' }),
        max_connection_lifetime: f.duration('300s', { flag: 'database-max-connection-lifetime', env: 'PERMIFY_DATABASE_MAX_CONNECTION_LIFETIME', doc: 'a connection is closed once this old, when next idle (0 = never)' }),
        max_connection_idle_time: f.duration('60s', { flag: 'database-max-connection-idle-time', env: 'PERMIFY_DATABASE_MAX_CONNECTION_IDLE_TIME', doc: 'idle time before a connection above the minimum closes (0 = never)' }),
        health_check_period: f.duration('0', { flag: 'database-health-check-period', env: 'PERMIFY_DATABASE_HEALTH_CHECK_PERIOD', doc: 'accepted for compatibility, no effect (server.readiness.* probes the database)' }),
        max_connection_lifetime_jitter: f.duration('0', { flag: 'database-max-connection-lifetime-jitter', env: 'PERMIFY_DATABASE_MAX_CONNECTION_LIFETIME_JITTER', doc: 'accepted for compatibility, no effect' }),
        connect_timeout: f.duration('0', { flag: 'database-connect-timeout', env: 'PERMIFY_DATABASE_CONNECT_TIMEOUT', doc: 'connect timeout (0 = store default)' }),
        statement_timeout: f.duration('30s', { flag: 'database-statement-timeout', env: 'PERMIFY_DATABASE_STATEMENT_TIMEOUT', doc: 'server-side limit per SQL statement (0 = none); the client gives up 1s later' }),
        max_data_per_write: f.int(1000, { flag: 'database-max-data-per-write', env: 'PERMIFY_DATABASE_MAX_DATA_PER_WRITE', doc: 'tuples + attributes per write' }, 1),
        max_retries: f.int(10, { flag: 'database-max-retries', env: 'PERMIFY_DATABASE_MAX_RETRIES', doc: 'serialization-conflict retries' }),
        watch_buffer_size: f.int(100, { flag: 'database-watch-buffer-size', env: 'PERMIFY_DATABASE_WATCH_BUFFER_SIZE', doc: 'change sets buffered per Watch stream' }, 1),
        read_model: z
          .object({
            enabled: f.bool(true, { flag: 'database-read-model-enabled', env: 'PERMIFY_DATABASE_READ_MODEL_ENABLED', doc: 'postgres: answer reads from an in-memory model kept current from the database' }),
            max_tuples: f.int(10_000_000, { flag: 'database-read-model-max-tuples', env: 'PERMIFY_DATABASE_READ_MODEL_MAX_TUPLES', doc: 'rows (tuples + attributes, history included) the model holds per process; tenants beyond it read the database' }),
            max_bytes: f.size('4GiB', { flag: 'database-read-model-max-bytes', env: 'PERMIFY_DATABASE_READ_MODEL_MAX_BYTES', doc: 'estimated bytes the model holds per process' }),
            wait_timeout: f.duration('10ms', { flag: 'database-read-model-wait-timeout', env: 'PERMIFY_DATABASE_READ_MODEL_WAIT_TIMEOUT', doc: 'how long a read at a token the model has not reached waits before reading the database' }),
            poll_interval: f.duration('50ms', { flag: 'database-read-model-poll-interval', env: 'PERMIFY_DATABASE_READ_MODEL_POLL_INTERVAL', doc: 'tailing poll period when no NOTIFY wakes the model' }),
          })
          .prefault({}),
        garbage_collection: z
          .object({
            enabled: f.bool(false, { flag: 'database-garbage-collection-enabled', env: 'PERMIFY_DATABASE_GARBAGE_COLLECTION_ENABLED', doc: 'collect old history' }),
            interval: f.duration('0', { flag: 'database-garbage-collection-interval', env: 'PERMIFY_DATABASE_GARBAGE_COLLECTION_INTERVAL', doc: 'GC period' }),
            timeout: f.duration('0', { flag: 'database-garbage-collection-timeout', env: 'PERMIFY_DATABASE_GARBAGE_COLLECTION_TIMEOUT', doc: 'GC run timeout (GC starts only when > 0)' }),
            window: f.duration('0', { flag: 'database-garbage-collection-window', env: 'PERMIFY_DATABASE_GARBAGE_COLLECTION_WINDOW', doc: 'history kept' }),
          })
          .prefault({}),
      })
      .prefault({}),
    distributed: z
      .object({
        enabled: f.bool(false, { flag: 'distributed-enabled', env: 'PERMIFY_DISTRIBUTED_ENABLED', doc: 'accepted; distributed mode is not implemented and refused' }),
        address: f.string('', { flag: 'distributed-address', env: 'PERMIFY_DISTRIBUTED_ADDRESS', doc: 'peer target' }),
        port: f.string('5000', { flag: 'distributed-port', env: 'PERMIFY_DISTRIBUTED_PORT', doc: 'peer port' }),
        partition_count: f.int(0, { flag: 'distributed-partition-count', env: 'PERMIFY_DISTRIBUTED_PARTITION_COUNT', doc: 'consistent-hash partitions' }),
        replication_factor: f.int(0, { flag: 'distributed-replication-factor', env: 'PERMIFY_DISTRIBUTED_REPLICATION_FACTOR', doc: 'consistent-hash replicas' }),
        load: f.float(0, { flag: 'distributed-load', env: 'PERMIFY_DISTRIBUTED_LOAD', doc: 'consistent-hash load' }),
        picker_width: f.int(0, { flag: 'distributed-picker-width', env: 'PERMIFY_DISTRIBUTED_PICKER_WIDTH', doc: 'picker width' }),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    const issue = (path: string, message: string): void => {
      ctx.addIssue({ code: 'custom', path: path.split('.'), message });
    };
    if (c.authn.enabled) {
      if (c.authn.method === 'preshared') {
        if (c.authn.preshared.keys.length === 0) issue('authn.preshared.keys', 'at least one key is required when authn.method is preshared');
      } else if (c.authn.method === 'oidc') {
        if (c.authn.oidc.issuer === '') issue('authn.oidc.issuer', 'required when authn.method is oidc');
        if (c.authn.oidc.audience === '') issue('authn.oidc.audience', 'required when authn.method is oidc');
        if (!(c.authn.oidc.backoff_frequency > 0)) issue('authn.oidc.backoff_frequency', 'must be > 0 when authn.method is oidc');
        if (!(c.authn.oidc.backoff_interval > 0)) issue('authn.oidc.backoff_interval', 'must be > 0 when authn.method is oidc');
        if (!(c.authn.oidc.backoff_max_retries > 0)) issue('authn.oidc.backoff_max_retries', 'must be > 0 when authn.method is oidc');
        if (c.authn.oidc.valid_methods.length === 0) issue('authn.oidc.valid_methods', 'at least one algorithm is required');
        if (c.distributed.enabled) issue('authn.method', 'oidc cannot be combined with distributed.enabled');
      } else {
        issue('authn.method', `must be "preshared" or "oidc" when authn.enabled is true (got "${c.authn.method}")`);
      }
    }
    for (const t of ['grpc', 'http'] as const) {
      const tlsConf = c.server[t].tls;
      if (tlsConf.enabled && tlsConf.cert === '') issue(`server.${t}.tls.cert`, 'required when TLS is enabled');
      if (tlsConf.enabled && tlsConf.key === '') issue(`server.${t}.tls.key`, 'required when TLS is enabled');
    }
    if (!(c.server.readiness.interval > 0)) issue('server.readiness.interval', 'must be > 0');
    if (!(c.server.readiness.timeout > 0)) issue('server.readiness.timeout', 'must be > 0');
    if (c.server.metrics.address !== '' && parseHostPort(c.server.metrics.address) === undefined) {
      issue('server.metrics.address', 'must be host:port (e.g. 127.0.0.1:9090 or :9090)');
    }
    if (c.database.engine === 'postgres' && c.database.uri === '' && c.database.writer.uri === '') {
      issue('database.uri', 'required when database.engine is postgres (or set database.writer.uri)');
    }
    if (c.database.engine === 'postgres') {
      for (const key of ['uri', 'writer.uri', 'reader.uri'] as const) {
        const value = key === 'uri' ? c.database.uri : key === 'writer.uri' ? c.database.writer.uri : c.database.reader.uri;
        if (value !== '' && !isPostgresUri(value)) issue(`database.${key}`, 'must be a postgres:// or postgresql:// URL');
      }
    }
    if (c.database.engine === 'postgres' && c.database.read_model.enabled && !(c.database.read_model.poll_interval > 0)) {
      issue('database.read_model.poll_interval', 'must be > 0 when the read model is enabled');
    }
    const gc = c.database.garbage_collection;
    if (c.database.engine === 'postgres' && gc.enabled && gc.timeout > 0 && !(gc.interval > 0)) {
      issue('database.garbage_collection.interval', 'must be > 0 when garbage collection is enabled');
    }
    if (!(c.service.schema.max_size > 0)) issue('service.schema.max_size', 'must be > 0');
    if (!(c.service.permission.time_slice >= 1)) issue('service.permission.time_slice', 'must be at least 1ms');
    if (!(c.service.schema.cache.max_cost > 0)) issue('service.schema.cache.max_cost', 'must be > 0');
    if (c.distributed.enabled) issue('distributed.enabled', 'distributed mode is not supported by permify-ts');
    for (const section of ['logger', 'tracer', 'meter'] as const) {
      c[section].headers.forEach((h, i) => {
        if (h.split(':').length !== 2) issue(`${section}.headers`, `entry ${i} must be key:value`);
      });
    }
  });

/** The validated configuration (durations in ms, sizes in bytes, ports as numbers). */
export type Config = z.output<typeof configSchema>;

/** One leaf of the schema with its dotted key. */
export interface ConfigLeaf {
  readonly key: string;
  readonly meta: ConfigFieldMeta;
}

const levelMeta: ConfigFieldMeta = { flag: 'log-level', env: 'PERMIFY_LOG_LEVEL', doc: 'debug, info, warn or error (anything else = info)', kind: 'string' };

function unwrapObject(schema: z.ZodType): z.ZodObject | undefined {
  let s: unknown = schema;
  for (let i = 0; i < 5; i++) {
    if (s instanceof z.ZodObject) return s;
    const def = (s as { _zod?: { def?: { innerType?: unknown; in?: unknown; schema?: unknown } } })._zod?.def;
    const next = def?.innerType ?? def?.in ?? def?.schema;
    if (next === undefined) return undefined;
    s = next;
  }
  return undefined;
}

function collectLeaves(obj: z.ZodObject, prefix: string, out: ConfigLeaf[]): void {
  for (const [name, child] of Object.entries(obj.shape)) {
    const key = prefix === '' ? name : `${prefix}.${name}`;
    const meta = configRegistry.get(child as z.ZodType);
    if (meta) {
      out.push({ key, meta });
      continue;
    }
    if (key === 'logger.level') {
      out.push({ key, meta: levelMeta });
      continue;
    }
    const inner = unwrapObject(child as z.ZodType);
    if (inner) collectLeaves(inner, key, out);
  }
}

/** Every configuration leaf in declaration order, derived from {@link configSchema}. */
export const configLeaves: readonly ConfigLeaf[] = (() => {
  const out: ConfigLeaf[] = [];
  const root = unwrapObject(configSchema);
  if (root) collectLeaves(root, '', out);
  return Object.freeze(out);
})();
