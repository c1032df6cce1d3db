/**
 * The validate runner's control flow and exact wording, driven by a scripted engine (no real schema compiler
 * or engine involved): depth rules, warnings for unknown names, error lines, list formatting, the summary.
 * The end-to-end behaviour with the real engine is covered by validate-files.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { runValidation } from '../../src/development/validate.js';
import { decodeValidationFile } from '../../src/development/validation-file.js';
import { notation, sandboxFactory } from './support/scripted-toolkit.js';

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
        {
          file: decodeValidationFile(
            'relationships:\n  - doc:1#viewer@user:a\n  - doc:2#viewer@user:a\n  - doc:3#viewer@user:a\n',
          ),
          schemaText: 's',
          origin: 'x',
        },
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
