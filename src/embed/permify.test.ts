import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../storage/memory/index.js';
import { permify } from './permify.js';

const schema = `
entity user {}

entity organization {
    relation member @user
}

entity document {
    relation org @organization
    relation owner @user
    attribute public boolean

    permission view = owner or org.member or public
    permission edit = owner
}
`;

describe('permify() facade', () => {
  it('writes the schema, validates and writes data, checks and looks up (text notation and objects)', async () => {
    const authz = await permify({ schema });
    try {
      const token = await authz.write({
        tuples: [
          'document:1#owner@user:alice',
          'document:2#org@organization:acme',
          {
            entity: { type: 'organization', id: 'acme' },
            relation: 'member',
            subject: { type: 'user', id: 'bob', relation: '' },
          },
        ],
        attributes: ['document:3$public|boolean:true'],
      });
      expect(token).not.toBe('');
      expect(await authz.check('document:1', 'edit', 'user:alice')).toBe(true);
      expect(await authz.check('document:1', 'edit', 'user:bob')).toBe(false);
      expect(await authz.check({ type: 'document', id: '2' }, 'view', { type: 'user', id: 'bob', relation: '' })).toBe(
        true,
      );
      expect(await authz.lookupEntity('document', 'view', 'user:bob')).toEqual(['2', '3']);
      expect(await authz.lookupSubject('document:2', 'view', 'user')).toEqual(['bob']);
      // Contextual tuples are used for the call only.
      expect(
        await authz.check('document:1', 'edit', 'user:carol', {
          context: { tuples: ['document:1#owner@user:carol'] },
        }),
      ).toBe(true);
      expect(await authz.check('document:1', 'edit', 'user:carol')).toBe(false);
      await authz.write({ deleteTuples: ['document:1#owner@user:alice'] });
      expect(await authz.check('document:1', 'edit', 'user:alice')).toBe(false);
      // An older snap token still sees the deleted tuple.
      expect(await authz.check('document:1', 'edit', 'user:alice', { snapToken: token })).toBe(true);
    } finally {
      await authz.close();
    }
  });

  it('refuses data the schema does not define, with Permify`s codes, and bad notation as a PermifyError', async () => {
    const authz = await permify({ schema });
    try {
      await expect(authz.write({ tuples: ['document:1#author@user:alice'] })).rejects.toMatchObject({
        code: 'ERROR_CODE_RELATION_DEFINITION_NOT_FOUND',
      });
      await expect(authz.write({ attributes: ['document:1$public|string:yes'] })).rejects.toMatchObject({
        name: 'PermifyError',
      });
      await expect(authz.check('document', 'view', 'user:alice')).rejects.toMatchObject({ name: 'PermifyError' });
      await expect(authz.check('document:1', 'nope', 'user:alice')).rejects.toMatchObject({ name: 'PermifyError' });
    } finally {
      await authz.close();
    }
  });

  it('does not write an identical schema again on restart; a changed one becomes the new head', async () => {
    const store = createMemoryStore();
    try {
      const first = await permify({ schema, store });
      const v1 = await store.schemas.headVersion('t1');
      await first.close();
      await permify({ schema, store });
      expect(await store.schemas.headVersion('t1')).toBe(v1);
      await permify({ schema: `${schema}\nentity team {}`, store });
      expect(await store.schemas.headVersion('t1')).not.toBe(v1);
    } finally {
      await store.close();
    }
  });

  it('without a schema, writes say which tenant has none', async () => {
    const authz = await permify({ tenantId: 'acme' });
    try {
      await expect(authz.write({ tuples: ['document:1#owner@user:alice'] })).rejects.toMatchObject({
        code: 'ERROR_CODE_SCHEMA_NOT_FOUND',
        message: expect.stringContaining('acme'),
      });
    } finally {
      await authz.close();
    }
  });
});
