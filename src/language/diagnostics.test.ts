import { describe, expect, it } from 'vitest';
import { PermifyError } from '../errors.js';
import { compileSchema } from './index.js';

function failure(text: string, validateReferences = true): PermifyError {
  try {
    compileSchema(text, { validateReferences });
  } catch (e) {
    expect(e).toBeInstanceOf(PermifyError);
    return e as PermifyError;
  }
  throw new Error('expected the schema to fail');
}

function expectError(text: string, code: string, message: string): void {
  const e = failure(text);
  expect({ code: e.code, message: e.message }).toEqual({ code, message });
  const m = /^(\d+):(\d+):/.exec(message);
  expect(e.details).toEqual({ line: Number(m?.[1]), column: Number(m?.[2]) });
}

const user = 'entity user {}\n';

describe('spec §8.9 diagnostics (exact messages)', () => {
  it('undefined bare operand', () => {
    expectError(
      `${user}entity doc {\n    relation owner @user\n    permission view = owner or editor\n}\n`,
      'ERROR_CODE_UNDEFINED_RELATION_REFERENCE',
      '4:33: undefined relation reference',
    );
  });
  it('unknown subject type', () => {
    expectError(
      `${user}entity doc {\n    relation owner @person\n}\n`,
      'ERROR_CODE_RELATION_REFERENCE_NOT_FOUND_IN_ENTITY_REFERENCES',
      '3:22: relation reference not found in entity references',
    );
  });
  it('userset subject type naming a permission', () => {
    expectError(
      `${user}entity team {\n    relation member @user\n    permission view = member\n}\nentity doc {\n    relation viewer @team#view\n}\n`,
      'ERROR_CODE_RELATION_REFERENCE_NOT_FOUND_IN_ENTITY_REFERENCES',
      '7:23: relation reference not found in entity references',
    );
  });
  it('walk must start at a relation', () => {
    expectError(
      `${user}entity doc {\n    relation owner @user\n    permission edit = owner\n    permission view = edit.owner\n}\n`,
      'ERROR_CODE_UNDEFINED_RELATION_REFERENCE',
      '5:24: undefined relation reference',
    );
  });
  it('walk target lacks the member', () => {
    expectError(
      `${user}entity org {\n    relation admin @user\n}\nentity doc {\n    relation parent @org\n    permission view = parent.member\n}\n`,
      'ERROR_CODE_UNDEFINED_RELATION_REFERENCE',
      '7:31: undefined relation reference',
    );
  });
  it('walks cannot reach attributes', () => {
    expectError(
      `${user}entity org {\n    attribute public boolean\n}\nentity doc {\n    relation parent @org\n    permission view = parent.public\n}\n`,
      'ERROR_CODE_UNDEFINED_RELATION_REFERENCE',
      '7:31: undefined relation reference',
    );
  });
  it('three-segment walk', () => {
    expectError(
      `${user}entity org {\n    relation admin @user\n}\nentity team {\n    relation org @org\n}\nentity doc {\n    relation team @team\n    permission view = team.org.admin\n}\n`,
      'ERROR_CODE_NOT_SUPPORTED_RELATION_WALK',
      '10:33: not supported relation walk',
    );
  });
  it('non-boolean bare attribute', () => {
    expectError(
      `${user}entity doc {\n    attribute level integer\n    permission view = level\n}\n`,
      'ERROR_CODE_SCHEMA_COMPILE',
      '4:24: schema compile',
    );
  });
  it('unknown attribute type', () => {
    expectError(
      `${user}entity doc {\n    attribute level float\n}\n`,
      'ERROR_CODE_INVALID_ARGUMENT',
      '3:22: invalid argument',
    );
  });
  const callDoc = (call: string, attr = 'attribute level integer') =>
    `${user}entity doc {\n    ${attr}\n    permission view = ${call}\n}\n`;
  it('call to an undefined rule', () => {
    expectError(callDoc('high(level)'), 'ERROR_CODE_INVALID_RULE_REFERENCE', '4:24: invalid rule reference');
  });
  it('argument count differs', () => {
    expectError(
      `${callDoc('high(level)')}rule high(level integer, limit integer) {\n    level > limit\n}\n`,
      'ERROR_CODE_MISSING_ARGUMENT',
      '4:24: missing argument',
    );
  });
  it('argument is not an attribute', () => {
    expectError(
      `${callDoc('high(lvl)')}rule high(level integer) {\n    level > 3\n}\n`,
      'ERROR_CODE_INVALID_RULE_REFERENCE',
      '4:24: invalid rule reference',
    );
  });
  it('binding is by name', () => {
    expectError(
      `${callDoc('high(level)')}rule high(lvl integer) {\n    lvl > 3\n}\n`,
      'ERROR_CODE_INVALID_ARGUMENT',
      '4:29: invalid argument',
    );
  });
  it('argument type mismatch', () => {
    expectError(
      `${callDoc('high(level)')}rule high(level double) {\n    level > 3.0\n}\n`,
      'ERROR_CODE_INVALID_ARGUMENT',
      '4:29: invalid argument',
    );
  });
  it('dotted argument', () => {
    expectError(
      `${callDoc('high(request.level)')}rule high(level integer) {\n    level > 3\n}\n`,
      'ERROR_CODE_NOT_SUPPORTED_WALK',
      '4:37: not supported walk',
    );
  });
  it('zero-argument call', () => {
    expectError(
      `${callDoc('r()')}rule r() {\n    context.data.x == 1.0\n}\n`,
      'ERROR_CODE_MISSING_ARGUMENT',
      '4:24: missing argument',
    );
  });
  // Duplicates are reported at the second declaration's name and name the first one (upstream reports the
  // look-ahead cursor, e.g. `2:15` for this entity and `4:23` for the member, with no pointer to the first).
  it('duplicate entity', () => {
    expectError(
      `${user}entity user {}\n`,
      'ERROR_CODE_SCHEMA_PARSE',
      '2:9:duplication found for user (first declared as an entity at 1:9)',
    );
  });
  it('duplicate member', () => {
    expectError(
      `${user}entity doc {\n    relation view @user\n    permission view = view\n}\n`,
      'ERROR_CODE_SCHEMA_PARSE',
      '4:17:duplication found for doc#view (first declared as a relation at 3:15)',
    );
  });
  it('digits in names', () => {
    expectError(
      `${user}entity doc {\n    relation owner2 @user\n}\n`,
      'ERROR_CODE_SCHEMA_PARSE',
      '3:21:expected next token to be SIGN, got INTEGER instead',
    );
  });
  it('reserved word as a name', () => {
    expectError(
      `${user}entity doc {\n    relation in @user\n}\n`,
      'ERROR_CODE_SCHEMA_PARSE',
      '3:17:expected next token to be IDENT, got IN instead',
    );
  });
  it('leading not', () => {
    expectError(
      `${user}entity doc {\n    relation banned @user\n    permission view = not banned\n}\n`,
      'ERROR_CODE_SCHEMA_PARSE',
      '4:34:no prefix parse function for NOT found',
    );
  });
  it('operator at the start of a line', () => {
    expectError(
      `${user}entity doc {\n    relation a @user\n    relation b @user\n    permission view = a\n        or b\n}\n`,
      'ERROR_CODE_SCHEMA_PARSE',
      '6:14:expected token to be RELATION, PERMISSION, ATTRIBUTE, got OR instead',
    );
  });
  it('empty schema and rules only', () => {
    expectError('', 'ERROR_CODE_NO_ENTITY_REFERENCES_FOUND_IN_SCHEMA', '1:1: no entity references found in schema');
    expectError(
      'rule r(x integer) {\n    x > 1\n}\n',
      'ERROR_CODE_NO_ENTITY_REFERENCES_FOUND_IN_SCHEMA',
      '1:1: no entity references found in schema',
    );
  });
});

describe('duplicate declarations point at the second one and name the first', () => {
  const doc = (members: string) => `${user}entity doc {\n${members}}\n`;
  it('relation declared twice (last member before the closing brace)', () => {
    expectError(
      doc('    relation owner @user\n    relation editor @user\n    relation owner @user\n'),
      'ERROR_CODE_SCHEMA_PARSE',
      '5:15:duplication found for doc#owner (first declared as a relation at 3:15)',
    );
  });
  it('attribute, permission and action declared twice', () => {
    expectError(
      doc('    attribute level integer\n    attribute level double\n'),
      'ERROR_CODE_SCHEMA_PARSE',
      '4:16:duplication found for doc#level (first declared as an attribute at 3:16)',
    );
    expectError(
      doc('    relation owner @user\n    permission view = owner\n    action view = owner\n'),
      'ERROR_CODE_SCHEMA_PARSE',
      '5:13:duplication found for doc#view (first declared as a permission at 4:17)',
    );
  });
  it('a name declared as a permission and then as a relation or attribute', () => {
    expectError(
      doc('    relation owner @user\n    permission owned = owner\n    relation owned @user\n'),
      'ERROR_CODE_SCHEMA_PARSE',
      '5:15:duplication found for doc#owned (first declared as a permission at 4:17)',
    );
    expectError(
      doc('    relation owner @user\n    attribute owner boolean\n'),
      'ERROR_CODE_SCHEMA_PARSE',
      '4:16:duplication found for doc#owner (first declared as a relation at 3:15)',
    );
  });
  it('rules, and an entity and a rule sharing a name', () => {
    const rule = (name: string) => `rule ${name}(x integer) {\n    x > 1\n}\n`;
    expectError(
      `${user}${rule('high')}${rule('high')}`,
      'ERROR_CODE_SCHEMA_PARSE',
      '5:7:duplication found for high (first declared as a rule at 2:7)',
    );
    expectError(
      `${rule('user')}${user}`,
      'ERROR_CODE_SCHEMA_PARSE',
      '4:9:duplication found for user (first declared as a rule at 1:7)',
    );
    expectError(
      `${user}${rule('user')}`,
      'ERROR_CODE_SCHEMA_PARSE',
      '2:7:duplication found for user (first declared as an entity at 1:9)',
    );
  });
  it('the same member name in different entities is fine', () => {
    expect(
      compileSchema(`${user}entity a {\n    relation owner @user\n}\nentity b {\n    relation owner @user\n}\n`)
        .entities.size,
    ).toBe(3);
  });
});
