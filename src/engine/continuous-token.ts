/**
 * Continuation tokens of LookupEntity(Stream) and LookupSubject. Opaque to clients: base64url of a small JSON
 * document carrying the next candidate position (inclusive cursor), the snapshot and schema version the first
 * page was computed at (so every page reads the same state), and a hash of the request. A token that does not
 * decode, or that was issued for a different request, is ERROR_CODE_INVALID_CONTINUOUS_TOKEN.
 */
import { createHash } from 'node:crypto';
import { PermifyError } from '../errors.js';

export interface ContinuationState {
  /** The first candidate id not yet examined. */
  readonly next: string;
  readonly snapToken: string;
  readonly schemaVersion: string;
  /** Hash of the request fields that define the result list. */
  readonly requestHash: string;
}

export function hashRequest(parts: readonly string[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(String(p.length));
    h.update(':');
    h.update(p);
  }
  return h.digest('base64url').slice(0, 22);
}

export function encodeToken(s: ContinuationState): string {
  return Buffer.from(
    JSON.stringify({ v: 1, n: s.next, s: s.snapToken, sv: s.schemaVersion, h: s.requestHash }),
    'utf8',
  ).toString('base64url');
}

function invalid(): PermifyError {
  return new PermifyError('ERROR_CODE_INVALID_CONTINUOUS_TOKEN', 'ERROR_CODE_INVALID_CONTINUOUS_TOKEN');
}

/** Decodes a token and verifies it belongs to the request with hash `requestHash`. */
export function decodeToken(token: string, requestHash: string): ContinuationState {
  if (token.length > 8192 || !/^[A-Za-z0-9_-]+$/.test(token)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof parsed !== 'object' || parsed === null) throw invalid();
  const o = parsed as Record<string, unknown>;
  if (
    o['v'] !== 1 ||
    typeof o['n'] !== 'string' ||
    typeof o['s'] !== 'string' ||
    typeof o['sv'] !== 'string' ||
    typeof o['h'] !== 'string'
  ) {
    throw invalid();
  }
  if (o['h'] !== requestHash) throw invalid();
  return { next: o['n'], snapToken: o['s'], schemaVersion: o['sv'], requestHash: o['h'] };
}

/** Where a paged request reads: the cursor (undefined on a first page) and the version and snapshot to use. */
export interface ResumePoint {
  readonly cursor: string | undefined;
  readonly schemaVersion: string | undefined;
  readonly snapToken: string | undefined;
}

/**
 * The one place a lookup's continuation token is read: without a token the request's own schema version and
 * snap token apply; with one, its cursor, version and snapshot do (every page reads what the first page read).
 * A token of another request (hash mismatch) or one that does not decode is INVALID_CONTINUOUS_TOKEN.
 */
export function resumeFrom(
  token: string | undefined,
  requestHash: string,
  schemaVersion: string | undefined,
  snapToken: string | undefined,
): ResumePoint {
  if (token === undefined || token === '') return { cursor: undefined, schemaVersion, snapToken };
  const t = decodeToken(token, requestHash);
  return { cursor: t.next, schemaVersion: t.schemaVersion, snapToken: t.snapToken };
}

/** The token of the page starting at `next` ("" when there is no next page: the last page was served). */
export function continueAt(
  next: string | undefined,
  at: { readonly snapToken: string; readonly schemaVersion: string },
  requestHash: string,
): string {
  if (next === undefined) return '';
  return encodeToken({ next, snapToken: at.snapToken, schemaVersion: at.schemaVersion, requestHash });
}
