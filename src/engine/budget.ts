/**
 * The work budget of one request (STYLE habit 20): every fan-out of the request (Check combinations, BulkCheck
 * items, LookupEntity candidates, LookupSubject walks, Expand children) draws from it, so nesting cannot
 * multiply it.
 *
 * - Concurrency: storage reads of the request in flight at once are bounded by `concurrency`. Reads are the
 *   leaves of every evaluation (they never wait for other reads), so one semaphore over them bounds the
 *   request however deeply its combinations nest, and cannot deadlock.
 * - Time: once the process has run for a time slice without giving the event loop a turn, every request
 *   parks its reads on one shared `setImmediate` (all branches of all requests wait for the same turn, so the
 *   microtask queue really drains; a slice per request would let concurrent requests starve the loop in turn)
 *   and long synchronous loops call {@link WorkBudget.pause}. Other requests, health probes and I/O keep
 *   being served while a large request runs; a memory store answers reads without I/O, so without this a
 *   large request would hold the event loop until it finished.
 * - Candidates: {@link WorkBudget.charge} counts ids a lookup considers against `maxCandidates`; exceeding
 *   it is ERROR_CODE_VALIDATION naming the limit.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Attribute, Entity, Tuple } from '../data/types.js';
import { PermifyError } from '../errors.js';
import type { AttributeFilter, DataReader, QueryOptions, SnapToken, TupleFilter } from '../storage/contract.js';

export interface WorkBudgetOptions {
  /** Storage reads in flight per request (`service.permission.concurrency_limit`). */
  readonly concurrency: number;
  /** Ids one request may consider (`service.permission.max_lookup_candidates`). */
  readonly maxCandidates: number;
  /** Longest stretch, in ms, a request runs before it lets the event loop take a turn. */
  readonly timeSliceMs: number;
}

export interface WorkBudget {
  /** Runs a storage read within the request's concurrency bound (and time slice). */
  read<T>(run: () => Promise<T>): Promise<T>;
  /**
   * Resolves after an event-loop turn when the time slice is used up, else returns undefined (no await
   * needed: `await budget.pause()` costs nothing when no pause is due).
   */
  pause(): Promise<void> | undefined;
  /** Counts `n` more candidate ids; throws when the request exceeds `maxCandidates`. */
  charge(n: number): void;
  readonly options: WorkBudgetOptions;
}

/** Default time slice: well under a frame of a health probe's patience, long enough to amortise the turn. */
export const defaultTimeSliceMs = 10;

export function candidateLimitError(limit: number): PermifyError {
  return new PermifyError(
    'ERROR_CODE_VALIDATION',
    `lookup candidate limit exceeded: service.permission.max_lookup_candidates=${limit}`,
    { details: { limit: 'maxLookupCandidates' } },
  );
}

/**
 * Process-wide slice state. `sliceStart`: when the current run of the event loop began (as far as budgets can
 * tell); `markerPending`: an immediate scheduled by the first check of a run, which clears it once the loop
 * has had a turn, so the next check knows a new run began; `turn`: the pending shared turn, if any.
 */
let sliceStart = 0;
let markerPending = false;
let turn: Promise<void> | undefined;

function clearMarker(): void {
  markerPending = false;
}

function pauseFor(timeSliceMs: number): Promise<void> | undefined {
  if (turn !== undefined) return turn;
  const now = performance.now();
  if (!markerPending) {
    // The loop had a turn since the last check (or this is the first): a new run starts now.
    markerPending = true;
    sliceStart = now;
    setImmediate(clearMarker);
    return undefined;
  }
  if (now - sliceStart < timeSliceMs) return undefined;
  turn = nextTurn().then(() => {
    turn = undefined;
  });
  return turn;
}

export function createWorkBudget(options: WorkBudgetOptions): WorkBudget {
  return new RequestBudget(options);
}

/**
 * One request's budget. A class, not a closure set: one is created per request, and a read that finds a free
 * permit and no pause due (the usual case) allocates nothing here but the `then` that hands the permit back.
 */
class RequestBudget implements WorkBudget {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private candidates = 0;

  constructor(readonly options: WorkBudgetOptions) {}

  /** Settles a read: hands its permit on and passes the value through (shared by every read of the request). */
  readonly releaseValue = <T>(v: T): T => {
    this.release();
    return v;
  };

  readonly releaseError = (e: unknown): never => {
    this.release();
    throw e;
  };

  pause(): Promise<void> | undefined {
    return pauseFor(this.options.timeSliceMs);
  }

  charge(n: number): void {
    this.candidates += n;
    if (this.candidates > this.options.maxCandidates) throw candidateLimitError(this.options.maxCandidates);
  }

  /** Takes a permit when one is free and no pause is due; false = go through {@link read}'s slow path. */
  tryAcquire(): boolean {
    if (this.active >= this.options.concurrency || pauseFor(this.options.timeSliceMs) !== undefined) return false;
    this.active++;
    return true;
  }

  release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next();
    else this.active--;
  }

  /** A permit, or a promise of one (passed on directly by the releasing read: `active` stays the same). */
  private acquire(): Promise<void> | undefined {
    if (this.active < this.options.concurrency) {
      this.active++;
      return undefined;
    }
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  read<T>(run: () => Promise<T>): Promise<T> {
    const pending = this.acquire();
    const due = this.pause();
    if (pending === undefined && due === undefined) {
      let p: Promise<T>;
      try {
        p = run();
      } catch (e) {
        this.release();
        return Promise.reject(e);
      }
      return this.started(p);
    }
    return this.slowRead(pending, due, run);
  }

  /** Attaches the release of the permit (already held) to a read that has started. */
  started<T>(p: Promise<T>): Promise<T> {
    return p.then(this.releaseValue, this.releaseError);
  }

  private async slowRead<T>(
    pending: Promise<void> | undefined,
    due: Promise<void> | undefined,
    run: () => Promise<T>,
  ): Promise<T> {
    if (due !== undefined) await due;
    if (pending !== undefined) await pending;
    // A turn that began while this read waited for its permit is taken too (permit held: reads stay bounded).
    const again = this.pause();
    if (again !== undefined) await again;
    try {
      return await run();
    } finally {
      this.release();
    }
  }
}

/**
 * `reader` with every read drawn from `budget` (one per request). Queries of tuples, the reads of every Check
 * step, take the permit inline (no closure per read); the other reads go through {@link WorkBudget.read}.
 */
export function budgetedReader(reader: DataReader, budget: WorkBudget): DataReader {
  return budget instanceof RequestBudget ? new BudgetedReader(reader, budget) : closureReader(reader, budget);
}

class BudgetedReader implements DataReader {
  constructor(
    private readonly reader: DataReader,
    private readonly budget: RequestBudget,
  ) {}

  headSnapToken(tenantId: string, signal?: AbortSignal): Promise<SnapToken> {
    return this.reader.headSnapToken(tenantId, signal);
  }

  queryRelationships(
    tenantId: string,
    filter: TupleFilter,
    snapToken: SnapToken,
    options?: QueryOptions,
  ): Promise<readonly Tuple[]> {
    const budget = this.budget;
    if (!budget.tryAcquire()) return budget.read(() => this.reader.queryRelationships(tenantId, filter, snapToken, options));
    let p: Promise<readonly Tuple[]>;
    try {
      p = this.reader.queryRelationships(tenantId, filter, snapToken, options);
    } catch (e) {
      budget.release();
      return Promise.reject(e);
    }
    return budget.started(p);
  }

  readRelationships(...args: Parameters<DataReader['readRelationships']>): ReturnType<DataReader['readRelationships']> {
    return this.budget.read(() => this.reader.readRelationships(...args));
  }

  querySingleAttribute(
    tenantId: string,
    entity: Entity,
    attribute: string,
    snapToken: SnapToken,
    signal?: AbortSignal,
  ): Promise<Attribute | undefined> {
    return this.budget.read(() => this.reader.querySingleAttribute(tenantId, entity, attribute, snapToken, signal));
  }

  queryAttributes(
    tenantId: string,
    filter: AttributeFilter,
    snapToken: SnapToken,
    options?: QueryOptions,
  ): Promise<readonly Attribute[]> {
    return this.budget.read(() => this.reader.queryAttributes(tenantId, filter, snapToken, options));
  }

  readAttributes(...args: Parameters<DataReader['readAttributes']>): ReturnType<DataReader['readAttributes']> {
    return this.budget.read(() => this.reader.readAttributes(...args));
  }

  queryUniqueSubjectIds(
    ...args: Parameters<DataReader['queryUniqueSubjectIds']>
  ): ReturnType<DataReader['queryUniqueSubjectIds']> {
    return this.budget.read(() => this.reader.queryUniqueSubjectIds(...args));
  }
}

/** The same wrapper over any other {@link WorkBudget} implementation (every read through `read`). */
function closureReader(reader: DataReader, budget: WorkBudget): DataReader {
  return {
    headSnapToken: (tenantId: string, signal?: AbortSignal): Promise<SnapToken> =>
      reader.headSnapToken(tenantId, signal),
    queryRelationships: (
      tenantId: string,
      filter: TupleFilter,
      snapToken: SnapToken,
      options?: QueryOptions,
    ): Promise<readonly Tuple[]> => budget.read(() => reader.queryRelationships(tenantId, filter, snapToken, options)),
    readRelationships: (tenantId, filter, snapToken, page, signal) =>
      budget.read(() => reader.readRelationships(tenantId, filter, snapToken, page, signal)),
    querySingleAttribute: (
      tenantId: string,
      entity: Entity,
      attribute: string,
      snapToken: SnapToken,
      signal?: AbortSignal,
    ): Promise<Attribute | undefined> =>
      budget.read(() => reader.querySingleAttribute(tenantId, entity, attribute, snapToken, signal)),
    queryAttributes: (
      tenantId: string,
      filter: AttributeFilter,
      snapToken: SnapToken,
      options?: QueryOptions,
    ): Promise<readonly Attribute[]> => budget.read(() => reader.queryAttributes(tenantId, filter, snapToken, options)),
    readAttributes: (tenantId, filter, snapToken, page, signal) =>
      budget.read(() => reader.readAttributes(tenantId, filter, snapToken, page, signal)),
    queryUniqueSubjectIds: (tenantId, subjectType, subjectRelation, snapToken, signal) =>
      budget.read(() => reader.queryUniqueSubjectIds(tenantId, subjectType, subjectRelation, snapToken, signal)),
  };
}
