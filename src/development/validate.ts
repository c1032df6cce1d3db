/**
 * `permify validate`: runs a validation file (spec §7.2) against a private in-memory store and engine and
 * prints exactly the upstream report lines through `out`.
 *
 * Fatal problems (schema fetch/parse/compile errors, a relationship or attribute that parses but fails schema
 * validation) are thrown as {@link PermifyError} and stop the run; everything else is recorded as a failure
 * and reported at the end.
 *
 * Deliberate decision (issue 3): an assertion naming something that is neither a permission, relation,
 * attribute nor rule of the queried entity type (Permify's own facebook-groups.yaml ends one `assertions`
 * map with a stray empty `checks:` key) is reported as a WARNING naming the scenario and the name, and is
 * skipped; it does not fail the run. Upstream would send it to the engine, where it is an error.
 */
import type { Attribute, Entity, RequestContext, Subject, Tuple } from '../data/types.js';
import type { PermissionEngine } from '../engine/types.js';
import { isPermifyError, PermifyError } from '../errors.js';
import type { Schema } from '../schema/model.js';
import { createMemorySandbox, defaultNotation } from './toolkit.js';
import {
  effectiveDepth,
  MIN_VALIDATION_DEPTH,
  type ValidationContext,
  type LoadedValidationFile,
  type ValidationScenario,
} from './validation-file.js';

/** The string notations the runner needs (src/data/notation.ts). Each throws on malformed input. */
export interface ValidationNotation {
  parseTuple(text: string): Tuple;
  parseAttribute(text: string): Attribute;
  parseEntity(text: string): Entity;
  parseSubject(text: string): Subject;
  parseRelationReference(text: string): { type: string; relation: string };
}

/** A private tenant with a compiled schema, a store to write into and an engine reading it. */
export interface ValidationSandbox {
  readonly schema: Schema;
  readonly tenantId: string;
  readonly schemaVersion: string;
  readonly engine: PermissionEngine;
  /** Validates against the schema (throws PermifyError on a violation) without writing. */
  validateTuple(tuple: Tuple): void;
  validateAttribute(attribute: Attribute): void;
  writeTuple(tuple: Tuple): Promise<void>;
  writeAttribute(attribute: Attribute): Promise<void>;
  close(): Promise<void>;
}

/** Builds a sandbox from schema text; throws PermifyError (fatal) when the schema does not compile. */
export type SandboxFactory = (schemaText: string) => Promise<ValidationSandbox>;

export interface RunValidationOptions {
  readonly out: (line: string) => void;
  /** Default: a private in-memory store and engine ({@link createMemorySandbox}). */
  readonly createSandbox?: SandboxFactory;
  /** Default: src/data/notation.ts. */
  readonly notation?: ValidationNotation;
  readonly signal?: AbortSignal;
  /** Called with the file's YAML path of each item before it is processed (error locations). */
  readonly onItem?: (path: readonly (string | number)[]) => void;
}

export interface ValidationResult {
  /** Recorded failures, as upstream words them (before the `fail: ` lower-casing). */
  readonly failures: readonly string[];
  readonly warnings: readonly string[];
  /** The compiled schema of the file (coverage uses it). */
  readonly schema: Schema;
}

/** Page size used when following LookupEntity / LookupSubject continuation tokens. */
const LOOKUP_PAGE_SIZE = 1000;
/** Guards against a misbehaving engine handing out tokens forever. */
const MAX_LOOKUP_PAGES = 100_000;

/** Upstream's rendering of an error inside a line: `ERROR_CODE_` stripped, `_` -> space, lower-cased. */
export function validationErrorText(message: string): string {
  return message.replaceAll('ERROR_CODE_', '').replaceAll('_', ' ').toLowerCase();
}

function errorMessage(e: unknown): string {
  if (isPermifyError(e)) return e.message === '' ? e.code : e.message;
  return e instanceof Error ? e.message : String(e);
}

/** Go's `%v` of a string slice: `[a b c]`. */
export function goList(items: readonly string[]): string {
  return `[${items.join(' ')}]`;
}

function sameMultiset(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const x = [...a].sort();
  const y = [...b].sort();
  return x.every((v, i) => v === y[i]);
}

function subjectToString(s: Subject): string {
  return s.relation === '' ? `${s.type}:${s.id}` : `${s.type}:${s.id}#${s.relation}`;
}

function entityToString(e: Entity): string {
  return `${e.type}:${e.id}`;
}

/** True when `name` is a member (permission, relation, attribute) of `entityType` or a rule of the schema. */
function isKnownName(schema: Schema, entityType: string, name: string): boolean {
  const entity = schema.entities.get(entityType);
  if (entity === undefined) return true; // an unknown entity type is the engine's error to report
  return entity.references.has(name) || schema.rules.has(name);
}

/**
 * Runs one loaded validation file. Resolves with the recorded failures and warnings (the caller decides the
 * exit code: 1 when `failures` is non-empty).
 * @throws PermifyError for fatal errors (the CLI prints `Error: <message>` and exits 1).
 */
export async function runValidation(
  loaded: LoadedValidationFile,
  options: RunValidationOptions,
): Promise<ValidationResult> {
  const out = options.out;
  const notation = options.notation ?? defaultNotation;
  const failures: string[] = [];
  const warnings: string[] = [];
  const file = loaded.file;

  out('schema is creating... 🚀');
  const sandbox = await (options.createSandbox ?? createMemorySandbox)(loaded.schemaText);
  try {
    out('  success');

    out('relationships are creating... 🚀');
    for (const [index, text] of file.relationships.entries()) {
      options.onItem?.(['relationships', index]);
      let tuple: Tuple;
      try {
        tuple = notation.parseTuple(text);
      } catch (e) {
        failures.push(errorMessage(e));
        continue;
      }
      sandbox.validateTuple(tuple);
      try {
        await sandbox.writeTuple(tuple);
      } catch (e) {
        failures.push(`${text} failed ${errorMessage(e)}`);
        out(`fail: ${text} failed ${validationErrorText(errorMessage(e))}`);
        continue;
      }
      out(`  success: ${text} `);
    }

    out('attributes are creating... 🚀');
    for (const [index, text] of file.attributes.entries()) {
      options.onItem?.(['attributes', index]);
      let attribute: Attribute;
      try {
        attribute = notation.parseAttribute(text);
      } catch (e) {
        failures.push(errorMessage(e));
        continue;
      }
      sandbox.validateAttribute(attribute);
      try {
        await sandbox.writeAttribute(attribute);
      } catch (e) {
        failures.push(`${text} failed ${errorMessage(e)}`);
        out(`fail: ${text} failed ${validationErrorText(errorMessage(e))}`);
        continue;
      }
      out(`  success: ${text} `);
    }

    out('checking scenarios... 🚀');
    for (const [index, scenario] of file.scenarios.entries()) {
      out(`${index + 1}.scenario: ${scenario.name} - ${scenario.description}`);
      options.onItem?.(['scenarios', index]);
      await runScenario(scenario, sandbox, options, failures, warnings);
    }
  } finally {
    await sandbox.close();
  }

  if (warnings.length > 0) {
    out('warnings:');
    for (const w of warnings) out(`warning: ${w}`);
  }
  if (failures.length > 0) {
    out('fails:');
    for (const f of failures) out(validationErrorText(`fail: ${f}`));
    out('FAILED');
  } else {
    out('schema successfully created');
    out('relationships successfully created');
    out('assertions successfully passed');
    out('SUCCESS');
  }
  return { failures, warnings, schema: sandbox.schema };
}

function parseContext(context: ValidationContext, notation: ValidationNotation): RequestContext {
  return {
    tuples: context.tuples.map((t) => notation.parseTuple(t)),
    attributes: context.attributes.map((a) => notation.parseAttribute(a)),
    data: context.data,
  };
}

async function runScenario(
  scenario: ValidationScenario,
  sandbox: ValidationSandbox,
  options: RunValidationOptions,
  failures: string[],
  warnings: string[],
): Promise<void> {
  const { out, signal } = options;
  const notation = options.notation ?? defaultNotation;
  const { engine, tenantId, schemaVersion, schema } = sandbox;
  const unknownName = (query: string, entityType: string, name: string): void => {
    const message = `scenario "${scenario.name}": "${name}" is not a permission, relation, attribute or rule of entity type "${entityType}"; assertion skipped`;
    warnings.push(message);
    out(`    warning: ${query} -> not a permission, relation, attribute or rule of "${entityType}"; skipped`);
  };
  const badDepth = (query: string): void => {
    const message = `${query} -> depth must be greater than or equal to ${MIN_VALIDATION_DEPTH}`;
    failures.push(message);
    out(`    fail: ${message}`);
  };
  const queryError = (query: string, e: unknown): void => {
    failures.push(`${query} -> ${errorMessage(e)}`);
    out(`    fail: ${query} -> ${validationErrorText(errorMessage(e))}`);
  };

  out('  checks:');
  for (const check of scenario.checks) {
    let entity: Entity;
    let subject: Subject;
    let context: RequestContext;
    try {
      entity = notation.parseEntity(check.entity);
      subject = notation.parseSubject(check.subject);
      context = parseContext(check.context, notation);
    } catch (e) {
      failures.push(errorMessage(e));
      continue;
    }
    const depth = effectiveDepth(check.depth);
    for (const assertion of check.assertions) {
      const query = `${subjectToString(subject)} ${assertion.name} ${entityToString(entity)}`;
      if (depth < MIN_VALIDATION_DEPTH) {
        badDepth(query);
        continue;
      }
      if (!isKnownName(schema, entity.type, assertion.name)) {
        unknownName(query, entity.type, assertion.name);
        continue;
      }
      let allowed: boolean;
      try {
        const response = await engine.check(
          {
            tenantId,
            metadata: { schemaVersion, snapToken: '', depth },
            entity,
            permission: assertion.name,
            subject,
            context,
          },
          signal,
        );
        allowed = response.can === 'allowed';
      } catch (e) {
        queryError(query, e);
        continue;
      }
      if (allowed === assertion.expected) {
        out(`    success: ${query} `);
      } else {
        const text = assertion.expected ? 'expected: ALLOWED actual: DENIED ' : 'expected: DENIED actual: ALLOWED ';
        out(`    fail: ${query} ->  ${text}`);
        failures.push(`${query} -> ${text}`);
      }
    }
  }

  out('  entity_filters:');
  for (const filter of scenario.entityFilters) {
    let subject: Subject;
    let context: RequestContext;
    try {
      subject = notation.parseSubject(filter.subject);
      context = parseContext(filter.context, notation);
    } catch (e) {
      failures.push(errorMessage(e));
      continue;
    }
    const depth = effectiveDepth(filter.depth);
    for (const assertion of filter.assertions) {
      const query = `${subjectToString(subject)} ${assertion.name} ${filter.entityType}`;
      if (depth < MIN_VALIDATION_DEPTH) {
        badDepth(query);
        continue;
      }
      if (!isKnownName(schema, filter.entityType, assertion.name)) {
        unknownName(query, filter.entityType, assertion.name);
        continue;
      }
      let actual: string[];
      try {
        actual = await collectPages(async (token) => {
          const r = await engine.lookupEntity(
            {
              tenantId,
              metadata: { schemaVersion, snapToken: '', depth },
              entityType: filter.entityType,
              permission: assertion.name,
              subject,
              context,
              pageSize: LOOKUP_PAGE_SIZE,
              continuousToken: token,
            },
            signal,
          );
          return { ids: r.entityIds, token: r.continuousToken };
        });
      } catch (e) {
        queryError(query, e);
        continue;
      }
      reportList(query, assertion.expected, actual, out, failures);
    }
  }

  out('  subject_filters:');
  for (const filter of scenario.subjectFilters) {
    let entity: Entity;
    let reference: { type: string; relation: string };
    let context: RequestContext;
    try {
      reference = notation.parseRelationReference(filter.subjectReference);
      entity = notation.parseEntity(filter.entity);
      context = parseContext(filter.context, notation);
    } catch (e) {
      failures.push(errorMessage(e));
      continue;
    }
    const depth = effectiveDepth(filter.depth);
    for (const assertion of filter.assertions) {
      const query = `${entityToString(entity)} ${assertion.name} ${filter.subjectReference}`;
      if (depth < MIN_VALIDATION_DEPTH) {
        badDepth(query);
        continue;
      }
      if (!isKnownName(schema, entity.type, assertion.name)) {
        unknownName(query, entity.type, assertion.name);
        continue;
      }
      let actual: string[];
      try {
        actual = await collectPages(async (token) => {
          const r = await engine.lookupSubject(
            {
              tenantId,
              metadata: { schemaVersion, snapToken: '', depth },
              entity,
              permission: assertion.name,
              subjectReference: reference,
              context,
              pageSize: LOOKUP_PAGE_SIZE,
              continuousToken: token,
            },
            signal,
          );
          return { ids: r.subjectIds, token: r.continuousToken };
        });
      } catch (e) {
        queryError(query, e);
        continue;
      }
      reportList(query, assertion.expected, actual, out, failures);
    }
  }
}

function reportList(
  query: string,
  expected: readonly string[],
  actual: readonly string[],
  out: (line: string) => void,
  failures: string[],
): void {
  if (sameMultiset(expected, actual)) {
    out(`    success: ${query}`);
    return;
  }
  const text = `${query} -> expected: ${goList(expected)} actual: ${goList(actual)}`;
  out(`    fail: ${text}`);
  failures.push(text);
}

/** Follows continuation tokens until the engine returns an empty one. */
export async function collectPages(
  page: (token: string) => Promise<{ ids: readonly string[]; token: string }>,
): Promise<string[]> {
  const all: string[] = [];
  let token = '';
  for (let i = 0; i < MAX_LOOKUP_PAGES; i++) {
    const r = await page(token);
    all.push(...r.ids);
    if (r.token === '') return all;
    if (r.token === token) {
      throw new PermifyError('ERROR_CODE_INTERNAL', 'lookup returned the same continuation token twice');
    }
    token = r.token;
  }
  throw new PermifyError('ERROR_CODE_INTERNAL', `lookup did not finish within ${MAX_LOOKUP_PAGES} pages`, {
    details: { limit: 'MAX_LOOKUP_PAGES' },
  });
}
