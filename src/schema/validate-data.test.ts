import { describe, expect, it } from 'vitest';
import type { Attribute, Tuple } from '../data/types.js';
import { PermifyError } from '../errors.js';
import { compileSchema } from '../language/index.js';
import { validateAttribute, validateTuple } from './validate-data.js';

const schema = compileSchema(`
entity user {}
entity group {
    relation member @user @group#member
    permission view = member
}
entity doc {
    relation owner @user
    relation viewer @group#member
    attribute public boolean
    attribute tags string[]
    permission read = owner or public
}
`);

function tuple(text: string): Tuple {
  const m = /^(\w+):([^#]+)#(\w*)@(\w+):([^#]+)(?:#(.+))?$/.exec(text);
  if (m === null) throw new Error(text);
  return {
    entity: { type: m[1]!, id: m[2]! },
    relation: m[3]!,
    subject: { type: m[4]!, id: m[5]!, relation: m[6] ?? '' },
  };
}

function codeOf(f: () => void): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(PermifyError);
    return (e as PermifyError).code;
  }
}

describe('validateTuple', () => {
  it.each([
    ['doc:1#owner@user:1', undefined],
    ['doc:1#viewer@group:g#member', undefined],
    ['group:1#member@group:2#member', undefined],
    ['group:1#member@user:1#...', undefined],
    ['folder:1#owner@user:1', 'ERROR_CODE_SCHEMA_NOT_FOUND'],
    ['group:1#member@group:1#member', 'ERROR_CODE_ENTITY_AND_SUBJECT_CANNOT_BE_EQUAL'],
    ['doc:1#read@user:1', 'ERROR_CODE_RELATION_DEFINITION_NOT_FOUND'],
    ['doc:1#public@user:1', 'ERROR_CODE_RELATION_DEFINITION_NOT_FOUND'],
    ['doc:1#owner@group:1', 'ERROR_CODE_SUBJECT_TYPE_NOT_FOUND'],
    ['doc:1#viewer@group:1', 'ERROR_CODE_SUBJECT_TYPE_NOT_FOUND'],
    ['doc:1#owner@user:1#member', 'ERROR_CODE_SUBJECT_TYPE_NOT_FOUND'],
  ])('%s -> %s', (text, code) => {
    expect(codeOf(() => validateTuple(schema, tuple(text)))).toBe(code);
  });
  it('checks the entity type before equality (order of §3.3)', () => {
    expect(codeOf(() => validateTuple(schema, tuple('x:1#r@x:1#r')))).toBe('ERROR_CODE_SCHEMA_NOT_FOUND');
  });
});

describe('validateAttribute', () => {
  const attr = (type: string, name: string, value: Attribute['value']): Attribute => ({
    entity: { type, id: '1' },
    attribute: name,
    value,
  });
  it('accepts declared attributes with the exact type', () => {
    expect(codeOf(() => validateAttribute(schema, attr('doc', 'public', { type: 'boolean', value: true })))).toBe(
      undefined,
    );
    expect(codeOf(() => validateAttribute(schema, attr('doc', 'tags', { type: 'string[]', value: ['a'] })))).toBe(
      undefined,
    );
  });
  it('rejects unknown attributes and type mismatches', () => {
    expect(codeOf(() => validateAttribute(schema, attr('doc', 'owner', { type: 'boolean', value: true })))).toBe(
      'ERROR_CODE_ATTRIBUTE_DEFINITION_NOT_FOUND',
    );
    expect(codeOf(() => validateAttribute(schema, attr('nope', 'public', { type: 'boolean', value: true })))).toBe(
      'ERROR_CODE_ATTRIBUTE_DEFINITION_NOT_FOUND',
    );
    expect(codeOf(() => validateAttribute(schema, attr('doc', 'tags', { type: 'string', value: 'a' })))).toBe(
      'ERROR_CODE_ATTRIBUTE_TYPE_MISMATCH',
    );
  });
});
