/**
 * Watch on the memory store: replays the tenant's transaction log after the given token, then waits for
 * new commits. One {@link DataChanges} per write transaction, in commit order; within it the tuple changes
 * and then the attribute changes, each in storage order (rows a transaction expired come before rows it
 * created; expired rows are sorted by storage order). A row created and expired by the same transaction is not reported. The stream ends when the
 * signal aborts, when the tenant is deleted or when the store closes. Resuming from a token older than the
 * history kept by garbage collection fails with ERROR_CODE_INTERNAL instead of silently skipping changes.
 */
import { PermifyError } from '../../errors.js';
import type { DataChange, DataChanges, SnapToken, Watcher } from '../contract.js';
import { attributeAt, tupleAt } from './data-reader.js';
import { decodeSnapToken, encodeSnapToken } from './snap-token.js';
import { A_CREATED, A_EXPIRED, type MemoryState, T_CREATED, T_EXPIRED, type TenantData, tenantData } from './tables.js';

/** The changes of the log record at index `i`. */
export function changesOf(data: TenantData, i: number): DataChanges {
  const log = data.txLog;
  const tx = log.tx[i] as number;
  const changes: DataChange[] = [];
  const tCreated = data.tuples.col(T_CREATED);
  const tExpired = data.tuples.col(T_EXPIRED);
  for (const row of log.tupleExpired.data.slice(log.tupleExpStart[i], log.tupleExpEnd[i]).sort()) {
    if (tCreated[row] !== tx) changes.push({ operation: 'delete', tuple: tupleAt(data, row) });
  }
  for (let row = log.tupleStart[i] as number; row < (log.tupleEnd[i] as number); row += 1) {
    if (tExpired[row] !== tx) changes.push({ operation: 'create', tuple: tupleAt(data, row) });
  }
  const aCreated = data.attributes.col(A_CREATED);
  const aExpired = data.attributes.col(A_EXPIRED);
  for (const row of log.attrExpired.data.slice(log.attrExpStart[i], log.attrExpEnd[i]).sort()) {
    if (aCreated[row] !== tx) changes.push({ operation: 'delete', attribute: attributeAt(data, row) });
  }
  for (let row = log.attrStart[i] as number; row < (log.attrEnd[i] as number); row += 1) {
    if (aExpired[row] !== tx) changes.push({ operation: 'create', attribute: attributeAt(data, row) });
  }
  return { snapToken: encodeSnapToken(tx), changes };
}

export function createMemoryWatcher(state: MemoryState): Watcher {
  return {
    watch(tenantId: string, snapToken: SnapToken, signal: AbortSignal): AsyncIterable<DataChanges> {
      // Validate eagerly so that a bad token fails at the first next() with a clear error.
      return (async function* stream(): AsyncGenerator<DataChanges> {
        let cursor = snapToken === '' ? state.head : decodeSnapToken(state, snapToken);
        const data = tenantData(state, tenantId);
        for (;;) {
          if (signal.aborted || data.dropped || state.closed) return;
          const log = data.txLog;
          if (cursor < log.forgottenUpTo) {
            throw new PermifyError(
              'ERROR_CODE_INTERNAL',
              'cannot watch from this snap token: its history has been garbage-collected',
            );
          }
          const i = log.firstAfter(cursor);
          if (i < log.length) {
            const changes = changesOf(data, i);
            cursor = log.tx[i] as number;
            yield changes;
            continue;
          }
          await new Promise<void>((resolve) => {
            const wake = (): void => {
              signal.removeEventListener('abort', wake);
              data.waiters.delete(wake);
              resolve();
            };
            data.waiters.add(wake);
            signal.addEventListener('abort', wake, { once: true });
          });
        }
      })();
    },
  };
}
