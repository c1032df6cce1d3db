import { describe, expect, it } from 'vitest';
import { combine, exclude, mapBounded, Scope } from './combine.js';

const later = <T>(v: T, ms = 1): Promise<T> => new Promise((r) => setTimeout(() => r(v), ms));
const fail = (msg: string, ms = 1): Promise<never> => new Promise((_, j) => setTimeout(() => j(new Error(msg)), ms));

describe('combine', () => {
  it('union: allowed wins over an earlier error; error beats denied; empty is denied', async () => {
    const root = new Scope(undefined);
    await expect(combine(2, true, root, 10, (i) => (i === 0 ? fail('x', 1) : later(true, 5)))).resolves.toBe(true);
    await expect(combine(2, true, root, 10, (i) => (i === 0 ? later(false, 5) : fail('x', 1)))).rejects.toThrow('x');
    await expect(combine(3, true, root, 10, () => later(false))).resolves.toBe(false);
    await expect(combine(0, true, root, 10, () => later(true))).resolves.toBe(false);
    await expect(combine(0, false, root, 10, () => later(true))).resolves.toBe(false);
  });
  it('intersection mirrors union', async () => {
    const root = new Scope(undefined);
    await expect(combine(2, false, root, 10, (i) => (i === 0 ? fail('x', 1) : later(false, 5)))).resolves.toBe(false);
    await expect(combine(2, false, root, 10, (i) => (i === 0 ? later(true, 5) : fail('x', 1)))).rejects.toThrow('x');
    await expect(combine(2, false, root, 10, () => later(true))).resolves.toBe(true);
  });
  it('reports the lowest-index error regardless of finishing order', async () => {
    const root = new Scope(undefined);
    await expect(combine(3, true, root, 10, (i) => fail(`e${i}`, 10 - i * 3))).rejects.toThrow('e0');
  });
  it('cancels the losers and respects the concurrency bound', async () => {
    const root = new Scope(undefined);
    let inFlight = 0;
    let peak = 0;
    const scopes: Scope[] = [];
    const r = await combine(20, true, root, 3, async (i, s) => {
      scopes.push(s);
      inFlight++;
      peak = Math.max(peak, inFlight);
      await later(null, 2);
      inFlight--;
      return i === 4;
    });
    expect(r).toBe(true);
    expect(peak).toBeLessThanOrEqual(3);
    expect(scopes.length).toBeLessThan(20);
    expect(scopes[0]?.dead).toBe(true);
    expect(root.dead).toBe(false);
  });
});

describe('exclude', () => {
  const root = new Scope(undefined);
  it('left denied ⇒ denied even if right errors', async () => {
    await expect(
      exclude(
        root,
        () => later(false, 5),
        () => fail('r', 1),
      ),
    ).resolves.toBe(false);
  });
  it('left error ⇒ error; right error ⇒ error', async () => {
    await expect(
      exclude(
        root,
        () => fail('l'),
        () => later(true),
      ),
    ).rejects.toThrow('l');
    await expect(
      exclude(
        root,
        () => later(true),
        () => fail('r'),
      ),
    ).rejects.toThrow('r');
  });
  it('truth table', async () => {
    await expect(
      exclude(
        root,
        () => later(true),
        () => later(false),
      ),
    ).resolves.toBe(true);
    await expect(
      exclude(
        root,
        () => later(true),
        () => later(true),
      ),
    ).resolves.toBe(false);
  });
});

describe('mapBounded', () => {
  it('keeps order and reports the lowest-index failure after all settle', async () => {
    await expect(mapBounded([3, 1, 2], 2, (x) => later(x * 2, x))).resolves.toEqual([6, 2, 4]);
    let settled = 0;
    await expect(
      mapBounded([1, 2, 3], 3, async (x) => {
        await later(null, 4 - x);
        settled++;
        if (x > 1) throw new Error(`f${x}`);
        return x;
      }),
    ).rejects.toThrow('f2');
    expect(settled).toBe(3);
  });
});
