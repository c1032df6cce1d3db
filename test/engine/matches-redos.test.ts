/**
 * `matches` in a rule cannot stall the server: a Check whose rule matches request data against a catastrophic
 * pattern answers within milliseconds (RE2 semantics, linear time), and a match over the work budget is refused
 * as INVALID_ARGUMENT instead of blocking the event loop.
 */
import { describe, expect, it } from 'vitest';
import { fixture } from './support.js';

const schema = `entity user {}
entity doc {
    attribute name string
    permission catastrophic = nested(name)
    permission dynamic = by_pattern(name)
}
rule nested(name string) {
    context.data.v.matches('^(a|aa)+b$') || name.matches('(a+)+$')
}
rule by_pattern(name string) {
    matches(context.data.v, context.data.p)
}`;

describe('matches in rules (ReDoS)', async () => {
  const f = await fixture(schema, [], [`doc:1$name|string:${'a'.repeat(40)}!`]);

  it('a 40-character value against (a|aa)+b and (a+)+$ answers within milliseconds', async () => {
    const start = performance.now();
    const v = 'a'.repeat(40);
    expect(await f.check('doc:1', 'catastrophic', 'user:x', { context: { data: { v } } })).toBe('denied');
    expect(await f.check('doc:1', 'catastrophic', 'user:x', { context: { data: { v: `${v}b` } } })).toBe('allowed');
    expect(performance.now() - start).toBeLessThan(500);
  });

  it('a pattern and value from the request: over the match budget, or invalid, is INVALID_ARGUMENT', async () => {
    const start = performance.now();
    const huge = { v: 'ab'.repeat(5000), p: '[ab]*a[ab]{999}$' };
    expect(await f.outcome('doc:1', 'dynamic', 'user:x', { context: { data: huge } })).toBe(
      'ERROR_CODE_INVALID_ARGUMENT',
    );
    expect(await f.outcome('doc:1', 'dynamic', 'user:x', { context: { data: { v: 'a', p: '(?=a)' } } })).toBe(
      'ERROR_CODE_INVALID_ARGUMENT',
    );
    expect(await f.check('doc:1', 'dynamic', 'user:x', { context: { data: { v: 'xaby', p: 'a(?i:B)' } } })).toBe(
      'allowed',
    );
    expect(performance.now() - start).toBeLessThan(500);
  });
});
