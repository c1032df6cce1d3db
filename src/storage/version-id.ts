/**
 * Schema version ids: 20 characters of base32hex (`[0-9a-v]`), the same shape as the xid library Permify
 * uses. Layout of the 12 encoded bytes: 4-byte big-endian Unix seconds, 3-byte machine id (a hash of the
 * host name), 2-byte process id, 3-byte counter. Ids therefore sort by creation second first and, within
 * one process and second, by creation order (strictly increasing within a process); they are unique across
 * processes with overwhelming probability.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

import { PermifyError } from '../errors.js';

const alphabet = '0123456789abcdefghijklmnopqrstuv';
const processBytes = new Uint8Array(5);
processBytes.set(createHash('sha256').update(hostname()).digest().subarray(0, 3), 0);
processBytes[3] = (process.pid >>> 8) & 0xff;
processBytes[4] = process.pid & 0xff;
let counter = randomBytes(3).readUIntBE(0, 3);
let lastSeconds = 0;

/** Encodes 12 bytes as 20 base32hex characters (big-endian, 96 bits + 4 zero padding bits). */
function encode(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const b of bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += alphabet[(buffer << (5 - bits)) & 31];
  return out;
}

/** A new version id, greater than every id produced earlier by this process. */
export function newVersionId(now: Date = new Date()): string {
  let seconds = Math.floor(now.getTime() / 1000);
  if (seconds < lastSeconds) seconds = lastSeconds;
  if (seconds !== lastSeconds) {
    lastSeconds = seconds;
    counter = 0;
  } else {
    counter += 1;
    if (counter > 0xffffff) {
      // More than 16M ids in one second: borrow the next second so that order is kept.
      lastSeconds += 1;
      seconds = lastSeconds;
      counter = 0;
    }
  }
  const bytes = new Uint8Array(12);
  new DataView(bytes.buffer).setUint32(0, seconds >>> 0);
  bytes.set(processBytes, 4);
  bytes[9] = (counter >>> 16) & 0xff;
  bytes[10] = (counter >>> 8) & 0xff;
  bytes[11] = counter & 0xff;
  return encode(bytes);
}

/** True for a syntactically valid version id. */
export function isVersionId(s: string): boolean {
  return /^[0-9a-v]{20}$/.test(s);
}

/** The creation time (second precision) encoded in a version id, or undefined when malformed. */
export function versionIdTime(id: string): Date | undefined {
  if (!isVersionId(id)) return undefined;
  let seconds = 0;
  // The first 32 bits are the first 6.4 characters: decode 7 characters (35 bits) and drop 3.
  for (let i = 0; i < 7; i += 1) seconds = seconds * 32 + alphabet.indexOf(id[i] as string);
  return new Date(Math.floor(seconds / 8) * 1000);
}

/**
 * The creation time (second precision) of a version id.
 * @throws PermifyError ERROR_CODE_INTERNAL when `id` is not a version id.
 */
export function versionTimestamp(id: string): Date {
  const t = versionIdTime(id);
  if (t === undefined) throw new PermifyError('ERROR_CODE_INTERNAL', `invalid schema version id ${JSON.stringify(id)}`);
  return t;
}
