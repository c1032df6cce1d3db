/**
 * Model-based test of the memory store: random sequences of writes, deletes, filter deletes, attribute
 * overwrites and garbage collections are applied both to the store and to a naive reference (a list of
 * live rows in insertion order, snapshotted after every transaction). Every read pattern (filtered queries
 * at every retained token, paginated reads, single attributes, distinct subject ids, watch replay) must
 * agree with the reference.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attributeToString, tupleToString } from '../../src/data/notation.js';
import type { Attribute, Tuple } from '../../src/data/types.js';
import type { AttributeFilter, DataChanges, SnapToken, TupleFilter, WriteStep } from '../../src/storage/contract.js';
import { createMemoryStore } from '../../src/storage/memory/index.js';

const entityTypes = ['doc', 'folder'];
const ids = ['1', '2', '3'];
const relations = ['viewer', 'editor'];
const subjectTypes = ['user', 'group'];
const subjectRelations = ['', 'member'];
const attributeNames = ['a', 'b'];

const tupleArb: fc.Arbitrary<Tuple> = fc
  .record({
    et: fc.constantFrom(...entityTypes),
    eid: fc.constantFrom(...ids),
    rel: fc.constantFrom(...relations),
    st: fc.constantFrom(...subjectTypes),
    sid: fc.constantFrom(...ids),
    srel: fc.constantFrom('', 'member', '...'),
  })
  .map((r) => ({
    entity: { type: r.et, id: r.eid },
    relation: r.rel,
    subject: { type: r.st, id: r.sid, relation: r.srel },
  }));

const attributeArb: fc.Arbitrary<Attribute> = fc
  .record({
    et: fc.constantFrom(...entityTypes),
    eid: fc.constantFrom(...ids),
    name: fc.constantFrom(...attributeNames),
    v: fc.integer({ min: -3, max: 3 }),
  })
  .map((r) => ({ entity: { type: r.et, id: r.eid }, attribute: r.name, value: { type: 'integer', value: r.v } }));

const optional = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });
const someIds = fc.subarray(ids, { minLength: 0, maxLength: 2 });

const tupleFilterArb: fc.Arbitrary<TupleFilter> = fc.record({
  entity: optional(fc.record({ type: optional(fc.constantFrom(...entityTypes, 'nothing')), ids: optional(someIds) })),
  relation: optional(fc.constantFrom(...relations, '')),
  subject: optional(
    fc.record({
      type: optional(fc.constantFrom(...subjectTypes)),
      ids: optional(someIds),
      relation: optional(fc.constantFrom(...subjectRelations)),
    }),
  ),
});

const attributeFilterArb: fc.Arbitrary<AttributeFilter> = fc.record({
  entity: optional(fc.record({ type: optional(fc.constantFrom(...entityTypes)), ids: optional(someIds) })),
  attributes: optional(fc.subarray(attributeNames)),
});

const stepArb: fc.Arbitrary<WriteStep> = fc.record({
  writeTuples: optional(fc.array(tupleArb, { maxLength: 6 })),
  writeAttributes: optional(fc.array(attributeArb, { maxLength: 3 })),
  deleteTuples: optional(fc.array(tupleArb, { maxLength: 3 })),
  deleteAttributes: optional(
    fc.array(
      attributeArb.map((a) => ({ entity: a.entity, attribute: a.attribute })),
      { maxLength: 2 },
    ),
  ),
  deleteTupleFilters: optional(fc.array(tupleFilterArb, { maxLength: 1 })),
  deleteAttributeFilters: optional(fc.array(attributeFilterArb, { maxLength: 1 })),
});

type Op =
  | { readonly kind: 'write'; readonly steps: WriteStep[]; readonly advanceMs: number }
  | { readonly kind: 'gc'; readonly windowMs: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      steps: fc.array(stepArb, { maxLength: 2 }),
      advanceMs: fc.integer({ min: 0, max: 10 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('gc' as const), windowMs: fc.integer({ min: 0, max: 40 }) }) },
);

// ---- reference model ----

const norm = (t: Tuple): Tuple => ({
  ...t,
  subject: { ...t.subject, relation: t.subject.relation === '...' ? '' : t.subject.relation },
});
const has = (list: readonly string[] | undefined, v: string): boolean =>
  list === undefined || list.length === 0 || list.includes(v);
const tupleMatches = (f: TupleFilter, t: Tuple): boolean =>
  (!f.entity?.type || f.entity.type === t.entity.type) &&
  has(f.entity?.ids, t.entity.id) &&
  (!f.relation || f.relation === t.relation) &&
  (!f.subject?.type || f.subject.type === t.subject.type) &&
  has(f.subject?.ids, t.subject.id) &&
  (!f.subject?.relation || f.subject.relation === t.subject.relation);
const attributeMatches = (f: AttributeFilter, a: Attribute): boolean =>
  (!f.entity?.type || f.entity.type === a.entity.type) &&
  has(f.entity?.ids, a.entity.id) &&
  has(f.attributes, a.attribute);
const tupleHasCriterion = (f: TupleFilter): boolean =>
  Boolean(
    f.entity?.type ||
    f.entity?.ids?.length ||
    f.relation ||
    f.subject?.type ||
    f.subject?.ids?.length ||
    f.subject?.relation,
  );
const attributeHasCriterion = (f: AttributeFilter): boolean =>
  Boolean(f.entity?.type || f.entity?.ids?.length || f.attributes?.length);
const attrKey = (a: { entity: { type: string; id: string }; attribute: string }): string =>
  `${a.entity.type}:${a.entity.id}$${a.attribute}`;

interface Snapshot {
  readonly tuples: readonly Tuple[];
  readonly attributes: readonly Attribute[];
}

/** Applies a write to the model; returns the new snapshot and the expected watch changes. */
function applyModel(prev: Snapshot, steps: readonly WriteStep[]): { next: Snapshot; changes: string[] } {
  let tuples = [...prev.tuples];
  let attributes = [...prev.attributes];
  const created = new Set<Tuple | Attribute>();
  const deleted: (Tuple | Attribute)[] = [];
  const removeTuple = (t: Tuple): void => {
    tuples = tuples.filter((x) => x !== t);
    if (created.has(t)) created.delete(t);
    else deleted.push(t);
  };
  const removeAttribute = (a: Attribute): void => {
    attributes = attributes.filter((x) => x !== a);
    if (created.has(a)) created.delete(a);
    else deleted.push(a);
  };
  for (const step of steps) {
    for (const raw of step.writeTuples ?? []) {
      const t = norm(raw);
      if (tuples.some((x) => tupleToString(x) === tupleToString(t))) continue;
      tuples.push(t);
      created.add(t);
    }
    for (const a of step.writeAttributes ?? []) {
      const old = attributes.find((x) => attrKey(x) === attrKey(a));
      if (old) removeAttribute(old);
      const copy = { ...a };
      attributes.push(copy);
      created.add(copy);
    }
    for (const raw of step.deleteTuples ?? []) {
      const t = norm(raw);
      const live = tuples.find((x) => tupleToString(x) === tupleToString(t));
      if (live) removeTuple(live);
    }
    for (const d of step.deleteAttributes ?? []) {
      const live = attributes.find((x) => attrKey(x) === attrKey(d));
      if (live) removeAttribute(live);
    }
    for (const f of step.deleteTupleFilters ?? []) {
      if (tupleHasCriterion(f)) for (const t of tuples.filter((x) => tupleMatches(f, x))) removeTuple(t);
    }
    for (const f of step.deleteAttributeFilters ?? []) {
      if (attributeHasCriterion(f))
        for (const a of attributes.filter((x) => attributeMatches(f, x))) removeAttribute(a);
    }
  }
  // Expected watch order: tuple deletes then creates (storage order), then attribute deletes then creates.
  const isTuple = (x: Tuple | Attribute): x is Tuple => 'relation' in x;
  const order = (list: readonly (Tuple | Attribute)[], all: readonly (Tuple | Attribute)[]): (Tuple | Attribute)[] =>
    [...list].sort((x, y) => all.indexOf(x) - all.indexOf(y));
  const prevAll = [...prev.tuples, ...prev.attributes];
  const nextAll = [...tuples, ...attributes];
  const changes = [
    ...order(deleted.filter(isTuple), prevAll).map((t) => `delete ${tupleToString(t as Tuple)}`),
    ...order([...created].filter(isTuple), nextAll).map((t) => `create ${tupleToString(t as Tuple)}`),
    ...order(
      deleted.filter((x) => !isTuple(x)),
      prevAll,
    ).map((a) => `delete ${attributeToString(a as Attribute)}`),
    ...order(
      [...created].filter((x) => !isTuple(x)),
      nextAll,
    ).map((a) => `create ${attributeToString(a as Attribute)}`),
  ];
  return { next: { tuples, attributes }, changes };
}

function changeText(c: DataChanges): string[] {
  return c.changes.map((d) =>
    d.tuple
      ? `${d.operation} ${tupleToString(d.tuple)}`
      : `${d.operation} ${attributeToString(d.attribute as Attribute)}`,
  );
}

describe('memory store against a reference model', () => {
  it('agrees on every read at every retained token', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 25 }),
        fc.array(tupleFilterArb, { minLength: 3, maxLength: 3 }),
        fc.array(attributeFilterArb, { minLength: 2, maxLength: 2 }),
        async (ops, tupleFilters, attributeFilters) => {
          let now = 1000;
          const store = createMemoryStore({ now: () => now });
          const tenant = 'model';
          const start = await store.reader.headSnapToken(tenant);
          const history: { token: SnapToken; at: number; snapshot: Snapshot; changes: string[] }[] = [];
          let current: Snapshot = { tuples: [], attributes: [] };
          let oldestReadable = -1; // index into history of the oldest token still exact after GC (L)
          for (const op of ops) {
            if (op.kind === 'write') {
              now += op.advanceMs;
              const token = await store.writer.write(tenant, op.steps);
              const { next, changes } = applyModel(current, op.steps);
              current = next;
              history.push({ token, at: now, snapshot: next, changes });
            } else {
              await store.gc.collect(op.windowMs);
              const cutoff = now - op.windowMs;
              let l = -1;
              for (let i = history.length - 1; i >= 0; i -= 1) {
                if ((history[i]?.at as number) < cutoff) {
                  l = i;
                  break;
                }
              }
              oldestReadable = Math.max(oldestReadable, l);
            }
          }
          const head = await store.reader.headSnapToken(tenant);
          const checks: { token: SnapToken; snapshot: Snapshot }[] = [
            { token: head, snapshot: current },
            ...history.slice(Math.max(0, oldestReadable)),
          ];
          for (const { token, snapshot } of checks) {
            for (const f of [{}, ...tupleFilters]) {
              const expected = snapshot.tuples.filter((t) => tupleMatches(f, t)).map(tupleToString);
              expect((await store.reader.queryRelationships(tenant, f, token)).map(tupleToString)).toEqual(expected);
              const paged: string[] = [];
              let pageToken = '';
              do {
                const page = await store.reader.readRelationships(tenant, f, token, { size: 2, token: pageToken });
                paged.push(...page.items.map(tupleToString));
                pageToken = page.continuousToken;
              } while (pageToken !== '');
              expect(paged).toEqual(expected);
            }
            for (const f of [{}, ...attributeFilters]) {
              const expected = snapshot.attributes.filter((a) => attributeMatches(f, a)).map(attributeToString);
              expect((await store.reader.queryAttributes(tenant, f, token)).map(attributeToString)).toEqual(expected);
            }
            for (const a of snapshot.attributes) {
              const got = await store.reader.querySingleAttribute(tenant, a.entity, a.attribute, token);
              expect(got && attributeToString(got)).toBe(attributeToString(a));
            }
            for (const st of subjectTypes) {
              for (const srel of subjectRelations) {
                const expected = [
                  ...new Set(
                    snapshot.tuples
                      .filter((t) => t.subject.type === st && t.subject.relation === srel)
                      .map((t) => t.subject.id),
                  ),
                ].sort();
                expect(await store.reader.queryUniqueSubjectIds(tenant, st, srel, token)).toEqual(expected);
              }
            }
          }
          // Watch replays every retained transaction exactly once, in order, from the oldest resumable token;
          // resuming from before collected history is refused.
          const resumeIndex = Math.max(-1, oldestReadable - 1); // history index of the resume token (-1 = start)
          const ac = new AbortController();
          const from = resumeIndex < 0 ? start : (history[resumeIndex]?.token as string);
          const it = store.watcher.watch(tenant, from, ac.signal)[Symbol.asyncIterator]();
          for (const h of history.slice(resumeIndex + 1)) {
            const r = await it.next();
            expect(r.done).toBe(false);
            expect(changeText(r.value as DataChanges)).toEqual(h.changes);
          }
          if (resumeIndex >= 0) {
            const old = store.watcher.watch(tenant, start, ac.signal)[Symbol.asyncIterator]();
            await expect(old.next()).rejects.toThrow(/garbage-collected/);
          }
          ac.abort();
          expect((await it.next()).done).toBe(true);
          await store.close();
        },
      ),
      { numRuns: 150 },
    );
  });
});
