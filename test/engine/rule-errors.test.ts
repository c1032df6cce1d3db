/**
 * Rule evaluation errors are the caller's to fix (a missing `context.data` key, a value of another type, a
 * pattern `matches` refuses): every operation answers them with ERROR_CODE_INVALID_ARGUMENT (gRPC
 * INVALID_ARGUMENT, HTTP 400), never INTERNAL. Deliberate difference from Permify (README, compatibility).
 */
import { describe, expect, it } from 'vitest';
import { parseEntity, parseSubject } from '../../src/data/notation.js';
import { isPermifyError } from '../../src/errors.js';
import { ctx, fixture, TENANT, type ContextSpec } from './support.js';

const schema = `
entity user {}
entity doc {
    relation viewer @user
    attribute level integer
    permission view = viewer and high(level)
    permission by_pattern = viewer and pattern_ok(level)
}
rule high(level integer) {
    level >= context.data.min
}
rule pattern_ok(level integer) {
    'abc'.matches(context.data.p) || level > 100
}`;

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return isPermifyError(e) ? e.code : String(e);
  }
}

describe('rule evaluation errors are INVALID_ARGUMENT in every operation that reports errors', async () => {
  const f = await fixture(schema, ['doc:1#viewer@user:u', 'doc:2#viewer@user:u'], ['doc:1$level|integer:5']);
  const metadata = { depth: 20 };
  const cases: { what: string; context: ContextSpec }[] = [
    { what: 'a missing context.data key', context: { data: {} } },
    { what: 'a context.data value of another type', context: { data: { min: 'x' } } },
  ];

  for (const { what, context } of cases) {
    it(`${what}: Check, lookups, SubjectPermission, Explain`, async () => {
      const c = ctx(context);
      const entity = parseEntity('doc:1');
      const subject = parseSubject('user:u');
      const check = { tenantId: TENANT, metadata, entity, permission: 'view', subject, context: c };
      expect(await code(f.engine.check(check))).toBe('ERROR_CODE_INVALID_ARGUMENT');
      // BulkCheck never fails for one item (spec: its slot is DENIED with check_count 1), whatever the error.
      const bulk = await f.engine.bulkCheck({
        tenantId: TENANT,
        metadata,
        items: [{ entity, permission: 'view', subject }],
        context: c,
      });
      expect(bulk.results).toEqual([{ can: 'denied', metadata: { checkCount: 1 } }]);
      const lookup = { tenantId: TENANT, metadata, entityType: 'doc', permission: 'view', subject, context: c };
      expect(await code(f.engine.lookupEntity({ ...lookup, continuousToken: '' }))).toBe('ERROR_CODE_INVALID_ARGUMENT');
      expect(
        await code(
          (async () => {
            for await (const _ of f.engine.lookupEntityStream({ ...lookup, continuousToken: '' })) void _;
          })(),
        ),
      ).toBe('ERROR_CODE_INVALID_ARGUMENT');
      expect(
        await code(
          f.engine.lookupSubject({
            tenantId: TENANT,
            metadata,
            entity,
            permission: 'view',
            subjectReference: { type: 'user', relation: '' },
            context: c,
          }),
        ),
      ).toBe('ERROR_CODE_INVALID_ARGUMENT');
      expect(await code(f.engine.subjectPermission({ tenantId: TENANT, metadata, entity, subject, context: c }))).toBe(
        'ERROR_CODE_INVALID_ARGUMENT',
      );
      const explained = await f.engine.explain(check);
      expect(explained.can).toBeUndefined();
      expect(explained.error?.code).toBe('ERROR_CODE_INVALID_ARGUMENT');
    });
  }

  it('a contextual attribute of another type than the rule parameter: Check and Expand', async () => {
    const c = ctx({ attributes: ['doc:2$level|string:high'], data: { min: 1 } });
    const entity = parseEntity('doc:2');
    expect(
      await code(
        f.engine.check({ tenantId: TENANT, metadata, entity, permission: 'view', subject: parseSubject('user:u'), context: c }),
      ),
    ).toBe('ERROR_CODE_INVALID_ARGUMENT');
    expect(await code(f.engine.expand({ tenantId: TENANT, metadata: {}, entity, permission: 'view', context: c }))).toBe(
      'ERROR_CODE_INVALID_ARGUMENT',
    );
  });

  it('a pattern matches() refuses (invalid, over the length limit) is INVALID_ARGUMENT naming the limit', async () => {
    const at = (p: string) => f.outcome('doc:1', 'by_pattern', 'user:u', { context: { data: { p } } });
    expect(await at('(?<=a)b')).toBe('ERROR_CODE_INVALID_ARGUMENT');
    expect(await at('b')).toBe('allowed');
    const huge = 'x'.repeat(50_000);
    const start = performance.now();
    const err = await f.engine
      .check({
        tenantId: TENANT,
        metadata,
        entity: parseEntity('doc:1'),
        permission: 'by_pattern',
        subject: parseSubject('user:u'),
        context: ctx({ data: { p: huge } }),
      })
      .catch((e: unknown) => e);
    expect(performance.now() - start).toBeLessThan(50);
    expect(err).toMatchObject({ code: 'ERROR_CODE_INVALID_ARGUMENT' });
    expect((err as Error).message).toBe(
      'matches: a pattern of 50000 characters exceeds service.permission.max_pattern_length=256',
    );
  });
});
