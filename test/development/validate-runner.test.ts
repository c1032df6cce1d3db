/**
 * The validate runner's control flow and exact wording, driven by a scripted engine (no real schema compiler
 * or engine involved): depth rules, warnings for unknown names, error lines, list formatting, the summary.
 * The end-to-end behaviour with the real engine is covered by validate-files.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { Attribute, Entity, Subject, Tuple } from '../../src/data/types.js';
import type { PermissionEngine } from '../../src/engine/types.js';
import { PermifyError } from '../../src/errors.js';
import type { EntityDefinition, Schema } from '../../src/schema/model.js';
import { runValidation, type ValidationNotation, type ValidationSandbox } from '../../src/development/validate.js';
import { decodeValidationFile } from '../../src/development/validation-file.js';

function entity(text: string): Entity {
  const parts = text.split(':');
  if (parts.length !== 2 || parts.some((p) => p === '')) throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', 'invalid entity');
  return { type: parts[0] as string, id: parts[1] as string };
}
function subject(text: string): Subject {
  const [e, relation = ''] = text.split('#');
  return { ...entity(e as string), relation };
}
const notation: ValidationNotation = {
  parseTuple(text: string): Tuple {
    const sides = text.split('@');
    if (sides.length !== 2) throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', 'invalid tuple');
    const [e, relation = ''] = (sides[0] as string).split('#');
    return { entity: entity(e as string), relation, subject: subject(sides[1] as string) };
  },
  parseAttribute(text: string): Attribute {
    const [left, value] = text.split('|');
    const [e, name] = (left ?? '').split('$');
    if (value === undefined || name === undefined) throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', 'invalid attribute');
    return { entity: entity(e as string), attribute: name, value: { type: 'boolean', value: value.endsWith('true') } };
  },
  parseEntity: entity,
  parseSubject: subject,
  parseRelationReference(text: string) {
    const [type = '', relation = ''] = text.split('#');
    return { type, relation };
  },
};

function definition(name: string, relations: string[], permissions: string[]): EntityDefinition {
  return {
    name,
    relations: new Map(relations.map((r) => [r, { name: r, references: [{ type: 'user', relation: '' }] }])),
    attributes: new Map(),
    permissions: new Map(
      permissions.map((p) => [p, { name: p, isAction: false, child: { kind: 'computed-user-set', relation: relations[0] ?? '' } }]),
    ),
    references: new Map([
      ...relations.map((r) => [r, 'relation'] as const),
      ...permissions.map((p) => [p, 'permission'] as const),
    ]),
    memberOrder: [...relations, ...permissions],
  };
}
const schema: Schema = {
  entities: new Map([
    ['user', definition('user', [], [])],
    ['doc', definition('doc', ['viewer'], ['view', 'broken'])],
  ]),
  rules: new Map(),
  references: new Map([
    ['user', 'entity'],
    ['doc', 'entity'],
  ]),
};

/** Allowed iff a written tuple doc:X#viewer@user:Y exists; `broken` always errors. */
function sandboxFactory(options: { rejectTuple?: string; failWrite?: string } = {}) {
  const written: Tuple[] = [];
  const engine: Partial<PermissionEngine> = {
    async check(request) {
      if (request.permission === 'broken') throw new PermifyError('ERROR_CODE_DEPTH_NOT_ENOUGH');
      const hit = [...written, ...(request.context?.tuples ?? [])].some(
        (t) => t.entity.id === request.entity.id && t.subject.id === request.subject.id,
      );
      return { can: hit ? 'allowed' : 'denied', metadata: { checkCount: 1 } };
    },
    async lookupEntity(request) {
      // Two pages to prove that tokens are followed.
      const ids = [...new Set(written.filter((t) => t.subject.id === request.subject.id).map((t) => t.entity.id))].sort();
      const start = request.continuousToken === '' || request.continuousToken === undefined ? 0 : Number(request.continuousToken);
      const page = ids.slice(start, start + 1);
      return { entityIds: page, continuousToken: start + 1 < ids.length ? String(start + 1) : '' };
    },
    async lookupSubject(request) {
      const ids = written.filter((t) => t.entity.id === request.entity.id).map((t) => t.subject.id);
      return { subjectIds: [...new Set(ids)].sort(), continuousToken: '' };
    },
  };
  let closed = 0;
  const factory = async (): Promise<ValidationSandbox> => ({
    schema,
    tenantId: 't1',
    schemaVersion: 'v1',
    engine: engine as PermissionEngine,
    validateTuple(t) {
      if (`${t.entity.type}:${t.entity.id}#${t.relation}` === options.rejectTuple) throw new PermifyError('ERROR_CODE_SUBJECT_TYPE_NOT_FOUND');
    },
    validateAttribute() {},
    async writeTuple(t) {
      if (`${t.entity.type}:${t.entity.id}#${t.relation}` === options.failWrite) throw new PermifyError('ERROR_CODE_UNIQUE_CONSTRAINT');
      written.push(t);
    },
    async writeAttribute() {},
    async close() {
      closed++;
    },
  });
  return { factory, closed: () => closed };
}

async function run(yaml: string, options?: Parameters<typeof sandboxFactory>[0]) {
  const lines: string[] = [];
  const { factory, closed } = sandboxFactory(options);
  const result = await runValidation(
    { file: decodeValidationFile(yaml), schemaText: 'entity user {}', origin: 'x.yaml' },
    { out: (l) => lines.push(l), createSandbox: factory, notation },
  );
  return { lines, result, closed: closed() };
}

describe('runValidation (scripted engine)', () => {
  it('prints the success report', async () => {
    const { lines, result, closed } = await run(`
relationships:
  - doc:1#viewer@user:ann
  - doc:2#viewer@user:ann
scenarios:
  - name: s1
    description: d1
    checks:
      - entity: doc:1
        subject: user:ann
        assertions:
          view: true
          viewer: true
      - entity: doc:9
        subject: user:ann
        context:
          tuples: ["doc:9#viewer@user:ann"]
        assertions:
          view: true
    entity_filters:
      - entity_type: doc
        subject: user:ann
        assertions:
          view: ["2", "1"]
    subject_filters:
      - subject_reference: user
        entity: doc:1
        assertions:
          view: [ann]
`);
    expect(result.failures).toEqual([]);
    expect(closed).toBe(1);
    expect(lines).toEqual([
      'schema is creating... 🚀',
      '  success',
      'relationships are creating... 🚀',
      '  success: doc:1#viewer@user:ann ',
      '  success: doc:2#viewer@user:ann ',
      'attributes are creating... 🚀',
      'checking scenarios... 🚀',
      '1.scenario: s1 - d1',
      '  checks:',
      '    success: user:ann view doc:1 ',
      '    success: user:ann viewer doc:1 ',
      '    success: user:ann view doc:9 ',
      '  entity_filters:',
      '    success: user:ann view doc',
      '  subject_filters:',
      '    success: doc:1 view user',
      'schema successfully created',
      'relationships successfully created',
      'assertions successfully passed',
      'SUCCESS',
    ]);
  });

  it('records mismatches, errors, bad depth and unparsable strings; warns on unknown names', async () => {
    const { lines, result } = await run(`
relationships:
  - doc:1#viewer@user:ann
  - not-a-tuple
attributes:
  - doc:1$flag
scenarios:
  - name: my_scenario
    description: d
    checks:
      - entity: doc:1
        subject: user:bo
        depth: 2
        assertions:
          view: false
      - entity: doc:1
        subject: user:bo
        assertions:
          view: true
          broken: true
          no_such_name: false
      - entity: doc:1
        subject: user:ann
        depth: 3
        assertions:
          view: false
      - entity: "doc"
        subject: user:ann
        assertions:
          view: true
    entity_filters:
      - entity_type: doc
        subject: user:ann
        assertions:
          view: ["1", "3"]
    subject_filters:
      - subject_reference: user
        entity: doc:1
        depth: 1
        assertions:
          view: []
`);
    expect(lines.slice(lines.indexOf('checking scenarios... 🚀'))).toEqual([
      'checking scenarios... 🚀',
      '1.scenario: my_scenario - d',
      '  checks:',
      '    fail: user:bo view doc:1 -> depth must be greater than or equal to 3',
      '    fail: user:bo view doc:1 ->  expected: ALLOWED actual: DENIED ',
      '    fail: user:bo broken doc:1 -> depth not enough',
      '    warning: user:bo no_such_name doc:1 -> not a permission, relation, attribute or rule of "doc"; skipped',
      '    fail: user:ann view doc:1 ->  expected: DENIED actual: ALLOWED ',
      '  entity_filters:',
      '    fail: user:ann view doc -> expected: [1 3] actual: [1]',
      '  subject_filters:',
      '    fail: doc:1 view user -> depth must be greater than or equal to 3',
      'warnings:',
      'warning: scenario "my_scenario": "no_such_name" is not a permission, relation, attribute or rule of entity type "doc"; assertion skipped',
      'fails:',
      'fail: invalid tuple',
      'fail: invalid attribute',
      'fail: user:bo view doc:1 -> depth must be greater than or equal to 3',
      'fail: user:bo view doc:1 -> expected: allowed actual: denied ',
      'fail: user:bo broken doc:1 -> depth not enough',
      'fail: user:ann view doc:1 -> expected: denied actual: allowed ',
      'fail: invalid entity',
      'fail: user:ann view doc -> expected: [1 3] actual: [1]',
      'fail: doc:1 view user -> depth must be greater than or equal to 3',
      'FAILED',
    ]);
    expect(result.failures).toHaveLength(9);
    expect(result.warnings).toHaveLength(1);
  });

  it('passes with only a warning (the facebook-groups stray key)', async () => {
    const { lines, result } = await run(`
scenarios:
  - name: s
    description: d
    checks:
      - entity: doc:1
        subject: user:ann
        assertions:
          view: false
          checks:
`);
    expect(result.failures).toEqual([]);
    expect(result.warnings).toEqual([
      'scenario "s": "checks" is not a permission, relation, attribute or rule of entity type "doc"; assertion skipped',
    ]);
    expect(lines.slice(-6)).toEqual([
      'warnings:',
      'warning: scenario "s": "checks" is not a permission, relation, attribute or rule of entity type "doc"; assertion skipped',
      'schema successfully created',
      'relationships successfully created',
      'assertions successfully passed',
      'SUCCESS',
    ]);
  });

  it('aborts on a tuple failing schema validation, and still closes the sandbox', async () => {
    const lines: string[] = [];
    const { factory, closed } = sandboxFactory({ rejectTuple: 'doc:2#viewer' });
    await expect(
      runValidation(
        { file: decodeValidationFile('relationships:\n  - doc:1#viewer@user:a\n  - doc:2#viewer@user:a\n  - doc:3#viewer@user:a\n'), schemaText: 's', origin: 'x' },
        { out: (l) => lines.push(l), createSandbox: factory, notation },
      ),
    ).rejects.toMatchObject({ code: 'ERROR_CODE_SUBJECT_TYPE_NOT_FOUND' });
    expect(lines.at(-1)).toBe('  success: doc:1#viewer@user:a ');
    expect(closed()).toBe(1);
  });

  it('records a failed write with the upstream wording', async () => {
    const { lines, result } = await run('relationships:\n  - doc:1#viewer@user:a\n', { failWrite: 'doc:1#viewer' });
    expect(lines).toContain('fail: doc:1#viewer@user:a failed unique constraint');
    expect(result.failures).toEqual(['doc:1#viewer@user:a failed ERROR_CODE_UNIQUE_CONSTRAINT']);
  });
});
