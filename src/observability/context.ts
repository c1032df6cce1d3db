/**
 * The OpenTelemetry context manager of the process: AsyncLocalStorage, like the SDK's own, plus
 * {@link enterContext}, which makes a context current for the rest of the calling async function. The call
 * pipeline needs that: its interceptors run before the handler without wrapping it, so the tracing
 * interceptor cannot use `context.with(ctx, handler)`; entering the RPC span's context from its `before`
 * hook makes it the parent of every span the handler starts (engine, schema, storage) and gives log lines
 * their trace id. Callers that enter a context must not rely on the previously current one afterwards
 * (server spans are started with an explicit parent, never the current context, for that reason).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { context, createContextKey, ROOT_CONTEXT, trace, type Context, type ContextManager, type Span } from '@opentelemetry/api';

class EnterableContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.#storage.run(ctx, () => fn.apply(thisArg, args));
  }

  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const fn = target as unknown as (...a: unknown[]) => unknown;
    const storage = this.#storage;
    return function (this: unknown, ...a: unknown[]) {
      return storage.run(ctx, () => fn.apply(this, a));
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
}

let manager: EnterableContextManager | undefined;

/**
 * Installs the context manager once per process (several servers in one process share it; it only carries
 * contexts and exports nothing).
 */
export function installContextManager(): void {
  if (manager !== undefined) return;
  const m = new EnterableContextManager();
  if (context.setGlobalContextManager(m)) manager = m;
}

/** Makes `ctx` current for the rest of the calling async function and what it awaits; no-op before install. */
export function enterContext(ctx: Context): void {
  manager?.enter(ctx);
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
