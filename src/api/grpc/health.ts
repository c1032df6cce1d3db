/**
 * Serving status reported by grpc.health.v1.Health (and by the REST gateway's /healthz).
 */
export type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN' | 'UNKNOWN';

export interface HealthReporter {
  /** Status of `service` ("" = the whole server). */
  status(service: string): ServingStatus;
  /** Calls `listener` whenever a status may have changed; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

/** A settable reporter: one status for every service name (Permify ignores the `service` field). */
export interface SettableHealthReporter extends HealthReporter {
  set(status: ServingStatus): void;
}

export function createHealthReporter(initial: ServingStatus = 'SERVING'): SettableHealthReporter {
  let current = initial;
  const listeners = new Set<() => void>();
  return {
    status: () => current,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    set(status) {
      if (status === current) return;
      current = status;
      for (const l of [...listeners]) l();
    },
  };
}

export interface ReadinessOptions {
  /** The readiness question (the store's `isReady`); it should honour `signal`. */
  readonly probe: (signal: AbortSignal) => Promise<boolean>;
  readonly intervalMs: number;
  /** A probe that has not answered by then counts as failed (and its signal is aborted). */
  readonly timeoutMs: number;
  /** Consecutive failed probes that turn a serving reporter NOT_SERVING. */
  readonly failureThreshold: number;
  /** Consecutive good probes that turn it SERVING again after an outage. */
  readonly successThreshold: number;
  /** Called on every flip (for logging). */
  readonly onChange?: (status: 'SERVING' | 'NOT_SERVING') => void;
}

export interface ReadinessMonitor {
  /** Settles once the first probe has answered (or timed out). */
  readonly firstProbe: Promise<void>;
  /** Stops probing; an in-flight probe is aborted. Leaves the reporter as it is. */
  close(): void;
}

/**
 * Drives `health` from a repeated readiness probe, with hysteresis so that one slow or lost probe does not
 * flap the status: SERVING after the first good probe at start, NOT_SERVING after `failureThreshold`
 * consecutive failures, SERVING again after `successThreshold` consecutive successes. At most one probe runs
 * at a time; one that ignores its abort signal and never settles keeps counting as a failure.
 */
export function monitorReadiness(health: SettableHealthReporter, opts: ReadinessOptions): ReadinessMonitor {
  let failures = 0;
  let successes = 0;
  let everServing = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let inflight: { controller: AbortController; settled: boolean } | undefined;

  const record = (ok: boolean): void => {
    if (ok) {
      failures = 0;
      successes += 1;
    } else {
      successes = 0;
      failures += 1;
    }
    const serving = health.status('') === 'SERVING';
    if (!serving && ok && (!everServing || successes >= opts.successThreshold)) {
      everServing = true;
      health.set('SERVING');
      opts.onChange?.('SERVING');
    } else if (serving && !ok && failures >= opts.failureThreshold) {
      health.set('NOT_SERVING');
      opts.onChange?.('NOT_SERVING');
    }
  };

  const probeOnce = async (): Promise<void> => {
    if (inflight && !inflight.settled) {
      // The previous probe is still hanging past its timeout: another failure, without piling up probes.
      record(false);
      return;
    }
    const controller = new AbortController();
    const current = { controller, settled: false };
    inflight = current;
    let deadline: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      deadline = setTimeout(() => {
        controller.abort(new DOMException('readiness probe timed out', 'TimeoutError'));
        resolve(false);
      }, opts.timeoutMs);
    });
    const answered = Promise.resolve()
      .then(() => opts.probe(controller.signal))
      .then(
        (ready) => ready,
        () => false,
      );
    void answered.finally(() => (current.settled = true));
    try {
      const ok = await Promise.race([answered, timedOut]);
      if (!closed) record(ok);
    } finally {
      clearTimeout(deadline);
    }
  };

  const schedule = (): void => {
    if (closed) return;
    timer = setTimeout(() => void probeOnce().then(schedule), opts.intervalMs);
    timer.unref();
  };
  const firstProbe = probeOnce().then(schedule);

  return {
    firstProbe,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      if (inflight && !inflight.settled) inflight.controller.abort(new DOMException('server closing', 'AbortError'));
    },
  };
}
