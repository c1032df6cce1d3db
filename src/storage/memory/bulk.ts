/**
 * Bulk import and export of the memory store. An import batch is one ordinary write transaction (the write
 * path is already set-based in memory); an export page walks the tables in row order from the cursor's row
 * id (rows are kept in ascending id order, also after compaction), so a page costs O(log n + page).
 */
import { throwIfAborted } from '../../errors.js';
import type { Attribute, Tuple } from '../../data/types.js';
import { checkExportPageSize, decodeExportCursor, encodeExportCursor, lastAttributeWins } from '../bulk-common.js';
import type { BulkStore, DataWriter } from '../contract.js';
import { attributeAt, tupleAt } from './data-reader.js';
import { decodeSnapToken } from './snap-token.js';
import { A_CREATED, A_EXPIRED, A_ID, T_CREATED, T_EXPIRED, T_ID, type MemoryState } from './tables.js';

/** First row whose id is greater than `afterId` (ids ascend with the row number). */
function firstRowAfter(ids: Int32Array, length: number, afterId: number): number {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ids[mid] as number) <= afterId) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function createMemoryBulkStore(state: MemoryState, writer: DataWriter): BulkStore {
  return {
    async importBatch(tenantId, batch, signal) {
      throwIfAborted(signal);
      return writer.write(
        tenantId,
        [{ writeTuples: batch.tuples, writeAttributes: lastAttributeWins(batch.attributes) }],
        signal,
      );
    },

    async exportPage(tenantId, snapToken, cursor, size, signal) {
      throwIfAborted(signal);
      checkExportPageSize(size);
      let position = decodeExportCursor(cursor);
      const tx = decodeSnapToken(state, snapToken);
      const data = state.tenantData.get(tenantId);
      if (data === undefined) return { tuples: [], attributes: [], cursor: '' };
      const tuples: Tuple[] = [];
      const attributes: Attribute[] = [];
      if (position.table === 'tuples') {
        const t = data.tuples;
        const ids = t.col(T_ID);
        const created = t.txCol(T_CREATED);
        const expired = t.txCol(T_EXPIRED);
        let row = firstRowAfter(ids, t.length, position.afterId);
        for (; row < t.length && tuples.length < size; row += 1) {
          if ((created[row] as number) <= tx && (expired[row] as number) > tx) tuples.push(tupleAt(data, row));
        }
        if (tuples.length === size) {
          const more = row < t.length || data.attributes.length > 0;
          const last = ids[row - 1] as number;
          return { tuples, attributes, cursor: more ? encodeExportCursor({ table: 'tuples', afterId: last }) : '' };
        }
        position = { table: 'attributes', afterId: 0 };
      }
      const a = data.attributes;
      const ids = a.col(A_ID);
      const created = a.txCol(A_CREATED);
      const expired = a.txCol(A_EXPIRED);
      let row = firstRowAfter(ids, a.length, position.afterId);
      const room = size - tuples.length;
      for (; row < a.length && attributes.length < room; row += 1) {
        if ((created[row] as number) <= tx && (expired[row] as number) > tx) attributes.push(attributeAt(data, row));
      }
      const done = row >= a.length;
      const last = row > 0 ? (ids[row - 1] as number) : 0;
      return {
        tuples,
        attributes,
        cursor: done ? '' : encodeExportCursor({ table: 'attributes', afterId: Math.max(last, position.afterId) }),
      };
    },
  };
}
