/**
 * Snap tokens of the memory store: standard base64 of the 8-byte little-endian transaction id (the same
 * shape as Permify's legacy PostgreSQL tokens, e.g. `AQAAAAAAAAA=` for transaction 1). Tokens are
 * store-wide transaction ids, so one token orders reads across tenants.
 */
import { PermifyError } from '../../errors.js';
import type { SnapToken } from '../contract.js';
import type { MemoryState } from './tables.js';

/**
 * Tokens already encoded, by transaction id. Every read resolves its tenant's head token first, and heads move
 * only on writes, so the same few ids are encoded over and over: each is encoded (Buffer, base64) once and
 * then held as a string. Bounded: cleared when full (entries are cheap to rebuild).
 */
const encodedTokens = new Map<number, SnapToken>();
const MAX_ENCODED_TOKENS = 4096;
const scratch = Buffer.alloc(8);

export function encodeSnapToken(tx: number): SnapToken {
  const cached = encodedTokens.get(tx);
  if (cached !== undefined) return cached;
  // Little-endian 64-bit from a safe integer without BigInt: low 32 bits, then the high ones.
  scratch.writeUInt32LE(tx % 2 ** 32, 0);
  scratch.writeUInt32LE(Math.floor(tx / 2 ** 32), 4);
  const token = scratch.toString('base64');
  if (encodedTokens.size >= MAX_ENCODED_TOKENS) encodedTokens.clear();
  encodedTokens.set(tx, token);
  return token;
}

/**
 * The transaction id of a token. Garbage, an empty token, or a token newer than the store's head (not
 * produced by this store) is rejected with ERROR_CODE_INTERNAL, as Permify answers undecodable tokens.
 */
export function decodeSnapToken(state: MemoryState, token: SnapToken): number {
  // A token that decoded once stays valid (the head only grows): reads repeat the same few tokens.
  const cached = state.decodedTokens.get(token);
  if (cached !== undefined) return cached;
  const tx = decodeUncached(state, token);
  if (state.decodedTokens.size >= 4096) state.decodedTokens.clear();
  state.decodedTokens.set(token, tx);
  return tx;
}

function decodeUncached(state: MemoryState, token: SnapToken): number {
  if (typeof token !== 'string' || token === '') {
    throw new PermifyError('ERROR_CODE_INTERNAL', 'invalid snap token: empty (resolve the head token first)');
  }
  const bytes = Buffer.from(token, 'base64');
  if (bytes.length !== 8 || bytes.toString('base64') !== token) {
    throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', 'invalid snap token: cannot decode');
  }
  const tx = bytes.readBigUInt64LE();
  if (tx > BigInt(state.head)) {
    throw new PermifyError(
      'ERROR_CODE_INVALID_ARGUMENT',
      'invalid snap token: it names a transaction newer than the head',
    );
  }
  return Number(tx);
}
