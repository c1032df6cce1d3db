import { describe, expect, it } from 'vitest';
import { createHealthReporter, monitorReadiness } from './health.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `predicate` holds (polling), failing after `ms`. */
async function until(predicate: () => boolean, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await sleep(5);
  }
}

describe('monitorReadiness', () => {
  it('flips after N consecutive failures and back after M consecutive successes, never on a single blip', async () => {
    // The probe answers from a script; after the script it repeats the last answer.
    const script = [true, false, true, false, false, false, false, true, false, true, true, true];
    let probes = 0;
    const health = createHealthReporter('NOT_SERVING');
    const flips: { status: string; atProbe: number }[] = [];
    const monitor = monitorReadiness(health, {
      probe: async () => script[Math.min(probes++, script.length - 1)] as boolean,
      intervalMs: 1,
      timeoutMs: 1_000,
      failureThreshold: 3,
      successThreshold: 2,
      onChange: (status) => flips.push({ status, atProbe: probes }),
    });
    try {
      await monitor.firstProbe;
      // The first good probe at start serves at once (no hysteresis before the store was ever ready).
      expect(health.status('')).toBe('SERVING');
      await until(() => probes >= script.length + 1);
      expect(flips).toEqual([
        { status: 'SERVING', atProbe: 1 },
        // probe 2 fails alone (blip), probes 4-6 are the third consecutive failure -> NOT_SERVING at probe 6
        { status: 'NOT_SERVING', atProbe: 6 },
        // probe 8 succeeds alone, probes 10-11 are two in a row -> SERVING at probe 11
        { status: 'SERVING', atProbe: 11 },
      ]);
    } finally {
      monitor.close();
    }
  });

  it('a probe that never answers counts as failed after its timeout and is aborted; probes do not pile up', async () => {
    let calls = 0;
    let aborted = 0;
    let hang = false;
    const health = createHealthReporter('NOT_SERVING');
    const monitor = monitorReadiness(health, {
      probe: (signal) => {
        calls += 1;
        if (!hang) return Promise.resolve(true);
        signal.addEventListener('abort', () => (aborted += 1));
        return new Promise<boolean>(() => undefined); // ignores its signal: never settles
      },
      intervalMs: 10,
      timeoutMs: 20,
      failureThreshold: 2,
      successThreshold: 1,
    });
    try {
      await monitor.firstProbe;
      expect(health.status('')).toBe('SERVING');
      hang = true;
      const started = Date.now();
      await until(() => health.status('') === 'NOT_SERVING');
      // Two failures: one timed-out probe (aborted), then the next round finds it still hanging.
      expect(Date.now() - started).toBeLessThan(500);
      expect(aborted).toBeGreaterThanOrEqual(1);
      const before = calls;
      await sleep(100);
      // The hanging probe is never replaced by a second concurrent one.
      expect(calls).toBe(before);
    } finally {
      monitor.close();
    }
  });

  it('close() stops probing', async () => {
    let calls = 0;
    const monitor = monitorReadiness(createHealthReporter('NOT_SERVING'), {
      probe: async () => {
        calls += 1;
        return true;
      },
      intervalMs: 5,
      timeoutMs: 100,
      failureThreshold: 1,
      successThreshold: 1,
    });
    await monitor.firstProbe;
    monitor.close();
    const after = calls;
    await sleep(50);
    expect(calls).toBe(after);
  });
});
