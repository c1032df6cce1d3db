/**
 * LookupSubject(E, P, reference T) lists exactly the T subjects S (among the subjects stored tuples mention) for
 * which Check(E, P, S) is ALLOWED (issue 9 item 5): a plain reference `group` also lists groups stored only as
 * `group:x#member` when the answer is ALL, and a userset reference counts `T:x#r` as a member of `T:x#r`.
 */
import { describe, expect, it } from 'vitest';
import { fixture } from './support.js';

describe('lookupSubject for a plain reference', async () => {
  const f = await fixture(
    `entity user {}
entity group {
    relation member @user @group#member
    attribute open boolean
    permission see = open not member
}
entity doc {
    relation viewer @user @group @group#member
    attribute pub boolean
    permission view = viewer or pub
}`,
    [
      'doc:1#viewer@group:only#member',
      'doc:1#viewer@group:plain',
      'group:x#member@user:u1',
      'group:y#member@group:only#member',
      'doc:1#viewer@user:u2',
      'doc:1#viewer@group:y#member',
      'group:z#member@group:y#member',
    ],
    ['doc:2$pub|boolean:true', 'group:y$open|boolean:true', 'group:z$open|boolean:true'],
  );

  it('an ALL answer lists groups stored only as usersets, as Check allows them', async () => {
    expect(await f.check('doc:2', 'view', 'group:only')).toBe('allowed');
    expect(await f.lookupSubject('doc:2', 'view', 'group')).toEqual(['only', 'plain', 'y']);
    expect(await f.lookupSubject('doc:2', 'view', 'group#member')).toEqual(['only', 'y']);
  });

  it('a finite answer keeps plain matches only, as Check does', async () => {
    expect(await f.check('doc:1', 'view', 'group:only')).toBe('denied');
    expect(await f.check('doc:1', 'view', 'group:plain')).toBe('allowed');
    expect(await f.lookupSubject('doc:1', 'view', 'group')).toEqual(['plain']);
  });

  it('under an exclusion a userset subject counts as a member of itself and of nested usersets, as in Check', async () => {
    // Outside a negation upstream's answers stay (§5.8.2 item 4: `group:only#member` inside y is not listed).
    expect(await f.lookupSubject('group:z', 'member', 'group#member')).toEqual(['y']);
    // Check(group:y, see, group:y#member): `member` holds for the subject group:y#member itself.
    expect(await f.check('group:y', 'see', 'group:y#member')).toBe('denied');
    expect(await f.lookupSubject('group:y', 'see', 'group#member')).toEqual([]);
    // Check(group:z, see, group:only#member): only is a member of y, which is a member of z.
    expect(await f.check('group:z', 'see', 'group:only#member')).toBe('denied');
    expect(await f.lookupSubject('group:z', 'see', 'group#member')).toEqual([]);
  });
});
