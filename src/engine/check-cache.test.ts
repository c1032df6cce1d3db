import { describe, expect, it } from 'vitest';
import { createCheckCache, maxCheckCacheContextChars } from './check-cache.js';

const entity = { type: 'doc', id: '1' };
const subject = { type: 'user', id: 'u', relation: '' };

describe('check cache', () => {
  it('a request whose context is too long is answered but not cached (no view, nothing pinned)', () => {
    const cache = createCheckCache(1000, 10 * 1024 * 1024);
    const small = cache.view('t1', 'v1', 'tok', '');
    expect(small).toBeDefined();
    if (small === undefined) return;
    cache.set(small, entity, 'view', subject, undefined, 5, 'allowed');
    expect(cache.get(small, entity, 'view', subject, undefined, 5)).toBe('allowed');

    const bigContext = 'doc:1#owner@user:x,'.repeat(500);
    expect(bigContext.length).toBeGreaterThan(maxCheckCacheContextChars);
    expect(cache.view('t1', 'v1', 'tok', bigContext)).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  it('every field of the key tells entries apart (equal fields in fresh strings still hit)', () => {
    const cache = createCheckCache(1000, 10 * 1024 * 1024);
    const v = cache.view('t1', 'v1', 'tok', '') ?? expect.fail('no view');
    cache.set(v, entity, 'view', subject, ['a'], 5, 'allowed');
    const same = cache.view(['t', '1'].join(''), 'v1', 'tok', '') ?? expect.fail('no view');
    expect(cache.get(same, { type: 'doc', id: String(1) }, 'view', { ...subject }, ['a'], 5)).toBe('allowed');
    const views = [
      cache.view('t2', 'v1', 'tok', ''),
      cache.view('t1', 'v2', 'tok', ''),
      cache.view('t1', 'v1', 'tok2', ''),
      cache.view('t1', 'v1', 'tok', 'ctx'),
    ];
    for (const other of views) expect(cache.get(other ?? expect.fail('no view'), entity, 'view', subject, ['a'], 5)).toBeUndefined();
    expect(cache.get(v, { type: 'doc', id: '2' }, 'view', subject, ['a'], 5)).toBeUndefined();
    expect(cache.get(v, { type: 'folder', id: '1' }, 'view', subject, ['a'], 5)).toBeUndefined();
    expect(cache.get(v, entity, 'edit', subject, ['a'], 5)).toBeUndefined();
    expect(cache.get(v, entity, 'view', { ...subject, id: 'w' }, ['a'], 5)).toBeUndefined();
    expect(cache.get(v, entity, 'view', { ...subject, type: 'team' }, ['a'], 5)).toBeUndefined();
    expect(cache.get(v, entity, 'view', { ...subject, relation: 'member' }, ['a'], 5)).toBeUndefined();
    expect(cache.get(v, entity, 'view', subject, ['b'], 5)).toBeUndefined();
    expect(cache.get(v, entity, 'view', subject, undefined, 5)).toBeUndefined();
  });

  it('serves an entry only to requests with at least its depth, and keeps the shallowest', () => {
    const cache = createCheckCache(1000, 10 * 1024 * 1024);
    const v = cache.view('t1', 'v1', 'tok', '') ?? expect.fail('no view');
    cache.set(v, entity, 'view', subject, undefined, 8, 'denied');
    expect(cache.get(v, entity, 'view', subject, undefined, 7)).toBeUndefined();
    expect(cache.get(v, entity, 'view', subject, undefined, 8)).toBe('denied');
    cache.set(v, entity, 'view', subject, undefined, 3, 'denied');
    expect(cache.get(v, entity, 'view', subject, undefined, 3)).toBe('denied');
    expect(cache.size).toBe(1);
  });

  it('evicts the least recently used entry at the entry bound; purges one tenant', () => {
    const cache = createCheckCache(3, 10 * 1024 * 1024);
    const a = cache.view('a', 'v', 's', '') ?? expect.fail('no view');
    const b = cache.view('b', 'v', 's', '') ?? expect.fail('no view');
    const e = (id: string) => ({ type: 'doc', id });
    cache.set(a, e('1'), 'view', subject, undefined, 5, 'allowed');
    cache.set(a, e('2'), 'view', subject, undefined, 5, 'allowed');
    cache.set(b, e('3'), 'view', subject, undefined, 5, 'allowed');
    expect(cache.get(a, e('1'), 'view', subject, undefined, 5)).toBe('allowed');
    cache.set(b, e('4'), 'view', subject, undefined, 5, 'allowed');
    expect(cache.size).toBe(3);
    expect(cache.get(a, e('2'), 'view', subject, undefined, 5)).toBeUndefined();
    expect(cache.get(a, e('1'), 'view', subject, undefined, 5)).toBe('allowed');
    cache.purgeTenant('b');
    expect(cache.size).toBe(1);
    expect(cache.get(b, e('3'), 'view', subject, undefined, 5)).toBeUndefined();
    expect(cache.get(a, e('1'), 'view', subject, undefined, 5)).toBe('allowed');
  });
});
