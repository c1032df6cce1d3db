/**
 * The read model: per server process, the memory store's MVCC tables (src/storage/memory/tables.ts) kept
 * current from PostgreSQL, so that reads are answered without SQL.
 *
 * Loading: on first use of a tenant its live rows are read in one REPEATABLE READ transaction (one snapshot
 * C0); the tenant's position P is C0.
 * Tailing: one poller for the whole process. Each cycle is one REPEATABLE READ transaction at snapshot C;
 * for every loaded tenant it reads the transactions of the `transactions` table visible in C and not in
 * the tenant's P (so none is applied twice, whatever failed before), the rows they created or expired, and
 * applies them in order; then P := C. A failed cycle changes nothing and is retried. Cycles run on a timer
 * (the safety net), when our own writes commit, and when a read names a token the model does not cover yet.
 *
 * Rows carry local transaction numbers ("seq"): base rows (the load) 1, then one per applied transaction.
 * A read at token T is answered only when every transaction T sees is applied (T within P) and T sees
 * everything the base saw; its view is "seq <= tx, except the hidden ones" (a transaction applied before
 * another that T sees, but invisible at T). Other tokens fall through to PostgreSQL.
 */
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { A_EXPIRED, A_ID, LIVE, T_EXPIRED, T_ID, TenantData } from '../memory/tables.js';
import {
  connect,
  createSidePool,
  expiredBy,
  liveSentinel,
  mustDiscard,
  type Database,
  type StoreLogger,
} from '../postgres/database.js';
import {
  decodeToken,
  encodeToken,
  legacyToken,
  parsePgSnapshot,
  visibleAtToken,
  visibleInSnapshot,
  type DecodedToken,
  type PgSnapshot,
} from '../postgres/snap-token.js';
import { scanRows } from '../postgres/bulk.js';
import { decodeAttributeValue } from '../postgres/values.js';
import { restrictSnapshot, snapshotWithin, snapshotWithinToken, tokenWithin } from './snapshots.js';

export interface ReadModelOptions {
  /** Rows (tuples + attributes, history included) the model may hold in this process. */
  readonly maxTuples: number;
  /** Estimated bytes the model may hold in this process. */
  readonly maxBytes: number;
  /** How long a read at a token the model has not reached yet waits before falling through. */
  readonly waitTimeoutMs: number;
  /** Poll interval of the tailing loop when nothing wakes it. */
  readonly pollIntervalMs: number;
  /** The model counts as behind (head reads fall through) when no cycle succeeded for this long. */
  readonly staleAfterMs: number;
  readonly logger: StoreLogger;
}

/** A read position: rows with `created <= tx` (not hidden) and not expired by such a transaction. */
export interface ModelView {
  readonly tx: number;
  readonly hidden: ReadonlySet<number> | undefined;
}

/** The view of the token naming no transaction ("AAAAAAAAAAA="): nothing is visible. */
export const EMPTY_VIEW: ModelView = Object.freeze({ tx: 0, hidden: undefined });

interface Batch {
  readonly firstSeq: number;
  /** Transaction ids by seq (`xids[i]` has seq `firstSeq + i`). */
  readonly xids: readonly bigint[];
  /** The position after the batch, restricted to the tenant's newest transaction. */
  readonly pos: PgSnapshot;
}

/** Most batches kept for computing views of older tokens; older ones are folded into the base. */
const MAX_BATCHES = 512;
const MAX_VIEWS = 4096;
/**
 * Tailing cycles that may be in flight at once. A write committed while a cycle is running is usually not in
 * that cycle's snapshot; a second cycle started at once (rather than after the first) takes the lag from
 * about two cycles down to about one. Results are applied as they arrive, each only when its snapshot
 * contains the tenant's position (so a slower, older cycle never moves it back).
 */
const MAX_CYCLES_IN_FLIGHT = 2;
/** Every tenant costs at least this many rows of the budget (unknown tenant ids must not be free). */
const TENANT_MIN_ROWS = 64;
/** Rough bytes per string beyond its characters (Map entry, array slot, header). */
const STRING_OVERHEAD_BYTES = 60;
/** Thrown inside a load that was refused by the budget or made pointless (tenant dropped, model closed). */
const LOAD_ABANDONED = new Error('read model: load abandoned');

/**
 * Interns a field scanned out of a COPY chunk. A new string of 13 characters or more is a V8 slice of the
 * whole chunk's text and would keep that text alive for as long as the model holds it: store a copy.
 */
function internCopy(s: TenantData['strings'], v: string): number {
  const id = s.lookup(v);
  if (id >= 0) return id;
  return s.intern(v.length >= 13 ? Buffer.from(v, 'utf8').toString('utf8') : v);
}

/**
 * A tailing cycle's statements, prepared once per connection (PostgreSQL keeps them per session) and run with
 * a generic plan: planning them on every cycle cost the server more than running them. Parameters: $1 the
 * loaded tenants, $2 their positions (`xmin:xmax:xip`), in the same order.
 *
 * HEADS_SQL: per tenant, the transactions to apply (committed in the cycle's snapshot, not in the tenant's
 * position), the schema head and the creation time (a change = deleted and maybe re-created).
 *
 * CHANGES_SQL: the rows those transactions created or expired, tuples and attributes in one result. Both run
 * in the cycle's one snapshot with the same positions, so CHANGES_SQL has the rows of exactly the
 * transactions HEADS_SQL lists. Every lookup is a correlated subquery or a LATERAL subquery kept out of the
 * join planning (OFFSET 0) (a join of the listed transactions with the rows was once planned as a scan of the
 * whole table), and the session forbids sequential scans (see TAIL_SESSION_SQL): the plans are index scans
 * however many transactions or rows the tables hold.
 */
export const HEADS_STATEMENT = 'permify_read_model_heads';
export const CHANGES_STATEMENT = 'permify_read_model_changes';
const POSITIONS = 'unnest($1::text[], $2::text[]) AS p(tenant, snap)';
const NEWER_THAN_POSITION =
  'FROM transactions t WHERE t.tenant_id = p.tenant AND t.id >= pg_snapshot_xmin(p.snap::pg_snapshot)' +
  ' AND NOT pg_visible_in_snapshot(t.id, p.snap::pg_snapshot)';
/**
 * A transaction's age in seconds when the cycle reads it, on the database's clock: its `timestamp` column is
 * `now() AT TIME ZONE 'UTC'` of the writing transaction (its start), so no clock of this host is involved.
 */
const TX_AGE = `extract(epoch FROM (clock_timestamp() AT TIME ZONE 'UTC') - t."timestamp")::float8`;
const HEADS_SQL =
  'SELECT p.tenant AS tenant_id,' +
  ' (SELECT max(version) FROM schema_definitions s WHERE s.tenant_id = p.tenant) AS v,' +
  ' (SELECT created_at::text FROM tenants tn WHERE tn.id = p.tenant) AS c, x.txs, x.ages' +
  ` FROM ${POSITIONS} CROSS JOIN LATERAL (SELECT coalesce(array_agg(t.id::text ORDER BY t.id), '{}') AS txs,` +
  ` coalesce(array_agg(${TX_AGE} ORDER BY t.id), '{}') AS ages ${NEWER_THAN_POSITION}) x`;
const TUPLE_COLUMNS =
  'r.tenant_id, r.id, r.entity_type, r.entity_id, r.relation, r.subject_type, r.subject_id, r.subject_relation,' +
  ' NULL::jsonb AS value, r.created_tx_id::text AS created_tx_id, r.expired_tx_id::text AS expired_tx_id';
const ATTRIBUTE_COLUMNS =
  'r.tenant_id, r.id, r.entity_type, r.entity_id, r.attribute, NULL, NULL, NULL, r.value, r.created_tx_id::text,' +
  ' r.expired_tx_id::text';
/** Rows of `table` created by transaction x, and rows expired by x that no listed transaction created. */
const changedRows = (k: number, columns: string, table: string): string =>
  `SELECT ${k} AS k, r.* FROM x CROSS JOIN LATERAL (SELECT ${columns} FROM ${table} r` +
  ' WHERE r.tenant_id = x.tenant_id AND r.created_tx_id = x.id OFFSET 0) r' +
  ` UNION ALL SELECT ${k}, r.* FROM x CROSS JOIN LATERAL (SELECT ${columns} FROM ${table} r` +
  ` WHERE r.tenant_id = x.tenant_id AND ${expiredBy('x.id')} AND r.created_tx_id NOT IN (SELECT id FROM x)` +
  ' OFFSET 0) r';
const CHANGES_SQL =
  `WITH x AS MATERIALIZED (SELECT p.tenant AS tenant_id, unnest(ARRAY(SELECT t.id ${NEWER_THAN_POSITION})) AS id` +
  ` FROM ${POSITIONS}) ${changedRows(0, TUPLE_COLUMNS, 'relation_tuples')}` +
  ` UNION ALL ${changedRows(1, ATTRIBUTE_COLUMNS, 'attributes')} ORDER BY 1, 3`;
/**
 * Sent on a tailing connection's first cycle: its settings, then the statements above.
 * - The generic plans are made once per connection and kept until a table's statistics change, so they must
 *   not depend on how large the tables were when they were made. A generic plan cannot tell how selective
 *   `id >= xmin` is, so one made while `transactions` (or `attributes`) held a few rows read the whole table
 *   on every cycle once it had grown: at 1,000 writes/s the tailing connections' CPU grew by the minute, and
 *   with it the apply lag. With sequential scans disabled, every lookup is an index scan whatever the sizes.
 * - Never JIT-compiled: a freshly loaded tenant has few transactions of many rows each, so the generic plan's
 *   estimate passed jit_above_cost and every run spent a second compiling a plan that runs in 0.1 ms.
 * The connections are the model's own (no other statement runs on them), so the settings are the session's.
 */
export const TAIL_SESSION_SQL: readonly string[] = [
  'SET plan_cache_mode = force_generic_plan',
  'SET jit = off',
  'SET enable_seqscan = off',
  `PREPARE ${HEADS_STATEMENT}(text[], text[]) AS ${HEADS_SQL}`,
  `PREPARE ${CHANGES_STATEMENT}(text[], text[]) AS ${CHANGES_SQL}`,
];
/** Connections (of any model in this process) on which TAIL_SESSION_SQL was run. */
const preparedOn = new WeakSet<object>();

/** A tenant is reloaded once it holds more expired rows than this and than live rows. */
const RELOAD_MIN_EXPIRED_ROWS = 100_000;

export class ModelTenant {
  readonly data = new TenantData();
  /** Last seq assigned (1 = the base). */
  seq = 1;
  /** Position: the snapshot of the last cycle that applied this tenant (full, not restricted). */
  pos: PgSnapshot;
  /** The load's snapshot restricted to the tenant, or the position of the newest batch folded into it. */
  base: PgSnapshot;
  baseSeq = 1;
  /** The base holds no transaction of the tenant: every token sees all of it. */
  baseEmpty: boolean;
  /** `tenants.created_at` at load ('' = no such row): a change means the tenant was deleted (and re-created). */
  createdAt = '';
  /** Rows whose expiry was applied (history); the tenant is reloaded when they outnumber the live ones. */
  expiredRows = 0;
  readonly batches: Batch[] = [];
  /** The tenant's newest transaction visible at `pos` (0 = none). */
  headXid: bigint;
  headToken: string;
  readonly views = new Map<string, ModelView>();
  schemaHead: string | undefined;
  /** True once rows were appended out of PostgreSQL id order (results are then sorted by id). */
  disordered = false;
  maxTupleId = 0;
  maxAttributeId = 0;
  rows = 0;
  loadedAtMs = Date.now();
  loadMs = 0;

  constructor(pos: PgSnapshot, headXid: bigint, schemaHead: string | undefined) {
    this.pos = pos;
    this.headXid = headXid;
    this.base = headXid === 0n ? pos : restrictSnapshot(pos, headXid);
    this.headToken = headXid === 0n ? legacyToken(0n) : encodeToken({ xid: headXid, snapshot: this.base });
    this.schemaHead = schemaHead;
    this.baseEmpty = headXid === 0n;
    this.views.set(this.headToken, { tx: 1, hidden: undefined });
  }

  /** Estimated bytes held (typed arrays, indexes, strings, attribute values). */
  get bytes(): number {
    let n = this.data.tuples.byteSize;
    for (const c of this.data.attributes.rows.cols) n += c.byteLength;
    n += this.data.attributes.length * 48;
    for (const s of this.data.strings.strings) n += s.length * 2 + STRING_OVERHEAD_BYTES;
    return n;
  }

  /**
   * The view of a token that {@link tokenWithin} the position, or undefined when the token sees less
   * than the base (older than what the model holds).
   */
  view(token: string, decoded: DecodedToken): ModelView | undefined {
    const cached = this.views.get(token);
    if (cached !== undefined) return cached;
    let kLo = -1;
    const candidates: [number, boolean][] = [];
    for (let b = this.batches.length - 1; b >= 0; b -= 1) {
      const batch = this.batches[b] as Batch;
      if (snapshotWithinToken(batch.pos, decoded)) {
        kLo = batch.firstSeq + batch.xids.length - 1;
        break;
      }
      for (let i = 0; i < batch.xids.length; i += 1) {
        candidates.push([batch.firstSeq + i, visibleAtToken(batch.xids[i] as bigint, decoded)]);
      }
    }
    if (kLo < 0) {
      if (!this.baseEmpty && !snapshotWithinToken(this.base, decoded)) return undefined;
      kLo = this.baseSeq;
    }
    let tx = kLo;
    for (const [seq, visible] of candidates) if (visible && seq > tx) tx = seq;
    let hidden: Set<number> | undefined;
    for (const [seq, visible] of candidates) {
      if (!visible && seq < tx) (hidden ??= new Set()).add(seq);
    }
    const v: ModelView = { tx, hidden };
    if (this.views.size >= MAX_VIEWS) this.views.clear();
    this.views.set(token, v);
    return v;
  }
}

/** Per-tenant state for metrics and /healthz. */
export interface ReadModelTenantState {
  readonly tenantId: string;
  readonly loaded: boolean;
  readonly rows: number;
  readonly bytes: number;
  /** The tenant's head snap token in the model. */
  readonly position: string;
  /** Milliseconds since the last successful cycle. */
  readonly lagMs: number;
}

export interface ReadModelState {
  readonly enabled: true;
  /** True once the first cycle succeeded and the model is not behind. */
  readonly caughtUp: boolean;
  readonly rows: number;
  readonly bytes: number;
  readonly maxTuples: number;
  readonly maxBytes: number;
  readonly lastCycleAgoMs: number;
  readonly cycles: number;
  readonly failedCycles: number;
  readonly appliedTransactions: number;
  readonly fallbacks: number;
  readonly modelReads: number;
  readonly tenants: readonly ReadModelTenantState[];
  readonly overBudget: readonly string[];
}

interface FetchedTuple {
  tenant: string;
  id: number;
  row: string[];
  created: bigint;
  expired: bigint;
}

const live = BigInt(liveSentinel);

export class ReadModel {
  private readonly tenants = new Map<string, ModelTenant>();
  private readonly loading = new Map<string, Promise<void>>();
  /** Tenants refused by the budget, with the time to try again. */
  private readonly overBudget = new Map<string, number>();
  /** Bumped whenever a tenant is dropped: an in-flight load or cycle result for it is discarded. */
  private readonly epochs = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  /** When `timer` fires (performance.now() time). */
  private timerDue = 0;
  private readonly cycling = new Set<Promise<void>>();
  /** Numbers of the cycles in flight (cycles are numbered as they start; `startedCycles` is the last). */
  private readonly cyclingNumbers = new Set<number>();
  private startedCycles = 0;
  private again = false;
  private closed = false;
  private lastCycleOkMs = 0;
  /** Consecutive failed cycles. */
  private failures = 0;
  private cycleWaiters: (() => void)[] = [];
  /** Connections running a load or a cycle (cut on close). */
  private readonly active = new Set<pg.PoolClient>();
  readonly stats = {
    cycles: 0,
    failedCycles: 0,
    appliedTransactions: 0,
    fallbacks: 0,
    modelReads: 0,
    /** Time spent in successful cycles (sum and maximum), for the lag figures. */
    cycleMsTotal: 0,
    cycleMsMax: 0,
  };

  /**
   * The tailing cycles' own connections (one per cycle in flight), apart from the store's pool: a cycle must
   * not queue behind requests for a connection, nor wait for one to be set up (that was the longest part of
   * the slowest cycles, 15-150 ms, when the shared pool had to open one on a busy machine).
   */
  private readonly tailPool: pg.Pool;

  constructor(
    private readonly db: Database,
    readonly options: ReadModelOptions,
  ) {
    this.tailPool = createSidePool(db, 'read-model', MAX_CYCLES_IN_FLIGHT);
  }

  start(): void {
    this.schedule(0);
    // Open the tailing connections now: cycles overlap only under write load, and the first overlapping one
    // would otherwise wait there for a connection to be set up (tens of ms on a busy machine).
    for (let i = 0; i < MAX_CYCLES_IN_FLIGHT; i += 1) {
      this.tailPool.connect().then(
        (c) => c.release(),
        () => undefined,
      );
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    // A load or cycle may wait on a lock or a slow server: cut its connection rather than wait for it.
    for (const client of this.active) {
      (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    }
    await Promise.allSettled([...this.cycling]);
    await Promise.allSettled([...this.loading.values()]);
    await this.tailPool.end().catch(() => undefined);
    this.tenants.clear();
  }

  /** True when the model is tailing normally (head reads may use it). */
  get fresh(): boolean {
    return this.lastCycleOkMs > 0 && Date.now() - this.lastCycleOkMs <= this.options.staleAfterMs;
  }

  /** The loaded tenant, or undefined (starting its load when the budget allows). */
  tenant(tenantId: string): ModelTenant | undefined {
    const t = this.tenants.get(tenantId);
    if (t !== undefined) return t;
    if (!this.closed && !this.loading.has(tenantId)) {
      const retryAt = this.overBudget.get(tenantId);
      if (retryAt === undefined || Date.now() >= retryAt) this.startLoad(tenantId);
    }
    return undefined;
  }

  /** Resolves once a tailing cycle has succeeded, or after `timeoutMs` (then `fresh` stays false). */
  async whenCaughtUp(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.fresh && !this.closed && Date.now() < deadline) await this.nextCycle(deadline - Date.now());
    return this.fresh;
  }

  /** The loaded tenant, without starting a load. */
  loadedTenant(tenantId: string): ModelTenant | undefined {
    return this.tenants.get(tenantId);
  }

  /** Resolves when the tenant's load settles (tests, bench). */
  async whenLoaded(tenantId: string): Promise<boolean> {
    this.tenant(tenantId);
    await this.loading.get(tenantId)?.catch(() => undefined);
    return this.tenants.has(tenantId);
  }

  /**
   * The view of `token` for a loaded tenant: at once when the model covers it, else after waiting up to
   * `waitTimeoutMs` for cycles to reach it; undefined = fall through to PostgreSQL.
   */
  async view(tenantId: string, token: string, signal?: AbortSignal): Promise<ModelView | undefined> {
    let t = this.tenant(tenantId);
    if (t === undefined) return undefined;
    const hit = t.views.get(token);
    if (hit !== undefined) return hit;
    let decoded: DecodedToken;
    try {
      decoded = decodeToken(token);
    } catch {
      return undefined; // the direct reader reports the error
    }
    if (decoded.snapshot === undefined) return decoded.xid === 0n ? EMPTY_VIEW : undefined;
    if (tokenWithin(decoded, t.pos)) return t.view(token, decoded);
    const deadline = Date.now() + this.options.waitTimeoutMs;
    // A cycle already running may well cover the token (its write committed before the token got here, and
    // its NOTIFY has usually started one): wait for it before asking for another. Every waiter asking at once
    // kept two cycles running back to back, whose CPU lengthened the slowest cycles instead.
    // A cycle that starts after this read arrived takes its snapshot after the write behind the token
    // committed, so it covers the token: while one is running or about to start, waiting is enough.
    const arrivedAfter = this.startedCycles;
    const covering = (): boolean => this.again || [...this.cyclingNumbers].some((n) => n > arrivedAfter);
    let ask = this.cycling.size === 0;
    while (!this.closed && Date.now() < deadline && !(signal?.aborted ?? false)) {
      await this.nextCycle(deadline - Date.now(), ask && !covering());
      ask = true;
      t = this.tenants.get(tenantId);
      if (t === undefined) return undefined;
      if (tokenWithin(decoded, t.pos)) return t.view(token, decoded);
    }
    return undefined;
  }

  /** Called with the tenant id whenever a tenant is dropped (schema caches forget it too). */
  readonly dropListeners = new Set<(tenantId: string) => void>();

  /**
   * Called, synchronously, each time a tailing cycle has moved a tenant's position (`t.pos`) forward: from
   * then on reads at tokens within it are answered by the model (the apply-lag benchmark times this).
   */
  readonly advanceListeners = new Set<(tenantId: string, t: ModelTenant) => void>();

  /**
   * Called for every transaction a cycle applied, with its apply lag in seconds: its age on the database's
   * clock when the cycle read it (from its start, so the write's own duration is included) plus the time
   * from sending the cycle's query to applying its result (`permify_read_model_apply_lag_seconds`). The stretch
   * from sending the query to the database reading its clock is in both terms: the figure errs high by that.
   */
  readonly applyLagListeners = new Set<(tenantId: string, seconds: number) => void>();

  /** Drops a tenant (deleted, or its state is in doubt); it is loaded again on next use. */
  drop(tenantId: string): void {
    this.epochs.set(tenantId, (this.epochs.get(tenantId) ?? 0) + 1);
    this.tenants.delete(tenantId);
    this.overBudget.delete(tenantId);
    this.ownSchema.delete(tenantId);
    this.ownWrites.delete(tenantId);
    for (const l of this.dropListeners) l(tenantId);
  }

  dropAll(): void {
    for (const id of [...this.tenants.keys(), ...this.loading.keys()]) this.drop(id);
  }

  /**
   * Asks for a cycle soon (a write committed, or a reader waits for a newer token): at once when fewer than
   * {@link MAX_CYCLES_IN_FLIGHT} are running (the running one's snapshot may predate the write), else as
   * soon as one ends. After failures, one cycle at a time.
   */
  kick(): void {
    if (this.closed) return;
    if (this.cycling.size === 0) this.schedule(0);
    else if (this.cycling.size < MAX_CYCLES_IN_FLIGHT && this.failures === 0) this.runCycle();
    else this.again = true;
  }

  /** Schema versions and write tokens this process wrote, per tenant, that the model may not show yet. */
  private readonly ownSchema = new Map<string, string>();
  private readonly ownWrites = new Map<string, string>();

  /** Records a schema version this process wrote (a load already under way may not have seen it). */
  noteSchemaVersion(tenantId: string, version: string): void {
    const noted = this.ownSchema.get(tenantId);
    if (noted === undefined || version > noted) this.ownSchema.set(tenantId, version);
  }

  /** The tenant's schema head: the model's, or a newer version written by this process. */
  schemaHead(t: ModelTenant, tenantId: string): string | undefined {
    const noted = this.ownSchema.get(tenantId);
    if (noted === undefined) return t.schemaHead;
    if (t.schemaHead !== undefined && t.schemaHead >= noted) {
      this.ownSchema.delete(tenantId);
      return t.schemaHead;
    }
    return noted;
  }

  /** The head token when it can be given at once (loaded, fresh, no own write pending), else undefined. */
  headTokenNow(tenantId: string): string | undefined {
    const t = this.tenants.get(tenantId);
    if (t === undefined || this.ownWrites.has(tenantId) || !this.fresh) return undefined;
    return t.headToken;
  }

  /** Records the token of a write through this process: head reads here must not show less. */
  noteWrite(tenantId: string, token: string): void {
    this.ownWrites.set(tenantId, token);
  }

  /**
   * The tenant's head token from the model once it shows this process's latest write to the tenant (waiting
   * up to `waitTimeoutMs`); undefined = read the head from PostgreSQL.
   */
  async headToken(tenantId: string, signal?: AbortSignal): Promise<string | undefined> {
    const t = this.tenant(tenantId);
    if (t === undefined || !this.fresh) return undefined;
    const own = this.ownWrites.get(tenantId);
    if (own === undefined) return t.headToken;
    if ((await this.view(tenantId, own, signal)) === undefined) return undefined;
    if (this.ownWrites.get(tenantId) === own) this.ownWrites.delete(tenantId);
    return this.tenants.get(tenantId)?.headToken;
  }

  state(): ReadModelState {
    const now = Date.now();
    const tenants: ReadModelTenantState[] = [];
    let rows = 0;
    let bytes = 0;
    for (const [tenantId, t] of this.tenants) {
      const b = t.bytes;
      rows += t.rows;
      bytes += b;
      tenants.push({
        tenantId,
        loaded: true,
        rows: t.rows,
        bytes: b,
        position: t.headToken,
        lagMs: this.lastCycleOkMs > 0 ? now - this.lastCycleOkMs : -1,
      });
    }
    for (const tenantId of this.loading.keys()) {
      tenants.push({ tenantId, loaded: false, rows: 0, bytes: 0, position: '', lagMs: -1 });
    }
    return {
      enabled: true,
      caughtUp: this.fresh,
      rows,
      bytes,
      maxTuples: this.options.maxTuples,
      maxBytes: this.options.maxBytes,
      lastCycleAgoMs: this.lastCycleOkMs > 0 ? now - this.lastCycleOkMs : -1,
      ...this.stats,
      tenants,
      overBudget: [...this.overBudget.keys()],
    };
  }

  /**
   * The state for `/healthz?detail=true`: per tenant whether it is loaded, its rows, position (the tenant's
   * head snap token in the model) and lag (time since the model last advanced it).
   */
  healthDetail(): Record<string, unknown> {
    const s = this.state();
    return {
      enabled: true,
      caught_up: s.caughtUp,
      rows: s.rows,
      bytes: s.bytes,
      max_rows: s.maxTuples,
      max_bytes: s.maxBytes,
      lag_ms: s.lastCycleAgoMs,
      tenants: s.tenants.map((t) => ({
        tenant_id: t.tenantId,
        loaded: t.loaded,
        rows: t.rows,
        bytes: t.bytes,
        position: t.position,
        lag_ms: t.lagMs,
      })),
      over_budget: s.overBudget,
    };
  }

  private usedRows(except?: string): number {
    let n = 0;
    for (const [id, t] of this.tenants) if (id !== except) n += Math.max(TENANT_MIN_ROWS, t.rows);
    return n;
  }

  private usedBytes(except?: string): number {
    let n = 0;
    for (const [id, t] of this.tenants) if (id !== except) n += t.bytes;
    return n;
  }

  private refuse(tenantId: string, why: string): void {
    this.drop(tenantId);
    this.overBudget.set(tenantId, Date.now() + 60_000);
    this.options.logger.warn({ tenantId, why }, 'read model: tenant over budget; served by direct reads');
  }

  /** Resolves when the next cycle ends (at most `maxWaitMs`), asking for one first when `ask`. */
  private nextCycle(maxWaitMs: number, ask = true): Promise<void> {
    if (ask) this.kick();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.max(0, maxWaitMs));
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.cycleWaiters.push(done);
    });
  }

  /**
   * Starts a cycle after `delayMs`, unless one is already set to start no later: a kick must not postpone the
   * start that an earlier kick asked for (at 1,000 writes/s, NOTIFYs and waiting reads arrive less than a
   * millisecond apart, and each one re-arming the timer kept pushing the cycle back).
   */
  private schedule(delayMs: number): void {
    if (this.closed) return;
    const due = performance.now() + delayMs;
    if (this.timer !== undefined && this.timerDue <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.runCycle();
    }, delayMs);
    this.timer.unref();
  }

  private runCycle(): void {
    if (this.cycling.size >= MAX_CYCLES_IN_FLIGHT || this.closed) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.again = false;
    const started = performance.now();
    const number = (this.startedCycles += 1);
    this.cyclingNumbers.add(number);
    const p: Promise<void> = this.cycle()
      .then(
        () => {
          this.lastCycleOkMs = Date.now();
          const ms = performance.now() - started;
          this.stats.cycleMsTotal += ms;
          if (ms > this.stats.cycleMsMax) this.stats.cycleMsMax = ms;
          this.stats.cycles += 1;
          this.failures = 0;
        },
        (e: unknown) => {
          this.stats.failedCycles += 1;
          this.failures += 1;
          this.options.logger.warn({ err: (e as Error).message }, 'read model: tailing cycle failed; retrying');
        },
      )
      .finally(() => {
        this.cycling.delete(p);
        this.cyclingNumbers.delete(number);
        const waiters = this.cycleWaiters;
        this.cycleWaiters = [];
        for (const w of waiters) w();
        if (this.closed) return;
        // After failures, back off (doubling up to 1 s) so a database that is away is not hammered.
        const backoffMs = this.failures === 0 ? 0 : Math.min(1_000, this.options.pollIntervalMs * 2 ** this.failures);
        if (backoffMs > 0) {
          if (this.cycling.size === 0) this.schedule(backoffMs);
        } else if (this.again) this.runCycle();
        else if (this.cycling.size === 0) this.schedule(this.options.pollIntervalMs);
      });
    this.cycling.add(p);
  }

  /**
   * Runs `fn` in one REPEATABLE READ READ ONLY transaction on the writer (the primary: a replica could lag
   * behind tokens), a connection of the store's pool (loads). COMMIT is sent but not waited for (nothing was
   * written; the connection goes back to the pool once it completes, or is discarded if it fails).
   */
  private async withSnapshot<T>(fn: (c: pg.PoolClient, snapshot: PgSnapshot) => Promise<T>): Promise<T> {
    const client = await connect(this.db.writer);
    if (this.closed) {
      client.release();
      throw new Error('read model closed');
    }
    this.active.add(client);
    let committing = false;
    const release = (broken: boolean): void => {
      this.active.delete(client);
      client.release(broken || mustDiscard(client) ? true : undefined);
    };
    try {
      // The transaction's snapshot is taken by its first statement, the SELECT.
      const rs = (await client.query(
        'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT pg_current_snapshot()::text AS s',
      )) as unknown as pg.QueryResult[];
      const snapshot = parsePgSnapshot((rs[1]?.rows[0] as { s: string }).s);
      const out = await fn(client, snapshot);
      committing = true;
      client.query('COMMIT').then(
        () => release(false),
        () => release(true),
      );
      return out;
    } catch (e) {
      if (!committing) release(true);
      throw e;
    }
  }

  /**
   * A tailing cycle's round trip on a tailing connection: BEGIN (REPEATABLE READ READ ONLY), the snapshot, the
   * `statements` (SQL without parameters: literals made with the client's escaping) and COMMIT, sent as one query, so the
   * connection is free again as soon as the results arrive. Answers the snapshot and the statements' results;
   * `ok` sees the connection once they succeeded (before anyone else can take it).
   */
  private async tailQuery(
    statements: (c: pg.PoolClient) => string[],
    ok: (c: pg.PoolClient) => void,
  ): Promise<{ snapshot: PgSnapshot; results: pg.QueryResult[] }> {
    const client = await connect(this.tailPool);
    this.active.add(client);
    let broken = true;
    try {
      if (this.closed) throw new Error('read model closed');
      const extra = statements(client);
      const rs = (await client.query(
        [
          'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
          'SELECT pg_current_snapshot()::text AS s',
          ...extra,
          'COMMIT',
        ].join('; '),
      )) as unknown as pg.QueryResult[];
      broken = false;
      ok(client);
      return {
        snapshot: parsePgSnapshot((rs[1]?.rows[0] as { s: string }).s),
        results: rs.slice(2, 2 + extra.length),
      };
    } finally {
      // A failed statement leaves the transaction open and aborted (the rest, COMMIT included, was skipped).
      this.active.delete(client);
      client.release(broken || mustDiscard(client) ? true : undefined);
    }
  }

  private startLoad(tenantId: string): void {
    const epoch = this.epochs.get(tenantId) ?? 0;
    const started = Date.now();
    const p = this.load(tenantId, epoch)
      .then((t) => {
        if (t === undefined || (this.epochs.get(tenantId) ?? 0) !== epoch || this.closed) return;
        t.loadMs = Date.now() - started;
        this.tenants.set(tenantId, t);
        this.overBudget.delete(tenantId);
      })
      .catch((e: unknown) => {
        this.options.logger.warn({ tenantId, err: (e as Error).message }, 'read model: load failed');
        // Try again on a later read, not at once.
        this.overBudget.set(tenantId, Date.now() + 1_000);
      })
      .finally(() => this.loading.delete(tenantId));
    this.loading.set(tenantId, p);
  }

  private async load(tenantId: string, epoch: number): Promise<ModelTenant | undefined> {
    try {
      return await this.loadAtSnapshot(tenantId, epoch);
    } catch (e) {
      if (e === LOAD_ABANDONED) return undefined;
      throw e;
    }
  }

  private async loadAtSnapshot(tenantId: string, epoch: number): Promise<ModelTenant | undefined> {
    const rowBudget = this.options.maxTuples - this.usedRows(tenantId);
    const byteBudget = this.options.maxBytes - this.usedBytes(tenantId);
    return this.withSnapshot(async (c, snapshot) => {
      const head = await c.query<{ x: string | null; v: string | null; c: string | null }>(
        'SELECT (SELECT max(id)::text FROM transactions WHERE tenant_id = $1) AS x,' +
          ' (SELECT max(version) FROM schema_definitions WHERE tenant_id = $1) AS v,' +
          ' (SELECT created_at::text FROM tenants WHERE id = $1) AS c',
        [tenantId],
      );
      const h = head.rows[0] as { x: string | null; v: string | null; c: string | null };
      const t = new ModelTenant(snapshot, h.x === null ? 0n : BigInt(h.x), h.v ?? undefined);
      t.createdAt = h.c ?? '';
      const d = t.data;
      const s = d.strings;
      // The live tuples as COPY text, parsed by scanning for separators (bulk.ts's export parser): several
      // times cheaper per row than the protocol's row decoding. The server streams while chunks are interned.
      const stream = c.query(
        copyTo(
          'COPY (SELECT id, entity_type, entity_id, relation, subject_type, subject_id, subject_relation' +
            ` FROM relation_tuples WHERE tenant_id = ${c.escapeLiteral(tenantId)}` +
            ` AND expired_tx_id = '${liveSentinel}'::xid8 ORDER BY id) TO STDOUT`,
        ),
      );
      const tuples = d.tuples;
      // Consecutive rows mostly repeat the previous row's types and relations: comparing with the previous
      // field's text is cheaper than hashing it into the interner.
      const prevText = ['', '', '', '', '', ''];
      const prevId = [-1, -1, -1, -1, -1, -1];
      const field = (f: readonly string[], i: number): number => {
        const v = f[i] as string;
        if (v === prevText[i] && (prevId[i] as number) >= 0) return prevId[i] as number;
        const id = internCopy(s, v);
        prevText[i] = v;
        prevId[i] = id;
        return id;
      };
      const add = (id: number, f: readonly string[]): void => {
        if (id > 0x7fffffff) throw new Error('row id beyond int32');
        tuples.insert(field(f, 0), field(f, 1), field(f, 2), field(f, 3), field(f, 4), field(f, 5), id, 1, LIVE);
        t.maxTupleId = id;
      };
      // pg arms a query_timeout timer for every query and clears it in the query's callback, which
      // pg-copy-streams' COPY TO never calls: without this, each load left a timer that kept the process alive
      // for statement_timeout + 1 s after the load (and then fired on the long-finished stream).
      const settle = (): void => (stream as unknown as { callback?: () => void }).callback?.();
      let rest: Buffer | undefined;
      try {
        for await (const data of stream as AsyncIterable<Buffer>) {
          const chunk = rest === undefined ? data : Buffer.concat([rest, data]);
          const end = chunk.lastIndexOf(10);
          if (end < 0) {
            rest = chunk;
            continue;
          }
          scanRows(chunk.toString('utf8', 0, end), 6, add);
          rest = end + 1 < chunk.length ? chunk.subarray(end + 1) : undefined;
          t.rows = tuples.length;
          let refused: string | undefined;
          if (t.rows > rowBudget) refused = `more than ${this.options.maxTuples} rows (database.read_model.max_tuples)`;
          if (refused !== undefined || (this.epochs.get(tenantId) ?? 0) !== epoch || this.closed) {
            // The connection is mid-COPY: it is discarded (withSnapshot releases it as broken on the throw).
            stream.destroy();
            if (refused !== undefined) this.refuse(tenantId, refused);
            throw LOAD_ABANDONED;
          }
        }
      } finally {
        settle();
      }
      if (rest !== undefined && rest.length > 0) throw new Error('COPY output ended inside a row');
      const a = await c.query<unknown[]>({
        text:
          'SELECT id, entity_type, entity_id, attribute, value FROM attributes WHERE tenant_id = $1' +
          ` AND expired_tx_id = '${liveSentinel}'::xid8 ORDER BY id`,
        values: [tenantId],
        rowMode: 'array',
      });
      for (const row of a.rows as unknown[][]) {
        const id = Number(row[0]);
        if (id > 0x7fffffff) throw new Error('row id beyond int32');
        d.attributes.insert(
          s.intern(row[1] as string),
          s.intern(row[2] as string),
          s.intern(row[3] as string),
          decodeAttributeValue(row[4]),
          id,
          1,
          LIVE,
        );
        t.maxAttributeId = id;
      }
      t.rows = d.tuples.length + d.attributes.length;
      if (t.rows > rowBudget) {
        this.refuse(tenantId, `more than ${this.options.maxTuples} rows (database.read_model.max_tuples)`);
        return undefined;
      }
      if (t.bytes > byteBudget) {
        this.refuse(tenantId, `more than ${this.options.maxBytes} bytes (database.read_model.max_bytes)`);
        return undefined;
      }
      return t;
    });
  }

  private async cycle(): Promise<void> {
    const tenants = [...this.tenants.entries()];
    const epochs = new Map(tenants.map(([id]) => [id, this.epochs.get(id) ?? 0]));
    type Head = { tenant_id: string; v: string | null; c: string | null; txs: string[]; ages: (number | null)[] };
    // One round trip on the path of the lag: BEGIN, the snapshot, then the two prepared statements (see
    // CHANGES_SQL) at the tenants' positions. The first cycle on a connection sets it up (TAIL_SESSION_SQL).
    const changesSql = (c: pg.PoolClient): string[] => {
      if (tenants.length === 0) return [];
      const list = (values: string[]): string => `ARRAY[${values.map((v) => c.escapeLiteral(v)).join(',')}]::text[]`;
      const args = `(${list(tenants.map(([id]) => id))}, ${list(tenants.map(([, t]) => `${t.pos.xmin}:${t.pos.xmax}:${t.pos.xip.join(',')}`))})`;
      return [
        ...(preparedOn.has(c) ? [] : TAIL_SESSION_SQL),
        `EXECUTE ${HEADS_STATEMENT}${args}`,
        `EXECUTE ${CHANGES_STATEMENT}${args}`,
      ];
    };
    const sentAt = performance.now();
    const result = await this.tailQuery(changesSql, (c) => {
      if (tenants.length > 0) preparedOn.add(c);
    }).then(({ snapshot, results }) => {
      const heads = results.at(-2);
      const changes = results.at(-1);
      const schemas = (heads?.rows ?? []) as Head[];
      const txs = schemas.flatMap((r) => r.txs.map((id) => ({ tenant_id: r.tenant_id, id })));
      const tuples: unknown[][] = [];
      const attributes: unknown[][] = [];
      for (const r of (changes?.rows ?? []) as Record<string, unknown>[]) {
        // The shapes below: tuples [tenant, id, 6 columns, created, expired], attributes
        // [tenant, id, entity type, entity id, attribute, value, created, expired].
        const common = [r.tenant_id, r.id, r.entity_type, r.entity_id, r.relation];
        if (r.k === 0) {
          tuples.push([...common, r.subject_type, r.subject_id, r.subject_relation, r.created_tx_id, r.expired_tx_id]);
        } else {
          attributes.push([...common, r.value, r.created_tx_id, r.expired_tx_id]);
        }
      }
      return { snapshot, txs, tuples, attributes, schemas };
    });

    // Everything below is synchronous: readers never see a half-applied cycle.
    const schemaHeads = new Map(result.schemas.map((r) => [r.tenant_id, r.v ?? undefined]));
    const createdAts = new Map(result.schemas.map((r) => [r.tenant_id, r.c ?? '']));
    const txsByTenant = new Map<string, bigint[]>();
    for (const r of result.txs) {
      let list = txsByTenant.get(r.tenant_id);
      if (list === undefined) txsByTenant.set(r.tenant_id, (list = []));
      list.push(BigInt(r.id));
    }
    /** Per tenant, each listed transaction's age when read (seconds; see TX_AGE). */
    const agesByTenant = new Map<string, Map<bigint, number>>();
    if (this.applyLagListeners.size > 0) {
      for (const r of result.schemas) {
        const ages = new Map<bigint, number>();
        r.txs.forEach((id, i) => {
          const age = r.ages[i];
          if (typeof age === 'number' && Number.isFinite(age)) ages.set(BigInt(id), age);
        });
        agesByTenant.set(r.tenant_id, ages);
      }
    }
    const tuplesByTenant = new Map<string, FetchedTuple[]>();
    for (const raw of result.tuples as unknown[][]) {
      const tenant = raw[0] as string;
      let list = tuplesByTenant.get(tenant);
      if (list === undefined) tuplesByTenant.set(tenant, (list = []));
      list.push({
        tenant,
        id: Number(raw[1]),
        row: raw.slice(2, 8) as string[],
        created: BigInt(raw[8] as string),
        expired: BigInt(raw[9] as string),
      });
    }
    const attributesByTenant = new Map<string, unknown[][]>();
    for (const raw of result.attributes as unknown[][]) {
      const tenant = raw[0] as string;
      let list = attributesByTenant.get(tenant);
      if (list === undefined) attributesByTenant.set(tenant, (list = []));
      list.push(raw);
    }
    for (const [tenantId, t] of tenants) {
      if (this.tenants.get(tenantId) !== t || (this.epochs.get(tenantId) ?? 0) !== epochs.get(tenantId)) continue;
      // A cycle that ran alongside took a newer snapshot and applied it first: this result is older.
      if (!snapshotWithin(t.pos, result.snapshot)) continue;
      if ((createdAts.get(tenantId) ?? '') !== t.createdAt) {
        // Deleted (and maybe re-created) on some instance: what the model holds is another incarnation's.
        this.drop(tenantId);
        continue;
      }
      const xids = txsByTenant.get(tenantId) ?? [];
      let applied: readonly bigint[];
      try {
        applied = this.apply(
          t,
          result.snapshot,
          xids,
          tuplesByTenant.get(tenantId) ?? [],
          attributesByTenant.get(tenantId) ?? [],
        );
      } catch (e) {
        // The model no longer matches the database (should not happen): forget it, reload on next use.
        this.options.logger.error({ tenantId, err: (e as Error).message }, 'read model: apply failed; reloading');
        this.drop(tenantId);
        continue;
      }
      t.schemaHead = schemaHeads.get(tenantId);
      for (const l of this.advanceListeners) l(tenantId, t);
      if (applied.length > 0 && this.applyLagListeners.size > 0) {
        const ages = agesByTenant.get(tenantId);
        const sinceSent = (performance.now() - sentAt) / 1000;
        for (const x of applied) {
          const age = ages?.get(x);
          if (age === undefined) continue;
          for (const l of this.applyLagListeners) l(tenantId, Math.max(0, age + sinceSent));
        }
      }
      if (this.usedRows() > this.options.maxTuples) {
        this.refuse(tenantId, `more than ${this.options.maxTuples} rows (database.read_model.max_tuples)`);
      } else if (t.expiredRows > Math.max(RELOAD_MIN_EXPIRED_ROWS, t.rows - t.expiredRows)) {
        // History the model keeps for older tokens outgrew the live rows: load the tenant afresh (reads fall
        // through to PostgreSQL meanwhile).
        this.drop(tenantId);
      }
    }
  }

  /** Applies a cycle's result to a tenant; answers the transactions it applied (in id order). */
  private apply(
    t: ModelTenant,
    c: PgSnapshot,
    fetched: bigint[],
    tuples: FetchedTuple[],
    attributes: unknown[][],
  ): readonly bigint[] {
    // The transactions were listed against the position when the cycle started; a cycle running alongside
    // may have applied some since (their rows are then skipped below: no seq of this batch).
    const xids = fetched.filter((x) => !visibleInSnapshot(x, t.pos));
    if (xids.length === 0) {
      t.pos = c;
      return xids;
    }
    xids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const seqOf = new Map<bigint, number>();
    const firstSeq = t.seq + 1;
    for (const x of xids) seqOf.set(x, ++t.seq);
    const d = t.data;
    const s = d.strings;
    const tt = d.tuples;
    const tExpired = (): Float64Array => tt.txCol(T_EXPIRED);
    // Created rows first (ascending id), then expirations of older rows.
    for (const f of tuples) {
      const cs = seqOf.get(f.created);
      if (cs === undefined) continue;
      if (f.id > 0x7fffffff) throw new Error('row id beyond int32');
      const r = f.row;
      const es = f.expired === live ? LIVE : seqOf.get(f.expired);
      if (es === undefined) throw new Error('row expired by a transaction outside the batch');
      tt.insert(
        s.intern(r[0] as string),
        s.intern(r[1] as string),
        s.intern(r[2] as string),
        s.intern(r[3] as string),
        s.intern(r[4] as string),
        s.intern(r[5] as string),
        f.id,
        cs,
        es,
      );
      if (es !== LIVE) t.expiredRows += 1;
      if (f.id < t.maxTupleId) t.disordered = true;
      else t.maxTupleId = f.id;
    }
    const key = new Int32Array(6);
    for (const f of tuples) {
      if (seqOf.has(f.created)) continue;
      const es = seqOf.get(f.expired);
      if (es === undefined) continue;
      const r = f.row;
      for (let i = 0; i < 6; i += 1) key[i] = s.lookup(r[i] as string);
      let row = key.includes(-1) ? -1 : tt.unique.first(key);
      const ids = tt.col(T_ID);
      const next = tt.unique.next;
      while (row >= 0 && ids[row] !== f.id) row = next[row] as number;
      if (row < 0 || tExpired()[row] !== LIVE) throw new Error('expired row not found in the model');
      tExpired()[row] = es;
      t.expiredRows += 1;
    }
    const at = d.attributes;
    for (const raw of attributes) {
      const cs = seqOf.get(BigInt(raw[6] as string));
      if (cs === undefined) continue;
      const id = Number(raw[1]);
      if (id > 0x7fffffff) throw new Error('row id beyond int32');
      const exp = BigInt(raw[7] as string);
      const es = exp === live ? LIVE : seqOf.get(exp);
      if (es === undefined) throw new Error('row expired by a transaction outside the batch');
      at.insert(
        s.intern(raw[2] as string),
        s.intern(raw[3] as string),
        s.intern(raw[4] as string),
        decodeAttributeValue(raw[5]),
        id,
        cs,
        es,
      );
      if (es !== LIVE) t.expiredRows += 1;
      if (id < t.maxAttributeId) t.disordered = true;
      else t.maxAttributeId = id;
    }
    const akey = new Int32Array(3);
    for (const raw of attributes) {
      if (seqOf.has(BigInt(raw[6] as string))) continue;
      const es = seqOf.get(BigInt(raw[7] as string));
      if (es === undefined) continue;
      const id = Number(raw[1]);
      akey[0] = s.lookup(raw[2] as string);
      akey[1] = s.lookup(raw[3] as string);
      akey[2] = s.lookup(raw[4] as string);
      let row = akey.includes(-1) ? -1 : at.unique.first(akey);
      const ids = at.col(A_ID);
      const next = at.unique.next;
      while (row >= 0 && ids[row] !== id) row = next[row] as number;
      if (row < 0 || at.txCol(A_EXPIRED)[row] !== LIVE) throw new Error('expired attribute not found in the model');
      at.txCol(A_EXPIRED)[row] = es;
      t.expiredRows += 1;
    }
    t.rows = tt.length + at.length;
    const newest = xids[xids.length - 1] as bigint;
    if (newest > t.headXid) t.headXid = newest;
    t.pos = c;
    const pos = restrictSnapshot(c, t.headXid);
    t.batches.push({ firstSeq, xids, pos });
    if (t.batches.length > MAX_BATCHES) {
      // Fold the older half into the base: tokens older than the new base fall through to PostgreSQL.
      const folded = t.batches.splice(0, MAX_BATCHES / 2);
      const last = folded[folded.length - 1] as Batch;
      t.base = last.pos;
      t.baseSeq = last.firstSeq + last.xids.length - 1;
      t.baseEmpty = false;
      t.views.clear();
    }
    t.headToken = encodeToken({ xid: t.headXid, snapshot: pos });
    t.views.set(t.headToken, { tx: t.seq, hidden: undefined });
    this.stats.appliedTransactions += xids.length;
    return xids;
  }
}
