import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { EntityDefinition, RelationReference, Schema } from '../../src/schema/model.js';
import {
  checkCoverageThresholds,
  computeCoverage,
  formatCoverage,
  formatCoverageTotals,
} from '../../src/development/coverage.js';
import { decodeValidationFile } from '../../src/development/validation-file.js';

/** A compiled-model stand-in: coverage reads only names, references and declaration order. */
function definition(
  name: string,
  relations: Array<[string, RelationReference[]]>,
  permissions: string[],
  attributes: string[] = [],
): EntityDefinition {
  return {
    name,
    relations: new Map(relations.map(([r, references]) => [r, { name: r, references }])),
    attributes: new Map(attributes.map((a) => [a, { name: a, type: 'boolean' as const }])),
    permissions: new Map(
      permissions.map((p) => [
        p,
        { name: p, isAction: false, child: { kind: 'computed-user-set' as const, relation: 'x' } },
      ]),
    ),
    references: new Map([
      ...relations.map(([r]) => [r, 'relation'] as const),
      ...attributes.map((a) => [a, 'attribute'] as const),
      ...permissions.map((p) => [p, 'permission'] as const),
    ]),
    memberOrder: [...relations.map(([r]) => r), ...attributes, ...permissions],
  };
}
const u = (type: string, relation = ''): RelationReference => ({ type, relation });

/** The schema of spec §8.7. */
const schema87: Schema = {
  entities: new Map([
    ['user', definition('user', [], [])],
    [
      'company',
      definition(
        'company',
        [
          ['boss', [u('user')]],
          ['staff', [u('user')]],
        ],
        ['open_project', 'close'],
      ),
    ],
    [
      'project',
      definition(
        'project',
        [
          ['lead', [u('user'), u('company', 'staff')]],
          ['company', [u('company')]],
        ],
        ['commit', 'audit', 'archive', 'review'],
      ),
    ],
  ]),
  rules: new Map(),
  references: new Map([
    ['user', 'entity'],
    ['company', 'entity'],
    ['project', 'entity'],
  ]),
};

const file87 = readFileSync(new URL('./fixtures/spec-8.7.yaml', import.meta.url), 'utf8');

describe('coverage (spec §8.7)', () => {
  const report = computeCoverage(schema87, decodeValidationFile(file87));

  it('prints the report of §8.7 exactly', () => {
    expect(formatCoverage(report)).toEqual([
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
    ]);
  });

  it('computes the totals and the threshold verdicts', () => {
    expect(report.totals).toEqual({ relationships: 77, attributes: 100, assertions: 50 });
    expect(formatCoverageTotals(report.totals)).toBe(
      'total coverage: relationships 77%, attributes 100%, assertions 50%',
    );
    expect(checkCoverageThresholds(report.totals, {})).toBeUndefined();
    expect(checkCoverageThresholds(report.totals, { assertions: 60 })).toBe('assertions coverage < 60%');
    expect(checkCoverageThresholds(report.totals, { assertions: 50, relationships: 78 })).toBe(
      'relationships coverage < 78%',
    );
    // Order: assertions are reported before relationships even when both fail.
    expect(checkCoverageThresholds(report.totals, { assertions: 90, relationships: 90, attributes: 100 })).toBe(
      'assertions coverage < 90%',
    );
    expect(checkCoverageThresholds({ relationships: 100, attributes: 40, assertions: 100 }, { attributes: 41 })).toBe(
      'attributes coverage < 41%',
    );
  });
});

describe('coverage details', () => {
  const schema: Schema = {
    entities: new Map([
      ['user', definition('user', [], [])],
      ['doc', definition('doc', [['viewer', [u('user'), u('team', 'member')]]], ['view'], ['public', 'level'])],
      ['team', definition('team', [['member', [u('user')]]], [])],
    ]),
    rules: new Map(),
    references: new Map(),
  };

  it('counts attributes, userset subjects, entity filters but never subject filters', () => {
    const file = decodeValidationFile(`
relationships:
  - doc:1#viewer@team:1#member
  - broken tuple
attributes:
  - doc:1$public|boolean:true
  - broken
scenarios:
  - name: a
    subject_filters:
      - subject_reference: user
        entity: doc:1
        assertions:
          view: []
  - name: b
    entity_filters:
      - entity_type: doc
        subject: user:1
        assertions:
          view: []
`);
    const r = computeCoverage(schema, file);
    const doc = r.entities.find((e) => e.entity === 'doc');
    expect(doc?.uncoveredRelationships).toEqual(['doc#viewer@user']);
    expect(doc?.relationshipsPercent).toBe(50);
    expect(doc?.uncoveredAttributes).toEqual(['doc#level']);
    expect(doc?.attributesPercent).toBe(50);
    expect(doc?.assertions).toEqual([
      { scenario: 'a', uncovered: ['doc#view'], percent: 0 },
      { scenario: 'b', uncovered: [], percent: 100 },
    ]);
    // team: relationships 0% (member@user not written); user: 100%.
    expect(r.totals.relationships).toBe(Math.floor((100 + 50 + 0) / 3));
    // Pairs: (user,a)=100 (user,b)=100 (doc,a)=0 (doc,b)=100 (team,a)=100 (team,b)=100.
    expect(r.totals.assertions).toBe(83);
  });

  it('reports 100% everywhere when there is nothing to cover', () => {
    const r = computeCoverage(
      { entities: new Map([['user', definition('user', [], [])]]), rules: new Map(), references: new Map() },
      decodeValidationFile(''),
    );
    expect(r.totals).toEqual({ relationships: 100, attributes: 100, assertions: 100 });
  });
});
