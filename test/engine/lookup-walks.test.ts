/**
 * LookupEntity candidates reached upwards from attribute and rule leaves through walks, computed usersets and
 * usersets, recursively (issue 9 item 1): every lookup must equal exhaustive Check.
 */
import { describe, expect, it } from 'vitest';
import { fixture, type CallOptions, type Fixture } from './support.js';

async function allowedIds(
  f: Fixture,
  type: string,
  ids: readonly string[],
  permission: string,
  subject: string,
  opts?: CallOptions,
): Promise<string[]> {
  const out: string[] = [];
  for (const id of ids) if ((await f.check(`${type}:${id}`, permission, subject, opts)) === 'allowed') out.push(id);
  return out;
}

const pages = `
entity user {}
entity folder {
    relation parent @folder
    relation viewer @user
    attribute is_public boolean
    permission view = is_public or viewer or parent.view
}
entity page {
    relation folder @folder
    relation owner @user
    permission view = owner or folder.view
}`;

describe('lookupEntity through walks from attribute leaves', async () => {
  const f = await fixture(
    pages,
    [
      'folder:b#parent@folder:a',
      'folder:c#parent@folder:b',
      'page:p#folder@folder:b',
      'page:q#folder@folder:c',
      'page:r#owner@user:y',
      'page:s#folder@folder:d',
      'folder:d#viewer@user:y',
    ],
    ['folder:a$is_public|boolean:true'],
  );
  const pageIds = ['p', 'q', 'r', 's'];

  it('the issue example: a page under a public ancestor folder', async () => {
    expect(await f.check('page:p', 'view', 'user:x')).toBe('allowed');
    expect(await f.lookupEntity('page', 'view', 'user:x')).toEqual(['p', 'q']);
    expect(await f.lookupEntity('page', 'view', 'user:y')).toEqual(['p', 'q', 'r', 's']);
    expect(await f.lookupEntity('folder', 'view', 'user:x')).toEqual(['a', 'b', 'c']);
  });

  it('contextual attributes and tuples are followed the same way', async () => {
    const opts: CallOptions = {
      context: {
        tuples: ['folder:e#parent@folder:d', 'page:t#folder@folder:e'],
        attributes: ['folder:d$is_public|boolean:true', 'folder:a$is_public|boolean:false'],
      },
    };
    const ids = [...pageIds, 't'];
    expect(await f.lookupEntity('page', 'view', 'user:x', opts)).toEqual(
      await allowedIds(f, 'page', ids, 'view', 'user:x', opts),
    );
    expect(await f.lookupEntity('page', 'view', 'user:x', opts)).toEqual(['s', 't']);
  });
});

describe('lookupEntity through walks from rule leaves (several hops, usersets)', async () => {
  const f = await fixture(
    `
entity user {}
entity org {
    relation member @user
    attribute tier integer
    permission premium = gold(tier)
}
entity team {
    relation org @org
    relation lead @user
    permission access = org.premium or lead
}
entity project {
    relation team @team
    relation viewer @team#access
    permission read = team.access
    permission see = viewer
}
rule gold(tier integer) {
    tier >= context.data.min
}`,
    [
      'team:t1#org@org:o1',
      'team:t2#org@org:o2',
      'project:p1#team@team:t1',
      'project:p2#team@team:t2',
      'project:p3#viewer@team:t1#access',
    ],
    ['org:o1$tier|integer:3', 'org:o2$tier|integer:1'],
  );
  const ids = ['p1', 'p2', 'p3'];

  it('two walks from a rule holder', async () => {
    for (const min of [0, 2, 5]) {
      const opts: CallOptions = { context: { data: { min } } };
      expect(await f.lookupEntity('project', 'read', 'user:x', opts)).toEqual(
        await allowedIds(f, 'project', ids, 'read', 'user:x', opts),
      );
    }
    expect(await f.lookupEntity('project', 'read', 'user:x', { context: { data: { min: 2 } } })).toEqual(['p1']);
  });

  it('a userset subject relation naming a permission with a rule leaf', async () => {
    const opts: CallOptions = { context: { data: { min: 2 } } };
    expect(await f.lookupEntity('project', 'see', 'user:x', opts)).toEqual(['p3']);
  });
});
