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
