/**
 * How a sampled call's trace reaches the layers below its handler without making the whole process pay.
 *
 * The layers the handler calls (engine, schema resolver, storage) are decorated in server.ts and know
 * nothing of calls, but each of their methods is given the call's AbortSignal: the transports create one
 * signal per call and it travels unchanged from the handler down to the store. So a sampled call's trace
 * context is registered under its signal ({@link openCallScope}, by the tracing interceptor) and the
 * decorators look it up from the signal they are passed ({@link scopeOf}, {@link scopeOfArgs}). While no
 * sampled call is in flight that lookup is one comparison; nothing is enabled process-wide, so at a 1 %
 * sample rate the other 99 % of calls (and every call running next to a sampled one) pay nothing.
 *
 * The process's OpenTelemetry context manager ({@link installContextManager}) serves the places that have no
 * signal to go by: the SDK's exporters (`context.with` around an export, synchronous) and the `pg` driver's
 * statements of a sampled storage call ({@link runInContext}, asynchronous). Only the latter uses
 * AsyncLocalStorage, and only while such a call runs: while it is enabled every promise of the process pays
 * for context propagation, the unsampled calls running next to the sampled one included. With the read model
 * in front of PostgreSQL, reads are answered from memory and do not use it either. Overhead figures:
 * docs/observability.md.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { context, createContextKey, ROOT_CONTEXT, trace, type Context, type ContextManager, type Span } from '@opentelemetry/api';

/** Scopes of {@link runInContext} in flight: AsyncLocalStorage is enabled while this is above 0. */
let scopesInFlight = 0;

/**
 * Synchronous `with` (a stack, like OpenTelemetry's StackContextManager for browsers): the context is active
 * for the synchronous run of the function, which is all the exporters need. AsyncLocalStorage only inside
 * {@link runInContext} scopes, where a `with` nested in one also propagates through what it awaits.
 */
class ScopedContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();
  #current: Context = ROOT_CONTEXT;

  active(): Context {
    return scopesInFlight > 0 ? (this.#storage.getStore() ?? this.#current) : this.#current;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    if (scopesInFlight > 0) return this.#storage.run(ctx, () => fn.apply(thisArg, args));
    const prev = this.#current;
    this.#current = ctx;
    try {
      return fn.apply(thisArg, args);
    } finally {
      this.#current = prev;
    }
  }

  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const fn = target as unknown as (this: unknown, ...a: unknown[]) => unknown;
    const run = this.with.bind(this);
    return function (this: unknown, ...a: unknown[]) {
      return run(ctx, () => fn.apply(this, a));
    } as unknown as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.#storage.disable();
    this.#current = ROOT_CONTEXT;
    return this;
  }

  /** Runs `fn` with `ctx` propagated through what it awaits (AsyncLocalStorage). */
  run<R>(ctx: Context, fn: () => R): R {
    return this.#storage.run(ctx, fn);
  }

  /** Turns propagation off (every asynchronous context is left); the next {@link run} turns it on again. */
  off(): void {
    this.#storage.disable();
  }
}

let manager: ScopedContextManager | undefined;

/**
 * Installs the context manager once per process (several servers in one process share it; it only carries
 * contexts and exports nothing).
 */
export function installContextManager(): void {
  if (manager !== undefined) return;
  const m = new ScopedContextManager();
  if (context.setGlobalContextManager(m)) manager = m;
}

/**
 * Runs `fn` with `ctx` as the active context for everything it awaits (a sampled storage call, so that the
 * `pg` statements it issues find their parent span). Propagation is switched off again once no such scope
 * is in flight.
 */
export function runInContext<R>(ctx: Context, fn: () => R): R {
  if (manager === undefined) return fn();
  const m = manager;
  scopesInFlight++;
  const done = (): void => {
    scopesInFlight--;
    if (scopesInFlight === 0) m.off();
  };
  let r: R;
  try {
    r = m.run(ctx, fn);
  } catch (e) {
    done();
    throw e;
  }
  if (r !== null && typeof r === 'object' && typeof (r as { then?: unknown }).then === 'function') {
    (r as unknown as Promise<unknown>).then(done, done);
  } else {
    done();
  }
  return r;
}

/** Per sampled call in flight, by the call's signal: its server span's context and the one in use now. */
interface Scope {
  readonly root: Context;
  current: Context;
}
const scopes = new WeakMap<AbortSignal, Scope>();
/** Sampled calls in flight: while 0, a lookup is one comparison. */
let openScopes = 0;

/**
 * A sampled call starts: `ctx` (its server span's) is found from `signal` until {@link closeCallScope}.
 * Transports may reuse a signal for a later call once this one is over, so the pair must be closed by the
 * end of the call.
 */
export function openCallScope(signal: AbortSignal, ctx: Context): void {
  if (!scopes.has(signal)) openScopes++;
  scopes.set(signal, { root: ctx, current: ctx });
}

/** The sampled call of `signal` has ended. */
export function closeCallScope(signal: AbortSignal): void {
  if (scopes.delete(signal)) openScopes--;
}

/**
 * While an operation of the call runs (an engine operation), `ctx` (its span's) is the parent of what the
 * call's layers start; {@link widenCallScope} ends that. Operations of one call run one at a time; should two
 * overlap, the later one's span is the parent until either ends, then the server span again (never a span
 * that has ended, whose children would be dropped).
 */
export function narrowCallScope(signal: AbortSignal, ctx: Context): void {
  const scope = scopes.get(signal);
  if (scope !== undefined) scope.current = ctx;
}

/** The operation that {@link narrowCallScope} started has ended: the server span is the parent again. */
export function widenCallScope(signal: AbortSignal): void {
  const scope = scopes.get(signal);
  if (scope !== undefined) scope.current = scope.root;
}

/** The trace context of the sampled call `signal` belongs to, or undefined (no sampled call, no signal). */
export function scopeOf(signal: AbortSignal | undefined): Context | undefined {
  return openScopes === 0 || signal === undefined ? undefined : scopes.get(signal)?.current;
}

/**
 * {@link scopeOf} for a storage-contract call, whose signal is one of its arguments or the `signal` of an
 * options argument.
 */
export function scopeOfArgs(args: readonly unknown[]): Context | undefined {
  if (openScopes === 0) return undefined;
  for (let i = args.length - 1; i >= 0; i--) {
    const a = args[i];
    if (a instanceof AbortSignal) return scopes.get(a)?.current;
    if (a !== null && typeof a === 'object') {
      const s = (a as { signal?: unknown }).signal;
      if (s instanceof AbortSignal) return scopes.get(s)?.current;
    }
  }
  return undefined;
}

const RPC_SPAN = createContextKey('permify.rpc-span');

/** `ctx` with `span` as the current span and as the call's server span (see {@link rpcSpan}). */
export function withRpcSpan(ctx: Context, span: Span): Context {
  return trace.setSpan(ctx, span).setValue(RPC_SPAN, span);
}

/** The server span of the call `ctx` belongs to: deeper layers add what they resolved (versions, counts). */
export function rpcSpan(ctx: Context): Span | undefined {
  const s = ctx.getValue(RPC_SPAN) as Span | undefined;
  return s !== undefined && s.isRecording() ? s : undefined;
}
