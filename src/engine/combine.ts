/**
 * Concurrent combination of boolean sub-problems with short-circuit, cancellation and a concurrency bound.
 *
 * The outcome never depends on scheduling (spec §5.2.2, deterministic recommendation): a combination resolves
 * to its deciding value as soon as one child produces it, otherwise it rejects with the error of the
 * lowest-index child that failed, otherwise it resolves to the non-deciding value.
 */

/**
 * A cancellation scope. A combination that has decided marks its scope cancelled; every evaluation started
 * in that scope (or a descendant scope) stops before its next read. Cheaper than an AbortController per
 * combination: cancellation is observed by walking up the (short) parent chain.
 */
export class Scope {
  cancelled = false;
  constructor(readonly parent: Scope | undefined) {}

  /** True when this scope or any ancestor has been cancelled. */
  get dead(): boolean {
    if (this.cancelled) return true;
    for (let s = this.parent; s !== undefined; s = s.parent) if (s.cancelled) return true;
    return false;
  }
}

/** Thrown (and swallowed by the deciding combination) by work whose scope was cancelled. */
export class ScopeCancelled extends Error {
  constructor() {
    super('scope cancelled');
    this.name = 'ScopeCancelled';
  }
}
/** One shared instance: cancellation is frequent and the stack trace is never shown. */
export const scopeCancelled = new ScopeCancelled();

/**
 * Runs `run(0..count-1)` with at most `limit` in flight. Resolves `decisive` as soon as one child resolves to
 * it (cancelling the others), else rejects with the lowest-index child error, else resolves `!decisive`.
 * No children ⇒ false (both union and intersection of nothing are DENIED, spec §5.2.2). `positions[i]`, when
 * given, is the rank of child i for choosing the reported error (default: i).
 */
export function combine(
  count: number,
  decisive: boolean,
  parent: Scope,
  limit: number,
  run: (index: number, scope: Scope) => Promise<boolean>,
  positions?: readonly number[],
): Promise<boolean> {
  if (count === 0) return Promise.resolve(false);
  if (count === 1) return run(0, parent);
  return new Promise<boolean>((resolve, reject) => {
    new Combination(count, decisive, parent, limit, run, resolve, reject, positions).launch();
  });
}

/** State of one running combination (a class rather than closures: this is the engine's hottest path). */
class Combination {
  private next = 0;
  private active = 0;
  private done = false;
  private errorIndex = -1;
  private error: unknown;
  private readonly scope: Scope;

  constructor(
    private readonly count: number,
    private readonly decisive: boolean,
    parent: Scope,
    private readonly limit: number,
    private readonly run: (index: number, scope: Scope) => Promise<boolean>,
    private readonly resolve: (v: boolean) => void,
    private readonly reject: (e: unknown) => void,
    private readonly positions: readonly number[] | undefined,
  ) {
    this.scope = new Scope(parent);
  }

  launch(): void {
    while (!this.done && this.active < this.limit && this.next < this.count) {
      const i = this.next++;
      this.active++;
      let p: Promise<boolean>;
      try {
        p = this.run(i, this.scope);
      } catch (e) {
        p = Promise.reject(e);
      }
      p.then(
        (v) => this.onValue(v),
        (e: unknown) => this.onError(i, e),
      );
    }
  }

  private onValue(v: boolean): void {
    this.active--;
    if (this.done) return;
    if (v === this.decisive) {
      this.done = true;
      this.scope.cancelled = true;
      this.resolve(v);
      return;
    }
    this.settleOne();
  }

  private onError(index: number, e: unknown): void {
    this.active--;
    if (this.done) return;
    const rank = this.positions === undefined ? index : (this.positions[index] as number);
    if (this.errorIndex < 0 || rank < this.errorIndex) {
      this.errorIndex = rank;
      this.error = e;
    }
    this.settleOne();
  }

  private settleOne(): void {
    if (this.next >= this.count && this.active === 0) {
      this.done = true;
      if (this.errorIndex >= 0) this.reject(this.error);
      else this.resolve(!this.decisive);
    } else this.launch();
  }
}

/**
 * Exclusion `left not right` (spec §5.2.2): both sides start concurrently; the left result is awaited first.
 * Left DENIED ⇒ DENIED (right ignored even if it fails); left error ⇒ error; then right ALLOWED ⇒ DENIED,
 * right error ⇒ error, right DENIED ⇒ ALLOWED.
 */
export async function exclude(
  parent: Scope,
  left: (scope: Scope) => Promise<boolean>,
  right: (scope: Scope) => Promise<boolean>,
): Promise<boolean> {
  const scope = new Scope(parent);
  const l = left(scope);
  let r: Promise<boolean>;
  try {
    r = right(scope);
  } catch (e) {
    r = Promise.reject(e);
  }
  r.catch(noop);
  let lv: boolean;
  try {
    lv = await l;
  } catch (e) {
    scope.cancelled = true;
    throw e;
  }
  if (!lv) {
    scope.cancelled = true;
    return false;
  }
  return !(await r);
}

function noop(): void {}

/**
 * Maps `items` through `fn` with at most `limit` in flight, preserving order. Rejects with the lowest-index
 * failure once everything has settled (so no rejection is left unobserved).
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let errorIndex = -1;
  let error: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i] as T, i);
      } catch (e) {
        if (errorIndex < 0 || i < errorIndex) {
          errorIndex = i;
          error = e;
        }
      }
    }
  };
  const workers: Promise<void>[] = [];
  for (let w = 0; w < Math.min(limit, items.length); w++) workers.push(worker());
  await Promise.all(workers);
  if (errorIndex >= 0) throw error;
  return out;
}
