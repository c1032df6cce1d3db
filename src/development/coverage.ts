/**
 * Coverage of a validation file against its schema (spec §7.3): which relation subject types the file's
 * relationships exercise, which attributes its attributes set, and which permissions each scenario asserts.
 *
 * Items are listed in declaration order. Percentages are ⌊covered × 100 / expected⌋, 100 when nothing is
 * expected. Pure computation: needs only the compiled schema and the decoded file.
 */
import type { Schema } from '../schema/model.js';
import type { ValidationFile } from './validation-file.js';

export interface ScenarioAssertionCoverage {
  readonly scenario: string;
  readonly uncovered: readonly string[];
  readonly percent: number;
}

export interface EntityCoverage {
  readonly entity: string;
  readonly uncoveredRelationships: readonly string[];
  readonly relationshipsPercent: number;
  readonly uncoveredAttributes: readonly string[];
  readonly attributesPercent: number;
  /** One entry per scenario of the file, in file order. */
  readonly assertions: readonly ScenarioAssertionCoverage[];
}

export interface CoverageTotals {
  readonly relationships: number;
  readonly attributes: number;
  readonly assertions: number;
}

export interface CoverageReport {
  readonly entities: readonly EntityCoverage[];
  readonly totals: CoverageTotals;
}

export interface CoverageThresholds {
  readonly relationships?: number;
  readonly attributes?: number;
  readonly assertions?: number;
}

function percent(expected: number, uncovered: number): number {
  if (expected === 0) return 100;
  return Math.floor(((expected - uncovered) * 100) / expected);
}

function average(values: readonly number[]): number {
  if (values.length === 0) return 100;
  return Math.floor(values.reduce((a, b) => a + b, 0) / values.length);
}

/** The coverage key of a relationship string, `type#relation@stype[#srel]`, or undefined if unparsable. */
function relationshipKey(text: string): { entityType: string; key: string } | undefined {
  const sides = text.trim().split('@');
  if (sides.length !== 2) return undefined;
  const [object, subject] = sides.map((s) => s.trim().split('#')) as [string[], string[]];
  const entity = (object[0] ?? '').trim().split(':');
  const subjectEntity = (subject[0] ?? '').trim().split(':');
  if (entity.length !== 2 || subjectEntity.length !== 2) return undefined;
  if (entity.some((p) => p === '') || subjectEntity.some((p) => p === '')) return undefined;
  const relation = object[1] ?? '';
  const subjectRelation = subject[1] ?? '';
  const entityType = entity[0] as string;
  const suffix = subjectRelation === '' ? '' : `#${subjectRelation}`;
  return { entityType, key: `${entityType}#${relation}@${subjectEntity[0] as string}${suffix}` };
}

/** The coverage key of an attribute string, `type#attribute`, or undefined if unparsable. */
function attributeKey(text: string): { entityType: string; key: string } | undefined {
  const parts = text.trim().split('|');
  if (parts.length !== 2) return undefined;
  const left = (parts[0] as string).split('$');
  if (left.length !== 2 || left.some((p) => p === '')) return undefined;
  const entity = (left[0] as string).split(':');
  if (entity.length !== 2 || entity.some((p) => p === '')) return undefined;
  const entityType = entity[0] as string;
  return { entityType, key: `${entityType}#${left[1] as string}` };
}

function entityTypeOf(text: string): string | undefined {
  const parts = text.trim().split(':');
  if (parts.length !== 2 || parts.some((p) => p === '')) return undefined;
  return parts[0];
}

/** Computes the coverage report of `file` against `schema`. */
export function computeCoverage(schema: Schema, file: ValidationFile): CoverageReport {
  const coveredRelationships = new Set<string>();
  for (const r of file.relationships) {
    const k = relationshipKey(r);
    if (k !== undefined) coveredRelationships.add(k.key);
  }
  const coveredAttributes = new Set<string>();
  for (const a of file.attributes) {
    const k = attributeKey(a);
    if (k !== undefined) coveredAttributes.add(k.key);
  }
  const coveredAssertions = file.scenarios.map((scenario) => {
    const covered = new Set<string>();
    for (const check of scenario.checks) {
      const type = entityTypeOf(check.entity);
      if (type === undefined) continue;
      for (const a of check.assertions) covered.add(`${type}#${a.name}`);
    }
    for (const filter of scenario.entityFilters) {
      for (const a of filter.assertions) covered.add(`${filter.entityType}#${a.name}`);
    }
    return covered;
  });

  const entities: EntityCoverage[] = [];
  for (const entity of schema.entities.values()) {
    const expectedRelationships: string[] = [];
    for (const relation of entity.relations.values()) {
      for (const ref of relation.references) {
        const suffix = ref.relation === '' ? '' : `#${ref.relation}`;
        expectedRelationships.push(`${entity.name}#${relation.name}@${ref.type}${suffix}`);
      }
    }
    const uncoveredRelationships = expectedRelationships.filter((k) => !coveredRelationships.has(k));
    const expectedAttributes = [...entity.attributes.values()].map((a) => `${entity.name}#${a.name}`);
    const uncoveredAttributes = expectedAttributes.filter((k) => !coveredAttributes.has(k));
    const expectedAssertions = [...entity.permissions.values()].map((p) => `${entity.name}#${p.name}`);
    const assertions = file.scenarios.map((scenario, i) => {
      const covered = coveredAssertions[i] as Set<string>;
      const uncovered = expectedAssertions.filter((k) => !covered.has(k));
      return { scenario: scenario.name, uncovered, percent: percent(expectedAssertions.length, uncovered.length) };
    });
    entities.push({
      entity: entity.name,
      uncoveredRelationships,
      relationshipsPercent: percent(expectedRelationships.length, uncoveredRelationships.length),
      uncoveredAttributes,
      attributesPercent: percent(expectedAttributes.length, uncoveredAttributes.length),
      assertions,
    });
  }

  return {
    entities,
    totals: {
      relationships: average(entities.map((e) => e.relationshipsPercent)),
      attributes: average(entities.map((e) => e.attributesPercent)),
      assertions: average(entities.flatMap((e) => e.assertions.map((a) => a.percent))),
    },
  };
}

/** The §7.3 report lines (without the trailing total line). */
export function formatCoverage(report: CoverageReport): string[] {
  const lines = ['schema coverage information:'];
  for (const e of report.entities) {
    lines.push(`entity: ${e.entity}`);
    lines.push('  uncovered relationships:');
    for (const r of e.uncoveredRelationships) lines.push(`    - ${r}`);
    lines.push('  uncovered assertions:');
    for (const a of e.assertions) {
      if (a.uncovered.length === 0) continue;
      lines.push(`    ${a.scenario}:`);
      for (const item of a.uncovered) lines.push(`    \t${item}`);
    }
    lines.push(`  coverage relationships percentage: ${e.relationshipsPercent}%`);
    lines.push(`  coverage attributes percentage: ${e.attributesPercent}%`);
    lines.push('  coverage assertions percentage: ');
    for (const a of e.assertions) lines.push(`    ${a.scenario}: ${a.percent}%`);
  }
  return lines;
}

/** The summary line printed after the report. */
export function formatCoverageTotals(totals: CoverageTotals): string {
  return `total coverage: relationships ${totals.relationships}%, attributes ${totals.attributes}%, assertions ${totals.assertions}%`;
}

/**
 * Compares totals with thresholds in the upstream order (assertions, relationships, attributes) and returns
 * the failure line of the first total below its threshold, or undefined when all pass.
 */
export function checkCoverageThresholds(totals: CoverageTotals, thresholds: CoverageThresholds): string | undefined {
  const order = ['assertions', 'relationships', 'attributes'] as const;
  for (const kind of order) {
    const min = thresholds[kind] ?? 0;
    if (totals[kind] < min) return `${kind} coverage < ${min}%`;
  }
  return undefined;
}
