import { describe, expect, it } from 'vitest';
import { renderOperation } from './bundle-template.js';

const empty = { relationshipsWrite: [], relationshipsDelete: [], attributesWrite: [], attributesDelete: [] };

describe('bundle template rendering', () => {
  it('substitutes supplied names inside fields; missing ones (and prototype names) render empty', () => {
    const op = renderOperation(
      {
        ...empty,
        relationshipsWrite: [
          'organization:{{.org}}#admin@user:{{ .user }}',
          'doc:x{{.missing}}#owner@user:u{{.toString}}',
        ],
      },
      { org: 'o1', user: 'u+1' },
    );
    expect(op.writeTuples).toEqual([
      {
        entity: { type: 'organization', id: 'o1' },
        relation: 'admin',
        subject: { type: 'user', id: 'u+1', relation: '' },
      },
      { entity: { type: 'doc', id: 'x' }, relation: 'owner', subject: { type: 'user', id: 'u', relation: '' } },
    ]);
  });

  it('a subject relation may come from an argument, `...` included', () => {
    const op = renderOperation({ ...empty, relationshipsDelete: ['doc:1#viewer@group:g#{{.rel}}'] }, { rel: 'member' });
    expect(op.deleteTuples[0]?.subject).toEqual({ type: 'group', id: 'g', relation: 'member' });
    expect(() =>
      renderOperation({ ...empty, relationshipsDelete: ['doc:1#viewer@group:g#{{.rel}}'] }, { rel: 'a#b' }),
    ).toThrow('invalid BundleRunRequest.Arguments["rel"]: "a#b" is not a valid subject relation');
  });

  it('attribute values are converted after substitution; a string value takes any text', () => {
    const op = renderOperation(
      { ...empty, attributesWrite: ['doc:1$n|integer:{{.n}}', 'doc:1$s|string:{{.s}}'] },
      { n: '42', s: 'a|b:c$d#e@f' },
    );
    expect(op.writeAttributes.map((a) => a.value)).toEqual([
      { type: 'integer', value: 42 },
      { type: 'string', value: 'a|b:c$d#e@f' },
    ]);
  });
});
