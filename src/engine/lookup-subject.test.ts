import { describe, expect, it } from 'vitest';
import { excludeSets, intersectSets, type SubjectSet, unionSets } from './lookup-subject.js';

const F = (...ids: string[]): SubjectSet => ({ all: false, ids: new Set(ids) });
const A = (...ids: string[]): SubjectSet => ({ all: true, ids: new Set(ids) });
const show = (s: SubjectSet): string => `${s.all ? 'ALL-' : ''}{${[...s.ids].sort().join(',')}}`;

describe('ALL / ALL − X algebra (spec §5.8.1)', () => {
  it('union', () => {
    expect(show(unionSets(A('x', 'y'), A('y', 'z')))).toBe('ALL-{y}');
    expect(show(unionSets(A('x', 'y'), F('y')))).toBe('ALL-{x}');
    expect(show(unionSets(F('y'), A('x', 'y')))).toBe('ALL-{x}');
    expect(show(unionSets(F('a'), F('b')))).toBe('{a,b}');
  });
  it('intersection', () => {
    expect(show(intersectSets(A('x'), A('y')))).toBe('ALL-{x,y}');
    expect(show(intersectSets(A('x'), F('x', 'k')))).toBe('{k}');
    expect(show(intersectSets(F('x', 'k'), A('x')))).toBe('{k}');
    expect(show(intersectSets(F('a', 'b'), F('b', 'c')))).toBe('{b}');
  });
  it('exclusion', () => {
    expect(show(excludeSets(A('x'), A('x', 'y')))).toBe('{y}');
    expect(show(excludeSets(F('a', 'y'), A('y')))).toBe('{y}');
    expect(show(excludeSets(A('x'), F('f')))).toBe('ALL-{f,x}');
    expect(show(excludeSets(F('a', 'b'), F('b')))).toBe('{a}');
  });
});
