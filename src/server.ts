/**
 * The composition root: the only place that picks the concrete store and wires the layers together.
 *
 * store (memory | postgres) -> engine (cache sizes from config) -> handlers -> gRPC server and REST gateway,
 * both behind one admission hook (global token bucket, then authentication). Health follows the store's
 * readiness probe for the server's whole life (`server.readiness.*`, with hysteresis) and is NOT_SERVING
 * while shutting down. `close()` (also run on SIGINT/SIGTERM when `handleSignals` is set) stops accepting
 * calls, lets in-flight requests finish within `server.shutdown_timeout`, aborts what is left, ends open
 * streams, then closes the authenticator and the store, never waiting on the store much past the deadline.
 */
import { readFileSync } from 'node:fs';
import { parseHostPort, type Config } from './config/schema.js';
import { redactedConfig } from './config/load.js';
import { inertConfigKeys } from './config/inert-keys.js';
import { createEngine } from './engine/index.js';
import { createSchemaResolver } from './engine/schema-resolver.js';
import { configureMatches } from './language/re2.js';
import { createHandlers, services, type Handlers } from './api/handlers/index.js';
import { createGrpcServer, createHealthReporter, grpcMethodTable, monitorReadiness, type GrpcServer, type ReadinessMonitor } from './api/grpc/index.js';
import { createRestGateway, type RestGateway } from './api/rest/index.js';
import { createConnectHandler } from './api/connect/handler.js';
import { createPipeline } from './api/pipeline/invoke.js';
import { admission, logging, metricsInterceptor, validation } from './api/pipeline/interceptors.js';
import { observability } from './api/pipeline/tracing.js';
import { createAuthenticator, type Authenticator } from './api/middleware/auth.js';
import { createRateLimiter } from './api/middleware/rate-limit.js';
import { createLogger, shutdownLogExport, type Logger } from './observability/logger.js';
import { createMetrics, listenMetrics, type Metrics, type MetricsListener } from './observability/metrics.js';
import { createTelemetry, telemetryVersion } from './observability/telemetry.js';
import { instrumentPgPools, instrumentStore, registerCacheMetrics, traceEngine, traceSchemaResolver } from './observability/instrument.js';
import { registerReadModelMetrics } from './observability/read-model-metrics.js';
import { listenProfiler, type ProfilerListener } from './observability/profiler.js';
import type { ReadModel } from './storage/read-model/read-model.js';
import { PermifyError } from './errors.js';
import type { Store } from './storage/contract.js';
import { createMemoryStore } from './storage/memory/index.js';

export interface StartServerOptions {
  readonly logger?: Logger;
  /** Install SIGINT/SIGTERM handlers that close the server (the CLI sets this). */
  readonly handleSignals?: boolean;
  /** Use this store instead of building one from `config.database` (tests inject faults this way). */
  readonly store?: Store;
  /** Where the logger built from the configuration writes (default stdout); unused with `logger`. */
  readonly logDestination?: NodeJS.WritableStream;
}

export interface RunningServer {
  /**
   * Bound ports (meaningful when the config asked for port 0). `http` is undefined when disabled, `metrics`
   * unless `server.metrics.address` asks for a separate listener.
   */
  readonly ports: {
    readonly grpc: number;
    readonly http: number | undefined;
    readonly metrics: number | undefined;
    /** The profiler listener (`profiler.enabled`). */
    readonly profiler?: number | undefined;
  };
  readonly handlers: Handlers;
  readonly store: Store;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Graceful shutdown; idempotent. */
  close(): Promise<void>;
}

function readPem(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new PermifyError('ERROR_CODE_VALIDATION', `invalid configuration: ${key}: cannot read file`, { cause: e, details: { limit: key } });
  }
}

/** Port of the profiler: `profiler.port` (default 6060, Permify's documented one), never an API port. */
function profilerPortOf(config: Config, grpcPort: number, httpPort: number | undefined): number {
  const raw = config.profiler.port.trim();
  const port = raw === '' ? 6060 : Number(raw);
  const invalid = (why: string): PermifyError =>
    new PermifyError('ERROR_CODE_VALIDATION', `invalid configuration: profiler.port: ${why}`, { details: { limit: 'profiler.port' } });
  if (!/^\d+$/.test(raw === '' ? '6060' : raw) || port > 65535) throw invalid(`must be a port number, not ${JSON.stringify(raw)}`);
  if (port !== 0 && (port === grpcPort || port === httpPort)) throw invalid(`${port} is an API port; the profiler needs its own`);
  return port;
}

/** Time the store may take to close beyond what is left of `server.shutdown_timeout`. */
const STORE_CLOSE_SLACK_MS = 250;

/** True when `work` settles (either way) within `ms`; it is left running otherwise. */
async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([work.then(() => true, () => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** History the memory store keeps when no garbage-collection window is configured. */
const MEMORY_HISTORY_WINDOW_MS = 60 * 60 * 1000;

async function openStore(config: Config, logger: Logger): Promise<Store> {
  if (config.database.engine === 'memory') {
    // The memory store keeps MVCC history so that snap tokens read exact snapshots; without a window that
    // history would grow with every write, so it always collects, by default what is older than an hour.
    const gc = config.database.garbage_collection;
    return createMemoryStore({ gcWindowMs: gc.enabled && gc.window > 0 ? gc.window : MEMORY_HISTORY_WINDOW_MS });
  }
  // Imported lazily so that the memory engine never loads the pg driver.
  const pg = await import('./storage/postgres/index.js');
  const d = config.database;
  const gc = d.garbage_collection;
  const direct = await pg.createPostgresStore({
    uri: d.uri,
    writerUri: d.writer.uri,
    readerUri: d.reader.uri,
    maxOpenConnections: d.max_connections > 0 ? d.max_connections : d.max_open_connections,
    // Permify's rule: max_idle_connections (deprecated) is the pool minimum when min_connections is 0.
    minConnections: d.min_connections > 0 ? d.min_connections : d.max_idle_connections,
    maxConnectionLifetimeMs: d.max_connection_lifetime,
    maxConnectionIdleTimeMs: d.max_connection_idle_time,
    ...(d.connect_timeout > 0 ? { connectionTimeoutMs: d.connect_timeout } : {}),
    statementTimeoutMs: d.statement_timeout,
    maxRetries: d.max_retries,
    maxDataPerWrite: d.max_data_per_write,
    autoMigrate: d.auto_migrate,
    watchBufferSize: d.watch_buffer_size,
    gc: { enabled: gc.enabled && gc.timeout > 0, intervalMs: gc.interval, windowMs: gc.window, timeoutMs: gc.timeout },
    logger: logger.child({ component: 'postgres' }),
  });
  const rm = d.read_model;
  if (!rm.enabled) return direct;
  // Reads from memory, kept current from the database (src/storage/read-model): the engine sees the same
  // storage contract. Imported lazily with the pg store.
  const { createReadModelStore } = await import('./storage/read-model/model-store.js');
  const store = createReadModelStore(direct, {
    logger: logger.child({ component: 'read-model' }),
    maxTuples: rm.max_tuples,
    maxBytes: rm.max_bytes,
    waitTimeoutMs: rm.wait_timeout,
    pollIntervalMs: rm.poll_interval,
  });
  // Ready once caught up; a database that is down at start is reported by readiness, not waited for here.
  await store.readModel.whenCaughtUp(d.connect_timeout > 0 ? d.connect_timeout : 5_000);
  return store;
}

/** Starts both listeners; rejects (after releasing what it opened) when the configuration cannot be served. */
export async function startServer(config: Config, options: StartServerOptions = {}): Promise<RunningServer> {
  // OpenTelemetry first: an exporter that cannot be served fails the start naming its key, before anything opens.
  const telemetry = createTelemetry(config, telemetryVersion());
  const logger =
    options.logger ??
    createLogger({
      level: config.logger.level,
      output: config.logger.output,
      ...(options.logDestination ? { destination: options.logDestination } : {}),
      ...(telemetry.loggerProvider ? { loggerProvider: telemetry.loggerProvider } : {}),
    });
  // The whole configuration is long; `permify config` prints it as a table, and --log-level debug logs it here.
  logger.debug({ config: redactedConfig(config) }, 'effective configuration');
  const accountReminder = (): void => {
    logger.warn({}, 'account_id is not set: set account_id (--account-id, PERMIFY_ACCOUNT_ID) to identify this deployment');
  };
  let accountTimer: NodeJS.Timeout | undefined;
  if (config.account_id === '') {
    accountReminder();
    accountTimer = setInterval(accountReminder, 24 * 60 * 60 * 1000);
    accountTimer.unref();
  }
  for (const { key, reason } of inertConfigKeys(config)) {
    logger.warn({ key }, `${key} is accepted for compatibility and has no effect: ${reason}`);
  }

  const health = createHealthReporter('NOT_SERVING');
  const metrics = createMetrics({ readers: telemetry.metricReaders, resource: telemetry.metricResource });
  const observed = { tracer: telemetry.tracer, tracing: telemetry.tracing, sampleRate: telemetry.sampleRate, metrics };
  let authenticator: Authenticator | undefined;
  if (config.authn.enabled) {
    const a = config.authn;
    authenticator =
      a.method === 'preshared'
        ? await createAuthenticator({ method: 'preshared', keys: a.preshared.keys })
        : await createAuthenticator({
            method: 'oidc',
            issuer: a.oidc.issuer,
            audience: a.oidc.audience,
            refreshIntervalMs: a.oidc.refresh_interval,
            backoffIntervalMs: a.oidc.backoff_interval,
            backoffFrequencyMs: a.oidc.backoff_frequency,
            backoffMaxRetries: a.oidc.backoff_max_retries,
            validMethods: a.oidc.valid_methods,
            leewayMs: a.oidc.leeway,
          });
  }
  const rateLimiter = createRateLimiter({ rate: config.server.rate_limit, burst: config.server.rate_limit_burst });
  // One call pipeline for every transport: validation (unary), token bucket, authentication (the principal
  // reaches the handler), then metrics and logging of every call, refused ones included.
  const interceptors = [
    // First, so that its span covers the whole call, refusals included.
    observability(observed),
    validation(),
    admission({ rateLimiter, ...(authenticator ? { authenticator } : {}) }),
    metricsInterceptor(metrics),
    logging(logger),
  ];

  let store: Store | undefined;
  let grpcServer: GrpcServer | undefined;
  let gateway: RestGateway | undefined;
  let metricsListener: MetricsListener | undefined;
  let profiler: ProfilerListener | undefined;
  let readiness: ReadinessMonitor | undefined;
  let unsubscribeTenants: (() => void) | undefined;
  const release = async (): Promise<void> => {
    unsubscribeTenants?.();
    authenticator?.close();
    await store?.close();
    await Promise.allSettled([metrics.shutdown(), telemetry.shutdown(), options.logger ? undefined : shutdownLogExport(logger)]);
  };
  try {
    // Spans per storage call, Watch streams and GC passes counted; SQL statements and pools observed.
    store = instrumentStore(options.store ?? (await openStore(config, logger)), observed);
    const pools = (store as { readonly database?: Parameters<typeof instrumentPgPools>[0] }).database;
    if (pools !== undefined) instrumentPgPools(pools, observed);
    // The read model's state (per tenant: rows, bytes, lag; fallbacks) and apply lag at /metrics and over OTLP.
    const readModel = (store as { readonly readModel?: ReadModel }).readModel;
    if (readModel !== undefined) registerReadModelMetrics(metrics, readModel);
    // One compiled copy of each schema version for the engine and the Schema handlers.
    const compiledSchemas = createSchemaResolver(store.schemas, {
      maxEntries: config.service.schema.cache.number_of_counters,
      maxBytes: config.service.schema.cache.max_cost,
    });
    const schemaResolver = telemetry.tracing ? traceSchemaResolver(compiledSchemas, telemetry.tracer) : compiledSchemas;
    // Rules' matches() is process-wide (one compiled-pattern cache): its pattern length limit is set here.
    configureMatches({ maxPatternLength: config.service.permission.max_pattern_length });
    const engine = createEngine({
      reader: store.reader,
      schemas: store.schemas,
      schemaResolver,
      checkCacheSize: config.service.permission.cache.number_of_counters,
      checkCacheMaxBytes: config.service.permission.cache.max_cost,
      candidateCacheMaxBytes: config.service.permission.candidate_cache.max_cost,
      maxPageSize: config.service.permission.max_page_size,
      timeSliceMs: config.service.permission.time_slice,
      concurrency: config.service.permission.concurrency_limit,
      bulkLimit: config.service.permission.bulk_limit,
      maxLookupCandidates: config.service.permission.max_lookup_candidates,
      maxExplainNodes: config.service.permission.max_explain_nodes,
    });
    // Tenant deletions by any instance on the same data (this one too) purge the tenant's cache entries.
    unsubscribeTenants = store.tenants.subscribe((event) => {
      if (event.kind === 'deleted') engine.purgeTenant(event.tenantId);
      else engine.purgeAll();
    });
    registerCacheMetrics(metrics, { schemaResolver: compiledSchemas });
    const handlers = createHandlers({
      engine: telemetry.tracing ? traceEngine(engine, telemetry.tracer) : engine,
      store,
      schemaResolver,
      limits: {
        maxDataPerWrite: config.database.max_data_per_write,
        maxSchemaBytes: config.service.schema.max_size,
        maxImportBatch: config.service.data.max_import_batch,
        importConcurrency: config.service.data.import_concurrency,
        maxExportPageSize: config.service.data.max_export_page_size,
      },
      watchEnabled: config.service.watch.enabled,
    });
    const pipeline = createPipeline(grpcMethodTable(handlers, health), interceptors);
    const g = config.server.grpc;
    grpcServer = createGrpcServer({
      handlers,
      pipeline,
      health,
      logger: logger.child({ transport: 'grpc' }),
      ...(g.tls.enabled ? { tls: { cert: readPem(g.tls.cert, 'server.grpc.tls.cert'), key: readPem(g.tls.key, 'server.grpc.tls.key') } } : {}),
    });
    // Both listeners bind `server.host`; empty means every interface.
    const grpcPort = await grpcServer.listen(config.server.host === '' ? '0.0.0.0' : config.server.host, g.port);
    let httpPort: number | undefined;
    const h = config.server.http;
    if (h.enabled) {
      gateway = createRestGateway({
        pipeline,
        services: Object.values(services),
        health,
        // /healthz?detail=true: the read model's state (per tenant: loaded, rows, position, lag).
        healthDetail: () => {
          const rm = (store as { readonly readModel?: ReadModel }).readModel;
          return { read_model: rm === undefined ? { enabled: false } : rm.healthDetail() };
        },
        logger: logger.child({ transport: 'rest' }),
        metrics,
        // On the HTTP port /metrics goes through admission (authentication when enabled) like any RPC; a
        // separate `server.metrics.address` serves it there instead, open, for a scraper on a private network.
        metricsRoute: config.server.metrics.enabled && config.server.metrics.address === '',
        maxBodyBytes: h.max_body_size,
        corsAllowedOrigins: h.cors_allowed_origins,
        corsAllowedHeaders: h.cors_allowed_headers,
        ...(h.playground ? { playground: {} } : {}),
        // Connect and gRPC-Web for browsers under /connect/, through the same pipeline.
        connect: createConnectHandler({
          pipeline,
          services: Object.values(services),
          logger: logger.child({ transport: 'connect' }),
          maxBodyBytes: h.max_body_size,
        }),
        ...(h.tls.enabled ? { tls: { cert: readPem(h.tls.cert, 'server.http.tls.cert'), key: readPem(h.tls.key, 'server.http.tls.key') } } : {}),
      });
      httpPort = await gateway.listen(config.server.host, h.port);
    }

    const m = config.server.metrics;
    let metricsPort: number | undefined;
    if (m.enabled && m.address !== '') {
      const at = parseHostPort(m.address) as { host: string; port: number };
      metricsListener = await listenMetrics(metrics, at.host, at.port);
      metricsPort = metricsListener.port;
    }
    let profilerPort: number | undefined;
    if (config.profiler.enabled) {
      profiler = await listenProfiler(config.server.host, profilerPortOf(config, grpcPort, httpPort));
      profilerPort = profiler.port;
    }

    // Health follows the store for the server's whole life (not only until it first answers): NOT_SERVING
    // while the database is unreachable, with hysteresis so a single lost probe does not flap it.
    const readyStore = store;
    const r = config.server.readiness;
    readiness = monitorReadiness(health, {
      probe: (signal) => readyStore.isReady(signal),
      intervalMs: r.interval,
      timeoutMs: r.timeout,
      failureThreshold: r.failure_threshold,
      successThreshold: r.success_threshold,
      onChange: (status) =>
        status === 'SERVING'
          ? logger.info({ health: status }, 'store ready: serving')
          : logger.warn({ health: status, failedProbes: r.failure_threshold }, 'store not ready: health is NOT_SERVING'),
    });
    await readiness.firstProbe;
    const monitor = readiness;

    // One line that tells an operator what is running: where, on which store, with which admission rules.
    const host = config.server.host === '' ? '0.0.0.0' : config.server.host;
    const authn = config.authn.enabled ? config.authn.method : 'off';
    const rateLimit = config.server.rate_limit > 0 ? `${config.server.rate_limit} requests/s` : 'off';
    const rest = httpPort === undefined ? 'REST off' : `REST on ${host}:${httpPort}`;
    logger.info(
      { grpcPort, httpPort, metricsPort, database: config.database.engine, authn, rateLimit },
      `permify-ts serving: gRPC on ${host}:${grpcPort}, ${rest}, store ${config.database.engine}, authn ${authn}, rate limit ${rateLimit}`,
    );

    let closed: Promise<void> | undefined;
    const onSignal = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'shutting down');
      void running.close().finally(() => {
        process.exitCode = process.exitCode ?? 0;
        // Shutdown is complete; a store connection still held by a statement that ignored cancellation
        // must not keep the process alive past the deadline.
        setTimeout(() => process.exit(), 1_000).unref();
      });
    };
    // A stray rejected promise is a bug to log loudly, not a reason to drop every in-flight request.
    const onUnhandled = (reason: unknown): void => {
      logger.error({ err: reason }, 'unhandled promise rejection');
    };
    const running: RunningServer = {
      ports: { grpc: grpcPort, http: httpPort, metrics: metricsPort, profiler: profilerPort },
      handlers,
      store,
      metrics,
      logger,
      close() {
        closed ??= (async () => {
          const started = Date.now();
          monitor.close();
          if (accountTimer) clearInterval(accountTimer);
          process.removeListener('SIGINT', onSignal);
          process.removeListener('SIGTERM', onSignal);
          process.removeListener('unhandledRejection', onUnhandled);
          health.set('NOT_SERVING');
          const deadline = config.server.shutdown_timeout;
          await Promise.all([gateway?.close(deadline), grpcServer?.close(deadline), metricsListener?.close(), profiler?.close()]);
          // Handlers were aborted at the deadline, but a store call may still hold a connection (a statement
          // blocked on a lock): the store gets what is left of the deadline, and shutdown goes on without it.
          const left = Math.max(0, deadline - (Date.now() - started)) + STORE_CLOSE_SLACK_MS;
          if (!(await settlesWithin(release(), left))) {
            logger.warn({ waitedMs: left }, 'store did not close within server.shutdown_timeout; continuing shutdown');
          }
          logger.info({ durationMs: Date.now() - started }, 'stopped');
        })();
        return closed;
      },
    };
    if (options.handleSignals) {
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      process.on('unhandledRejection', onUnhandled);
    }
    return running;
  } catch (e) {
    if (accountTimer) clearInterval(accountTimer);
    readiness?.close();
    await Promise.allSettled([gateway?.close(0), grpcServer?.close(0), metricsListener?.close(), profiler?.close()]);
    await release();
    throw e;
  }
}
