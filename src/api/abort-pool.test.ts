import { describe, expect, it } from 'vitest';
import { acquireController, pooledControllers, releaseController } from './abort-pool.js';

describe('abort controller pool', () => {
  it('reuses a clean controller', () => {
    const a = acquireController();
    releaseController(a);
    expect(acquireController()).toBe(a);
  });

  it('never hands out an aborted controller', () => {
    const a = acquireController();
    a.abort(new Error('x'));
    const before = pooledControllers();
    releaseController(a);
    expect(pooledControllers()).toBe(before);
    const b = acquireController();
    expect(b).not.toBe(a);
    expect(b.signal.aborted).toBe(false);
  });

  it('drops a controller whose signal still has listeners', () => {
    const a = acquireController();
    const listener = (): void => {};
    a.signal.addEventListener('abort', listener);
    const before = pooledControllers();
    releaseController(a);
    expect(pooledControllers()).toBe(before);
    a.signal.removeEventListener('abort', listener);
    a.signal.onabort = () => {};
    releaseController(a);
    expect(pooledControllers()).toBe(before);
  });

  it('a reused signal still aborts for its new owner', () => {
    const a = acquireController();
    releaseController(a);
    const b = acquireController();
    let fired = 0;
    b.signal.addEventListener('abort', () => fired++, { once: true });
    b.abort(new DOMException('gone', 'AbortError'));
    expect(fired).toBe(1);
    expect(b.signal.aborted).toBe(true);
  });
});
