import { setMaxListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { parseTuple } from '../../data/notation.js';
import { createMemoryStore, inspectMemoryStore } from './index.js';

describe('memory watch on tenants without state', () => {
  it('leaves nothing behind for tenants that do not exist', async () => {
    const store = createMemoryStore();
    const before = inspectMemoryStore(store);
    const ac = new AbortController();
    setMaxListeners(100, ac.signal);
    const pending = Array.from({ length: 50 }, (_, i) =>
      store.watcher.watch(`ghost-${i}`, '', ac.signal)[Symbol.asyncIterator]().next(),
    );
    await new Promise((resolve) => setImmediate(resolve));
    // While the streams are open: one waiter each, but no tenant state.
    expect(inspectMemoryStore(store)).toEqual({ tenantStates: before?.tenantStates, waitingWatchers: 50 });
    ac.abort();
    for (const p of pending) expect((await p).done).toBe(true);
    expect(inspectMemoryStore(store)).toEqual({ tenantStates: before?.tenantStates, waitingWatchers: 0 });
  });

  it('delivers the first write of a tenant that had no state, and ends when it is deleted', async () => {
    const store = createMemoryStore();
    await store.tenants.createTenant('w1', 'w');
    const ac = new AbortController();
    const first = store.watcher.watch('w1', '', ac.signal)[Symbol.asyncIterator]();
    const next = first.next();
    const token = await store.writer.write('w1', [{ writeTuples: [parseTuple('doc:1#viewer@user:1')] }]);
    expect((await next).value?.snapToken).toBe(token);

    await store.tenants.createTenant('w2', 'w');
    const second = store.watcher.watch('w2', '', ac.signal)[Symbol.asyncIterator]();
    const ended = second.next();
    await store.tenants.deleteTenant('w2');
    expect((await ended).done).toBe(true);

    const third = store.watcher.watch('w3', '', ac.signal)[Symbol.asyncIterator]();
    const closed = third.next();
    await store.close();
    expect((await closed).done).toBe(true);
    expect(inspectMemoryStore(store)?.waitingWatchers).toBe(0);
    await first.return?.(undefined);
    ac.abort();
  });
});
