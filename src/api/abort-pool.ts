/**
 * A small free list of AbortControllers for the transports' per-call signals.
 *
 * Creating an AbortController and its signal costs a few microseconds (the signal is a full EventTarget),
 * which is a noticeable share of a cached Check. Almost every call finishes without being aborted and
 * leaves its signal exactly as it was created, so the transports hand such a controller back here and the
 * next call reuses it. A controller is only taken back when it is still un-aborted and nothing listens on
 * its signal any more; anything else (an aborted call, a listener somebody forgot to remove) is dropped and
 * left to the garbage collector, so a reused signal is indistinguishable from a fresh one.
 *
 * Callers must release a controller only once the call can no longer touch it (response written, cancel and
 * deadline hooks removed).
 */
import { getEventListeners } from 'node:events';

const MAX_POOLED = 1024;
const free: AbortController[] = [];

/** An un-aborted controller with no listeners on its signal. */
export function acquireController(): AbortController {
  return free.pop() ?? new AbortController();
}

/** Returns a controller after its call is over; aborted or still-observed controllers are not reused. */
export function releaseController(controller: AbortController): void {
  const { signal } = controller;
  if (signal.aborted || free.length >= MAX_POOLED) return;
  if (signal.onabort !== null || getEventListeners(signal, 'abort').length > 0) return;
  free.push(controller);
}

/** For tests: how many controllers are waiting for reuse. */
export function pooledControllers(): number {
  return free.length;
}
