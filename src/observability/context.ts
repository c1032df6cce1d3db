/**
 * The OpenTelemetry context manager of the process: AsyncLocalStorage, like the SDK's own, plus
 * {@link enterCall}, which makes a context current for the rest of the calling async function. The call
 * pipeline needs that: its interceptors run before the handler without wrapping it, so the tracing
 * interceptor cannot use `context.with(ctx, handler)`; entering the RPC span's context from its `before`
 * hook makes it the parent of every span the handler starts (engine, schema, storage) and gives log lines
 * their trace id.
 *
 * Cost: while an AsyncLocalStorage is enabled, every promise of the process pays for context propagation
 * (measured on Node 20: about 0.2 µs per await, several % of a cached Check). So the storage is only enabled
 * while at least one SAMPLED call is in flight ({@link enterCall} / {@link leaveCall}); at a 1 % sample rate
 * the other calls run without it. An unsampled call that starts while it is enabled enters the empty
 * context ({@link enterUnsampledCall}), so that it never inherits a sampled call's span from the transport
 * code that started both in one tick. Server spans are started with an explicit parent, never the current
 * context, for the same reason.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { context, createContextKey, ROOT_CONTEXT, trace, type Context, type ContextManager, type Span } from '@opentelemetry/api';

class EnterableContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    try {
      return this.#storage.run(ctx, () => fn.apply(thisArg, args));
    } finally {
      // Outside sampled calls (e.g. an exporter's own `with`), propagation is not left on.
      if (sampledInFlight === 0) this.#storage.disable();
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
    return this;
  }

  enter(ctx: Context): void {
    this.#storage.enterWith(ctx);
  }

  /** Turns propagation off (every context is left); the next enter or `with` turns it on again. */
  off(): void {
    this.#storage.disable();
  }
}

let manager: EnterableContextManager | undefined;
/** Sampled calls in flight: the storage is enabled while this is above 0. */
let sampledInFlight = 0;

/**
 * Installs the context manager once per process (several servers in one process share it; it only carries
 * contexts and exports nothing).
 */
export function installContextManager(): void {
  if (manager !== undefined) return;
  const m = new EnterableContextManager();
  if (context.setGlobalContextManager(m)) manager = m;
}

/**
 * Makes `ctx` (a sampled call's) current for the rest of the calling async function and what it awaits;
 * every call must be paired with one {@link leaveCall}. No-op before install.
 */
export function enterCall(ctx: Context): void {
  if (manager === undefined) return;
  sampledInFlight++;
  manager.enter(ctx);
}

/** The sampled call that {@link enterCall} entered has ended. */
export function leaveCall(): void {
  if (manager === undefined || sampledInFlight === 0) return;
  sampledInFlight--;
  if (sampledInFlight === 0) manager.off();
}

/** An unsampled call starts: it runs in the empty context if another call made propagation active. */
export function enterUnsampledCall(): void {
  if (manager !== undefined && sampledInFlight > 0) manager.enter(ROOT_CONTEXT);
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
