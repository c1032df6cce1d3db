/**
 * LookupEntity publishes only `true` holders of a BOOLEAN attribute that is reached through bare attribute
 * leaves (src/engine/lookup-entity.ts, `onlyBareBooleanLeaf`). These tests hold the result to exhaustive Check.
 */
import { describe, expect, it } from 'vitest';
import { generateGoogleDocsDataset } from '../../bench/datasets/google-docs.js';
import { fixture, TENANT, type CallOptions, type Fixture } from './support.js';

async function exhaustive(
  f: Fixture,
  type: string,
  ids: readonly string[],
  permission: string,
  subject: string,
  opts?: CallOptions,
) {
  const allowed: string[] = [];
  for (const id of ids) if ((await f.check(`${type}:${id}`, permission, subject, opts)) === 'allowed') allowed.push(id);
  return allowed.sort();
}

describe('lookupEntity with a bare boolean attribute leaf (google-docs model)', async () => {
  const data = generateGoogleDocsDataset({ tuples: 3000, seed: 7 });
  const f = await fixture(data.schema, []);
  await f.store.writer.write(TENANT, [{ writeTuples: data.tuples, writeAttributes: data.attributes }]);
  const falseIds = data.attributes.filter((a) => a.value.value === false).map((a) => a.entity.id);
  const trueIds = data.attributes.filter((a) => a.value.value === true).map((a) => a.entity.id);

  it('the dataset holds both values', () => {
    expect(falseIds.length).toBeGreaterThan(0);
    expect(trueIds.length).toBeGreaterThan(0);
  });

  it('view and edit equal exhaustive Check for sampled users', async () => {
    const users = data.users.filter((_, i) => i % 15 === 0).slice(0, 10);
    for (const u of users) {
      for (const permission of ['view', 'edit']) {
        const got = (await f.lookupEntity('document', permission, `user:${u}`)).sort();
        expect(got).toEqual(await exhaustive(f, 'document', data.documents, permission, `user:${u}`));
      }
    }
  });

  it('contextual values win over stored ones in both directions', async () => {
    const u = data.users[0] as string;
    const flipped = [
      ...falseIds.slice(0, 3).map((id) => `document:${id}$public|boolean:true`),
      ...trueIds.slice(0, 3).map((id) => `document:${id}$public|boolean:false`),
    ];
    const opts: CallOptions = { context: { attributes: flipped } };
    const got = (await f.lookupEntity('document', 'view', `user:${u}`, opts)).sort();
    expect(got).toEqual(await exhaustive(f, 'document', data.documents, 'view', `user:${u}`, opts));
    for (const id of falseIds.slice(0, 3)) expect(got).toContain(id);
  });
});

describe('boolean attributes that a rule reads keep every holder', async () => {
  const f = await fixture(
    `entity user {}
entity doc {
    relation owner @user
    attribute locked boolean
    attribute hidden boolean
    permission view = owner or is_open(locked)
    permission see = owner or hidden
}
rule is_open(locked boolean) {
    !locked
}`,
    ['doc:a#owner@user:u'],
    [
      'doc:b$locked|boolean:false',
      'doc:c$locked|boolean:true',
      'doc:d$hidden|boolean:false',
      'doc:e$hidden|boolean:true',
    ],
  );
  it('a false value that a rule negates still allows', async () => {
    expect((await f.lookupEntity('doc', 'view', 'user:u')).sort()).toEqual(['a', 'b']);
  });
  it('a bare leaf: false holders are not candidates, true ones are', async () => {
    expect((await f.lookupEntity('doc', 'see', 'user:u')).sort()).toEqual(['a', 'e']);
  });
});
