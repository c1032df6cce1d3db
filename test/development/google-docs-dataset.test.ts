import { describe, expect, it } from 'vitest';
import { generateGoogleDocsDataset } from '../../bench/datasets/google-docs.js';
import type { Tuple } from '../../src/data/types.js';

const key = (t: Tuple): string =>
  `${t.entity.type}:${t.entity.id}#${t.relation}@${t.subject.type}:${t.subject.id}#${t.subject.relation}`;

describe('generateGoogleDocsDataset', () => {
  it.each([0, 1, 37, 1000, 20_000])('returns exactly %i distinct tuples', (n) => {
    const d = generateGoogleDocsDataset({ tuples: n });
    expect(d.tuples).toHaveLength(n);
    expect(new Set(d.tuples.map(key)).size).toBe(n);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = generateGoogleDocsDataset({ tuples: 5000, seed: 7 });
    const b = generateGoogleDocsDataset({ tuples: 5000, seed: 7 });
    const c = generateGoogleDocsDataset({ tuples: 5000, seed: 8 });
    expect(a.tuples.map(key)).toEqual(b.tuples.map(key));
    expect(a.sampleChecks).toEqual(b.sampleChecks);
    expect(a.tuples.map(key)).not.toEqual(c.tuples.map(key));
  });

  it('builds group chains of depth 4 and folder chains of depth 5', () => {
    const d = generateGoogleDocsDataset({ tuples: 20_000 });
    const parentOf = new Map<string, string>();
    for (const t of d.tuples)
      if (t.relation === 'parent' && t.entity.type === 'folder') parentOf.set(t.entity.id, t.subject.id);
    let maxFolderDepth = 0;
    for (const f of d.folders) {
      let depth = 1;
      for (let cur = parentOf.get(f); cur !== undefined; cur = parentOf.get(cur)) depth++;
      maxFolderDepth = Math.max(maxFolderDepth, depth);
    }
    expect(maxFolderDepth).toBe(5);

    const nested = new Map<string, string>();
    for (const t of d.tuples)
      if (t.entity.type === 'group' && t.subject.type === 'group') nested.set(t.entity.id, t.subject.id);
    let maxGroupDepth = 0;
    for (const g of d.groups) {
      let depth = 1;
      for (let cur = nested.get(g); cur !== undefined; cur = nested.get(cur)) depth++;
      maxGroupDepth = Math.max(maxGroupDepth, depth);
    }
    expect(maxGroupDepth).toBe(4);
  });

  it('only uses ids of generated entities and relations of the schema', () => {
    const d = generateGoogleDocsDataset({ tuples: 3000 });
    const known: Record<string, Set<string>> = {
      user: new Set(d.users),
      organization: new Set(d.organizations),
      group: new Set(d.groups),
      folder: new Set(d.folders),
      document: new Set(d.documents),
    };
    for (const t of d.tuples) {
      expect(known[t.entity.type]?.has(t.entity.id), key(t)).toBe(true);
      expect(known[t.subject.type]?.has(t.subject.id), key(t)).toBe(true);
      expect(d.schema).toContain(`relation ${t.relation} `);
    }
    expect(d.sampleChecks.length).toBe(1000);
  });
});
