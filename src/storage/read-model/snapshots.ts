/**
 * Snapshot arithmetic of the read model. A PostgreSQL snap token is a transaction X plus a snapshot S
 * (src/storage/postgres/snap-token.ts); the model's position is a snapshot P: every transaction of the
 * tenant visible in P has been applied, and no other.
 */
import { visibleInSnapshot, type DecodedToken, type PgSnapshot } from '../postgres/snap-token.js';

/**
 * Whether every transaction visible in `a` is visible in `b` (for all ids, not only one tenant's). An id
 * visible in `a` is below `a.xmax`; with `a.xmax <= b.xmax` it is visible in `b` unless `b` lists it as in
 * progress.
 */
export function snapshotWithin(a: PgSnapshot, b: PgSnapshot): boolean {
  if (a.xmax > b.xmax) return false;
  for (const x of b.xip) if (visibleInSnapshot(x, a)) return false;
  return true;
}

/** Whether every transaction visible at token `t` (its snapshot plus its own X) is visible in `p`. */
export function tokenWithin(t: DecodedToken, p: PgSnapshot): boolean {
  if (t.snapshot === undefined) return false;
  return snapshotWithin(t.snapshot, p) && visibleInSnapshot(t.xid, p);
}

/**
 * Whether every transaction visible in `a` is visible at token `t`. Used with `a` restricted to a tenant
 * (see {@link restrictSnapshot}); a token whose X lies above its snapshot is handled conservatively (false
 * unless its snapshot alone covers `a`).
 */
export function snapshotWithinToken(a: PgSnapshot, t: DecodedToken): boolean {
  return t.snapshot !== undefined && snapshotWithin(a, t.snapshot);
}

/**
 * `s` restricted to ids up to `x`, the newest transaction of a tenant visible in `s`: it decides the
 * visibility of that tenant's transactions exactly as `s` does (no tenant transaction above `x` is visible
 * in `s`), and it stays the same while the tenant is quiet. The direct reader's head token has this form.
 */
export function restrictSnapshot(s: PgSnapshot, x: bigint): PgSnapshot {
  const xmax = x + 1n;
  const xmin = s.xmin < xmax ? s.xmin : xmax;
  return { xmin, xmax, xip: s.xip.filter((t) => t >= xmin && t <= x) };
}
