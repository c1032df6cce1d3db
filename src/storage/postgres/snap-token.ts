/**
 * PostgreSQL snap tokens (api-and-operations.md §5.2). A token names a transaction X and the snapshot S
 * under which reads are evaluated. Two encodings, both standard base64 with padding:
 * - current: ASCII `"<xid>:<xmin>:<xmax>:<xip1>,<xip2>,..."`;
 * - legacy: the 8-byte little-endian transaction id (what Watch emits; S is then looked up).
 * Undecodable tokens are ERROR_CODE_INTERNAL, as in Permify.
 */
import { PermifyError } from '../../errors.js';

export interface PgSnapshot {
  readonly xmin: bigint;
  readonly xmax: bigint;
  /** In-progress transaction ids, ascending, unique. */
  readonly xip: readonly bigint[];
}

export interface DecodedToken {
  readonly xid: bigint;
  /** Absent for legacy tokens. */
  readonly snapshot?: PgSnapshot;
}

/** Parses PostgreSQL's text form of pg_snapshot: `xmin:xmax:xip,...`. */
export function parsePgSnapshot(text: string): PgSnapshot {
  const m = /^(\d+):(\d+):([\d,]*)$/.exec(text);
  if (!m) throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', 'invalid snap token');
  const xip = (m[3] as string).length === 0 ? [] : (m[3] as string).split(',').map((s) => BigInt(s));
  return { xmin: BigInt(m[1] as string), xmax: BigInt(m[2] as string), xip: normaliseXip(xip) };
}

function normaliseXip(xip: readonly bigint[]): bigint[] {
  return [...new Set(xip)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export function formatPgSnapshot(s: PgSnapshot): string {
  return `${s.xmin}:${s.xmax}:${s.xip.join(',')}`;
}

/**
 * The token of a write transaction X whose own snapshot is S. The token must name exactly one snapshot:
 * what S saw plus X itself, nothing else. X is taken after S, so X >= S.xmax, and every id in
 * [S.xmax, X) belongs to a transaction S did not see (possibly still running when X commits).
 * - X = S.xmax (the common case): Permify's post-processing is exact here, so its form is kept: X joins
 *   the in-progress list and xmax rises to X+1 (api-and-operations.md §5.2 example).
 * - X > S.xmax: raising xmax would make [S.xmax, X) visible (a concurrent transaction's rows would appear
 *   at this token once it commits), and listing that range could be arbitrarily long (ids are
 *   cluster-wide). S is kept as it is instead: X stays invisible through xmax and is read through the
 *   `created_tx_id = X` / `expired_tx_id <> X` terms of the visibility predicate (§11.4), which Permify
 *   applies too. The token stays as compact as S.
 * xmin falls to X if needed, as in Permify (it cannot be needed for a real S).
 */
export function writeToken(xid: bigint, snapshot: PgSnapshot): string {
  const xmin = snapshot.xmin > xid ? xid : snapshot.xmin;
  if (xid > snapshot.xmax) return encodeToken({ xid, snapshot: { xmin, xmax: snapshot.xmax, xip: snapshot.xip } });
  const s: PgSnapshot = {
    xmin,
    xmax: snapshot.xmax <= xid ? xid + 1n : snapshot.xmax,
    xip: normaliseXip([...snapshot.xip, xid]),
  };
  return encodeToken({ xid, snapshot: s });
}

/** Whether rows written by transaction `t` are visible at a token (X, S): t = X or t visible in S. */
export function visibleAtToken(t: bigint, token: DecodedToken): boolean {
  if (t === token.xid) return true;
  return token.snapshot !== undefined && visibleInSnapshot(t, token.snapshot);
}

/**
 * Orders tokens of one tenant by the transaction they name. Distinct writes get distinct transaction ids,
 * and a transaction that saw another one's effects has the larger id, so later writes compare greater.
 */
export function compareTokens(a: string, b: string): number {
  const x = decodeToken(a).xid;
  const y = decodeToken(b).xid;
  return x < y ? -1 : x > y ? 1 : 0;
}

export function encodeToken(t: DecodedToken): string {
  if (t.snapshot === undefined) return legacyToken(t.xid);
  return Buffer.from(`${t.xid}:${formatPgSnapshot(t.snapshot)}`, 'ascii').toString('base64');
}

/** Legacy 8-byte little-endian encoding of a transaction id. */
export function legacyToken(xid: bigint): string {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(xid);
  return b.toString('base64');
}

const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function decodeToken(token: string): DecodedToken {
  if (token.length === 0 || !base64.test(token))
    throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', 'invalid snap token');
  const raw = Buffer.from(token, 'base64');
  if (raw.length === 8) return { xid: raw.readBigUInt64LE(0) };
  const text = raw.toString('ascii');
  const colon = text.indexOf(':');
  if (colon <= 0 || !/^\d+$/.test(text.slice(0, colon))) {
    throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', 'invalid snap token');
  }
  const xid = BigInt(text.slice(0, colon));
  const snapshot = parsePgSnapshot(text.slice(colon + 1));
  if (snapshot.xmin > snapshot.xmax) throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', 'invalid snap token');
  return { xid, snapshot };
}

/** pg_visible_in_snapshot in TypeScript (used by tests and Watch bookkeeping). */
export function visibleInSnapshot(xid: bigint, s: PgSnapshot): boolean {
  if (xid < s.xmin) return true;
  if (xid >= s.xmax) return false;
  return !s.xip.includes(xid);
}
