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
import { A_CREATED, A_EXPIRED, type MemoryState, T_CREATED, T_EXPIRED, type TenantData } from './tables.js';

/** The changes of the log record at index `i`. */
export function changesOf(data: TenantData, i: number): DataChanges {
  const log = data.txLog;
  const tx = log.tx[i] as number;
  const changes: DataChange[] = [];
  const tCreated = data.tuples.txCol(T_CREATED);
  const tExpired = data.tuples.txCol(T_EXPIRED);
  for (const row of log.tupleExpired.data.slice(log.tupleExpStart[i], log.tupleExpEnd[i]).sort()) {
    if (tCreated[row] !== tx) changes.push({ operation: 'delete', tuple: tupleAt(data, row) });
  }
  for (let row = log.tupleStart[i] as number; row < (log.tupleEnd[i] as number); row += 1) {
    if (tExpired[row] !== tx) changes.push({ operation: 'create', tuple: tupleAt(data, row) });
  }
  const aCreated = data.attributes.txCol(A_CREATED);
  const aExpired = data.attributes.txCol(A_EXPIRED);
  for (const row of log.attrExpired.data.slice(log.attrExpStart[i], log.attrExpEnd[i]).sort()) {
    if (aCreated[row] !== tx) changes.push({ operation: 'delete', attribute: attributeAt(data, row) });
  }
  for (let row = log.attrStart[i] as number; row < (log.attrEnd[i] as number); row += 1) {
    if (aExpired[row] !== tx) changes.push({ operation: 'create', attribute: attributeAt(data, row) });
  }
  return { snapToken: encodeSnapToken(tx), changes };
}

/**
 * Waits until `tenantId` has state (resolves `false`), is deleted or the store closes (`true`), or the
 * signal aborts (`true`). Registers only a waiter, which is removed whichever way the wait ends.
 */
function waitForTenantData(state: MemoryState, tenantId: string, signal: AbortSignal): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    let waiters = state.dataWaiters.get(tenantId);
    if (waiters === undefined) {
      waiters = new Set();
      state.dataWaiters.set(tenantId, waiters);
    }
    const set = waiters;
    const done = (dropped: boolean): void => {
      signal.removeEventListener('abort', onAbort);
      set.delete(done);
      if (set.size === 0 && state.dataWaiters.get(tenantId) === set) state.dataWaiters.delete(tenantId);
      resolve(dropped);
    };
    const onAbort = (): void => done(true);
    set.add(done);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function createMemoryWatcher(state: MemoryState): Watcher {
  return {
    watch(tenantId: string, snapToken: SnapToken, signal: AbortSignal): AsyncIterable<DataChanges> {
      // Validate eagerly so that a bad token fails at the first next() with a clear error.
      return (async function* stream(): AsyncGenerator<DataChanges> {
        let cursor = snapToken === '' ? state.head : decodeSnapToken(state, snapToken);
        // A tenant that has stored nothing (or does not exist) has no state: wait for it without creating
        // any, so that streams on unknown tenants leave nothing behind.
        let data = state.tenantData.get(tenantId);
        while (data === undefined) {
          if (signal.aborted || state.closed) return;
          if (await waitForTenantData(state, tenantId, signal)) return;
          data = state.tenantData.get(tenantId);
        }
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
          const waiting = data;
          await new Promise<void>((resolve) => {
            const wake = (): void => {
              signal.removeEventListener('abort', wake);
              waiting.waiters.delete(wake);
              resolve();
            };
            waiting.waiters.add(wake);
            signal.addEventListener('abort', wake, { once: true });
          });
        }
      })();
    },
  };
}
