/**
 * `permify validate` / `permify coverage` end to end with the real compiler, memory store and engine:
 * every public conformance file passes (in-process, and once through the CLI as a child process), and failing
 * files produce the exact report and exit code.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { coverageCommand, validateCommand } from '../../src/development/commands.js';
import { createDefaultToolkit } from '../../src/development/toolkit.js';
import { runValidation } from '../../src/development/validate.js';
import { loadValidationFile } from '../../src/development/validation-file.js';

const PUBLIC = '/work/shared/conformance/public';
const publicFiles = readdirSync(PUBLIC)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));

async function validate(...files: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await validateCommand(
    files,
    { out: (l) => out.push(l), err: (l) => err.push(l) },
    createDefaultToolkit(),
  );
  return { code, out, err };
}

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('public conformance files', () => {
  it.each(publicFiles)('%s validates in-process', async (name) => {
    const r = await validate(join(PUBLIC, name));
    expect(r.err).toEqual([]);
    expect(r.out.filter((l) => l.trimStart().startsWith('fail'))).toEqual([]);
    expect(r.out.at(-1)).toBe('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('facebook-groups.yaml: the stray `checks:` key is a warning naming the scenario', async () => {
    const r = await validate(join(PUBLIC, 'facebook-groups.yaml'));
    expect(r.out).toContain(
      '    warning: user:2 checks group:1 -> not a permission, relation, attribute or rule of "group"; skipped',
    );
    expect(r.out).toContain(
      'warning: scenario "Admin Interactions for user:2 in group:1": "checks" is not a permission, relation, attribute or rule of entity type "group"; assertion skipped',
    );
    expect(r.code).toBe(0);
  });

  it('all files pass through the CLI entry in one child process', () => {
    const r = cli('validate', ...publicFiles.map((f) => join(PUBLIC, f)));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const summary = r.stdout.split('\n').slice(r.stdout.split('\n').indexOf('summary:') + 1, -1);
    expect(summary).toEqual(
      publicFiles.map((f) => `  ${join(PUBLIC, f)}: SUCCESS${f === 'facebook-groups.yaml' ? ' (1 warning)' : ''}`),
    );
  });
});

describe('spec §8.7', () => {
  const expected87 = [
    'schema is creating... 🚀',
    '  success',
    'relationships are creating... 🚀',
    '  success: company:c1#boss@user:ann ',
    '  success: company:c1#staff@user:ann ',
    '  success: project:1#lead@user:ann ',
    '  success: project:2#lead@user:bo ',
    '  success: project:2#lead@user:cy ',
    '  success: project:1#company@company:c1#... ',
    '  success: company:c1#staff@user:dee ',
    '  success: project:1#lead@user:dee ',
    'attributes are creating... 🚀',
    'checking scenarios... 🚀',
    '1.scenario: basics - leads, staff and contextual leads',
    '  checks:',
    '    success: user:ann commit project:1 ',
    '    success: user:ann lead project:1 ',
    '    success: user:ann commit project:2 ',
    '    success: user:ann commit project:3 ',
    '    success: user:dee review project:1 ',
    '  entity_filters:',
    '    success: user:ann commit project',
    '    success: user:ann review project',
    '  subject_filters:',
    '    success: project:1 commit user',
    '    success: project:1 review user',
    'schema successfully created',
    'relationships successfully created',
    'assertions successfully passed',
    'SUCCESS',
  ];

  it('validate prints the report exactly', async () => {
    const r = await validate(fixture('spec-8.7.yaml'));
    expect(r.out).toEqual(expected87);
    expect(r.code).toBe(0);
  });

  it('runValidation with default options (memory sandbox, standard notation) gives the same report', async () => {
    const out: string[] = [];
    const result = await runValidation(await loadValidationFile(fixture('spec-8.7.yaml')), { out: (l) => out.push(l) });
    expect(out).toEqual(expected87);
    expect(result.failures).toEqual([]);
    expect([...result.schema.entities.keys()]).toEqual(['user', 'company', 'project']);
  });

  it('a wrong expectation prints the fail line and the fails block, exit 1', async () => {
    const r = await validate(fixture('spec-8.7-wrong.yaml'));
    expect(r.out).toContain('    fail: user:ann commit project:2 ->  expected: ALLOWED actual: DENIED ');
    expect(r.out.slice(-3)).toEqual([
      'fails:',
      'fail: user:ann commit project:2 -> expected: allowed actual: denied ',
      'FAILED',
    ]);
    expect(r.code).toBe(1);
  });

  it('coverage prints the §8.7 report through the CLI', () => {
    const r = cli('coverage', fixture('spec-8.7.yaml'));
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('initiating validation... 🚀');
    expect(lines.slice(1, 1 + expected87.length)).toEqual(expected87);
    expect(lines.slice(1 + expected87.length)).toEqual([
      'initiating coverage analysis... 🚀',
      'schema coverage information:',
      'entity: user',
      '  uncovered relationships:',
      '  uncovered assertions:',
      '  coverage relationships percentage: 100%',
      '  coverage attributes percentage: 100%',
      '  coverage assertions percentage: ',
      '    basics: 100%',
      'entity: company',
      '  uncovered relationships:',
      '  uncovered assertions:',
      '    basics:',
      '    \tcompany#open_project',
      '    \tcompany#close',
      '  coverage relationships percentage: 100%',
      '  coverage attributes percentage: 100%',
      '  coverage assertions percentage: ',
      '    basics: 0%',
      'entity: project',
      '  uncovered relationships:',
      '    - project#lead@company#staff',
      '    - project#company@company',
      '  uncovered assertions:',
      '    basics:',
      '    \tproject#audit',
      '    \tproject#archive',
      '  coverage relationships percentage: 33%',
      '  coverage attributes percentage: 100%',
      '  coverage assertions percentage: ',
      '    basics: 50%',
      'total coverage: relationships 77%, attributes 100%, assertions 50%',
      '',
    ]);
  });

  it('coverage below a threshold fails with exit 1', async () => {
    const out: string[] = [];
    const code = await coverageCommand(
      fixture('spec-8.7.yaml'),
      { assertions: 60 },
      { out: (l) => out.push(l), err: () => {} },
      createDefaultToolkit(),
    );
    expect(out.slice(-2)).toEqual(['assertions coverage < 60%', 'FAILED']);
    expect(code).toBe(1);
  });

  it('--threshold applies to all three totals through the CLI', () => {
    const r = cli('coverage', fixture('spec-8.7.yaml'), '--threshold', '78');
    expect(r.code).toBe(1);
    // assertions (50) are compared first.
    expect(r.stdout.trimEnd().split('\n').slice(-2)).toEqual(['assertions coverage < 78%', 'FAILED']);
    const ok = cli('coverage', fixture('spec-8.7.yaml'), '--threshold', '50', '--coverage-assertions', '40');
    expect(ok.code).toBe(0);
    const bad = cli('coverage', fixture('spec-8.7.yaml'), '--threshold', 'lots');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/expected an integer from 0 to 100/);
  });
});

describe('rule bodies taken verbatim (deliberate difference from Permify)', () => {
  it('double-quoted strings, "", one-line bodies, comments and map literals in rules validate', async () => {
    const r = await validate(fixture('rule-bodies.yaml'));
    expect(r.err).toEqual([]);
    expect(r.out.filter((l) => l.trimStart().startsWith('fail'))).toEqual([]);
    expect(r.out.filter((l) => l.startsWith('    success: '))).toHaveLength(15);
    expect(r.out.at(-1)).toBe('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('a CEL error inside a body is reported at its own line and column', async () => {
    const r = await validate(fixture('rule-body-error.yaml'));
    // Upstream's line, then where that is in the YAML file (issue 12).
    expect(r.err).toEqual([
      'Error: 10:10: unknown variable: levle',
      `  at ${fixture('rule-body-error.yaml')}:12:12 (schema line 10)`,
    ]);
    expect(r.code).toBe(1);
  });
});

describe('failing files', () => {
  it('a schema error is fatal: Error: <line>:<col>: <message>, exit 1', async () => {
    const r = await validate(fixture('schema-error.yaml'));
    expect(r.out).toEqual(['schema is creating... 🚀']);
    expect(r.err).toEqual([
      'Error: 4:33: undefined relation reference',
      `  at ${fixture('schema-error.yaml')}:5:35 (schema line 4)`,
    ]);
    expect(r.code).toBe(1);
    const c = cli('validate', fixture('schema-error.yaml'));
    expect(c.code).toBe(1);
    expect(c.stderr).toBe(
      `Error: 4:33: undefined relation reference\n  at ${fixture('schema-error.yaml')}:5:35 (schema line 4)\n`,
    );
  });

  it('a duplicate declaration is mapped to its line in the file too', async () => {
    const r = await validate(fixture('duplicate-relation.yaml'));
    expect(r.err).toEqual([
      'Error: 5:15:duplication found for doc#owner (first declared as a relation at 3:15)',
      `  at ${fixture('duplicate-relation.yaml')}:6:17 (schema line 5)`,
    ]);
    expect(r.code).toBe(1);
  });

  it('a tuple failing schema validation is fatal after the tuples before it', async () => {
    const r = await validate(fixture('bad-tuple-type.yaml'));
    expect(r.out.slice(-2)).toEqual(['relationships are creating... 🚀', '  success: doc:1#viewer@user:1 ']);
    expect(r.err).toHaveLength(2);
    expect(r.err[0]).toMatch(/^Error: .*SUBJECT_TYPE_NOT_FOUND/);
    expect(r.err[1]).toBe(`  at ${fixture('bad-tuple-type.yaml')}:12:5 (relationships[1])`);
    expect(r.code).toBe(1);
  });

  it('an attribute of the wrong type is fatal', async () => {
    const r = await validate(fixture('bad-attribute-type.yaml'));
    expect(r.err[0]).toMatch(/^Error: .*ATTRIBUTE_TYPE_MISMATCH/);
    expect(r.code).toBe(1);
  });

  it('records unparsable strings, bad depth, depth exhaustion and mismatches', async () => {
    const r = await validate(fixture('mixed-failures.yaml'));
    expect(r.code).toBe(1);
    expect(r.err).toEqual([]);
    expect(r.out.slice(r.out.indexOf('relationships are creating... 🚀'))).toEqual([
      'relationships are creating... 🚀',
      '  success: doc:1#viewer@user:ann ',
      '  success: doc:2#parent@doc:1 ',
      '  success: doc:3#parent@doc:2 ',
      '  success: doc:4#parent@doc:3 ',
      'attributes are creating... 🚀',
      'checking scenarios... 🚀',
      '1.scenario: depths - depth rules and a mismatch',
      '  checks:',
      '    fail: user:ann view doc:4 -> depth must be greater than or equal to 3',
      '    fail: user:ann view doc:4 -> depth not enough',
      '    success: user:ann view doc:4 ',
      '    fail: user:ann viewer doc:4 ->  expected: ALLOWED actual: DENIED ',
      '  entity_filters:',
      '    fail: user:ann view doc -> expected: [1 2] actual: [1 2 3 4]',
      '  subject_filters:',
      '    success: doc:2 view user',
      'fails:',
      'fail: invalid tuple: "not a tuple"',
      'fail: invalid attribute: "doc:1$missing separator"',
      'fail: user:ann view doc:4 -> depth must be greater than or equal to 3',
      'fail: user:ann view doc:4 -> depth not enough',
      'fail: user:ann viewer doc:4 -> expected: allowed actual: denied ',
      'fail: user:ann view doc -> expected: [1 2] actual: [1 2 3 4]',
      'FAILED',
    ]);
  });

  it('missing files and unknown schemes are fatal', async () => {
    const r = await validate('/nonexistent/file.yaml');
    expect(r.err).toEqual(['Error: open /nonexistent/file.yaml: no such file or directory']);
    expect(r.code).toBe(1);
    const s = await validate('ftp://example.test/x.yaml');
    expect(s.err).toEqual(['Error: unknown decoder type']);
  });
});
