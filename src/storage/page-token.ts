/**
 * Continuation tokens of paginated store reads, shared by both stores. A token carries the kind of listing,
 * the position to resume from and a hash of the request it belongs to; reusing it with another request, or
 * sending anything that is not such a token, is rejected with ERROR_CODE_INVALID_CONTINUOUS_TOKEN.
 */
import { PermifyError } from '../errors.js';
import type { AttributeFilter, TupleFilter } from './contract.js';

/** 32-bit FNV-1a of a string, as 8 hex digits. */
export function hashText(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** Canonical text of a tuple filter (empty and missing fields are the same). */
export function tupleFilterKey(f: TupleFilter): string {
  return JSON.stringify([
    f.entity?.type ?? '',
    f.entity?.ids ?? [],
    f.relation ?? '',
    f.subject?.type ?? '',
    f.subject?.ids ?? [],
    f.subject?.relation ?? '',
  ]);
}

/** Canonical text of an attribute filter. */
export function attributeFilterKey(f: AttributeFilter): string {
  return JSON.stringify([f.entity?.type ?? '', f.entity?.ids ?? [], f.attributes ?? []]);
}

function invalid(): never {
  throw new PermifyError('ERROR_CODE_INVALID_CONTINUOUS_TOKEN', 'invalid continuous token');
}

/** Builds a token that resumes listing `kind` at `position` for the request identified by `requestKey`. */
export function encodePageToken(kind: string, position: string, requestKey: string): string {
  return Buffer.from(JSON.stringify({ k: kind, p: position, h: hashText(requestKey) })).toString('base64url');
}

/**
 * The position carried by `token`.
 * @throws PermifyError ERROR_CODE_INVALID_CONTINUOUS_TOKEN for garbage, another kind or another request.
 */
export function decodePageToken(token: string, kind: string, requestKey: string): string {
  if (typeof token !== 'string' || !/^[A-Za-z0-9_-]+$/.test(token)) invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    invalid();
  }
  if (typeof parsed !== 'object' || parsed === null) invalid();
  const { k, p, h } = parsed as { k?: unknown; p?: unknown; h?: unknown };
  if (k !== kind || typeof p !== 'string' || h !== hashText(requestKey)) invalid();
  return p;
}

/** Validates a page request's size (≥ 1, integer). */
export function checkPageSize(size: number): void {
  if (!Number.isInteger(size) || size < 1) {
    throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', `invalid page size ${String(size)}: must be an integer >= 1`);
  }
}
