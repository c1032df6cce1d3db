/**
 * Snap tokens of the memory store: standard base64 of the 8-byte little-endian transaction id (the same
 * shape as Permify's legacy PostgreSQL tokens, e.g. `AQAAAAAAAAA=` for transaction 1). Tokens are
 * store-wide transaction ids, so one token orders reads across tenants.
 */
import { PermifyError } from '../../errors.js';
import type { SnapToken } from '../contract.js';
import type { MemoryState } from './tables.js';

export function encodeSnapToken(tx: number): SnapToken {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(BigInt(tx));
  return bytes.toString('base64');
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
