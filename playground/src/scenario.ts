/**
 * Permify validation files (the YAML `permify validate` reads: schema, relationships, attributes, scenarios
 * with checks, entity_filters and subject_filters) in the browser: parse, run every assertion through the
 * public REST API (Check, LookupEntity, LookupSubject) and export back to YAML.
 */
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { tenantPath, type ApiClient } from './api.js';
import { parseAttribute, parseEntity, parseSubject, parseSubjectReference, parseTuple } from './notation.js';

export interface ScenarioContext {
  tuples?: string[];
  attributes?: string[];
  data?: Record<string, unknown>;
}
export interface CheckSpec {
  entity: string;
  subject: string;
  context?: ScenarioContext | null;
  assertions: Record<string, boolean>;
}
export interface EntityFilterSpec {
  entity_type: string;
  subject: string;
  context?: ScenarioContext | null;
  assertions: Record<string, string[]>;
}
export interface SubjectFilterSpec {
  subject_reference: string;
  entity: string;
  context?: ScenarioContext | null;
  assertions: Record<string, string[]>;
}
export interface Scenario {
  name: string;
  description?: string;
  checks?: CheckSpec[];
  entity_filters?: EntityFilterSpec[];
  subject_filters?: SubjectFilterSpec[];
}
export interface ValidationFile {
  schema: string;
  relationships: string[];
  attributes: string[];
  scenarios: Scenario[];
}

export class ScenarioFileError extends Error {}

const asList = (v: unknown, key: string): unknown[] => {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ScenarioFileError(`${key} must be a list`);
  return v;
};

export function parseValidationFile(text: string): ValidationFile {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ScenarioFileError(`not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    throw new ScenarioFileError('a validation file is a YAML mapping');
  const d = doc as Record<string, unknown>;
  if (typeof d['schema'] !== 'string') throw new ScenarioFileError('schema must be a string');
  return {
    schema: d['schema'],
    relationships: asList(d['relationships'], 'relationships').map(String),
    attributes: asList(d['attributes'], 'attributes').map(String),
    scenarios: asList(d['scenarios'], 'scenarios') as Scenario[],
  };
}

export function exportValidationFile(file: ValidationFile): string {
  return stringifyYaml(
    { schema: file.schema, relationships: file.relationships, attributes: file.attributes, scenarios: file.scenarios },
    { lineWidth: 0, blockQuote: 'literal' },
  );
}

/** One assertion's outcome. */
export interface AssertionResult {
  scenario: string;
  /** e.g. `check document:1#view@user:1`, `entity_filter document#view@user:1`. */
  label: string;
  expected: string;
  actual: string;
  pass: boolean;
  error?: string;
  /**
   * Set when the assertion names nothing of its entity type (e.g. a stray `checks:` key read as an assertion):
   * not run, as `permify validate` skips it with a warning.
   */
  skipped?: string;
}

function contextBody(ctx: ScenarioContext | null | undefined): Record<string, unknown> {
  return {
    tuples: (ctx?.tuples ?? []).map(parseTuple),
    attributes: (ctx?.attributes ?? []).map(parseAttribute),
    data: ctx?.data ?? {},
  };
}

/** The type of `type:id` notation ('' when malformed: the query itself then reports the notation error). */
const entityTypeOf = (text: string): string => {
  try {
    return parseEntity(text).type;
  } catch {
    return '';
  }
};

const sorted = (ids: readonly string[]): string[] => [...ids].map(String).sort();

/** Writes the file's schema and data into `tenant`; returns the snap token of the data write (or ''). */
export async function loadValidationFile(
  api: ApiClient,
  tenant: string,
  file: ValidationFile,
): Promise<{ schemaVersion: string; snapToken: string }> {
  const w = await api.call<{ schema_version: string }>(tenantPath(tenant, 'schemas/write'), { schema: file.schema });
  let snapToken = '';
  const tuples = file.relationships.map(parseTuple);
  const attributes = file.attributes.map(parseAttribute);
  if (tuples.length + attributes.length > 0) {
    const r = await api.call<{ snap_token: string }>(tenantPath(tenant, 'data/write'), {
      metadata: { schema_version: w.schema_version },
      tuples,
      attributes,
    });
    snapToken = r.snap_token;
  }
  return { schemaVersion: w.schema_version, snapToken };
}

async function pages(
  api: ApiClient,
  path: string,
  body: Record<string, unknown>,
  key: 'entity_ids' | 'subject_ids',
): Promise<string[]> {
  const out: string[] = [];
  let token = '';
  for (;;) {
    const r = await api.call<Record<string, unknown>>(path, { ...body, continuous_token: token });
    out.push(...((r[key] as string[] | undefined) ?? []));
    token = (r['continuous_token'] as string | undefined) ?? '';
    if (token === '') return out;
  }
}

/**
 * Runs every assertion of every scenario, one request at a time (so results come in file order), against
 * the schema version and snapshot given. A failing request is a failed assertion carrying the error.
 */
export async function runScenarios(
  api: ApiClient,
  tenant: string,
  file: ValidationFile,
  at: { schemaVersion: string; snapToken: string },
  onResult: (r: AssertionResult) => void = () => {},
): Promise<AssertionResult[]> {
  const results: AssertionResult[] = [];
  const read = await api.call<{
    schema?: {
      entity_definitions?: Record<string, { references?: Record<string, string> }>;
      rule_definitions?: Record<string, unknown>;
    };
  }>(tenantPath(tenant, 'schemas/read'), { metadata: { schema_version: at.schemaVersion } });
  /** Why an assertion on `type`'s `name` cannot run, or undefined when it names a member of the type. */
  const unknownName = (type: string, name: string): string | undefined => {
    if (type === '') return undefined;
    const def = read.schema?.entity_definitions?.[type];
    if (def?.references?.[name] !== undefined || read.schema?.rule_definitions?.[name] !== undefined) return undefined;
    return def === undefined
      ? `"${type}" is not an entity type of the schema`
      : `"${name}" is not a permission, relation, attribute or rule of "${type}"`;
  };
  const metadata = { schema_version: at.schemaVersion, snap_token: at.snapToken, depth: 100 };
  const push = (r: AssertionResult): void => {
    results.push(r);
    onResult(r);
  };
  const attempt = async (
    base: Omit<AssertionResult, 'actual' | 'pass'>,
    type: string,
    name: string,
    run: () => Promise<string>,
  ): Promise<void> => {
    const skipped = unknownName(type, name);
    if (skipped !== undefined) {
      push({ ...base, actual: 'skipped', pass: false, skipped });
      return;
    }
    try {
      const actual = await run();
      push({ ...base, actual, pass: actual === base.expected });
    } catch (e) {
      push({ ...base, actual: 'error', pass: false, error: (e as Error).message });
    }
  };
  for (const sc of file.scenarios) {
    const scenario = String(sc.name ?? '');
    for (const c of sc.checks ?? []) {
      for (const [permission, expected] of Object.entries(c.assertions ?? {})) {
        // null (a key with no value) reads as false, as in `permify validate`.
        const label = `check ${c.entity}#${permission}@${c.subject}`;
        await attempt(
          { scenario, label, expected: String(expected === true) },
          entityTypeOf(c.entity),
          permission,
          async () => {
            const r = await api.call<{ can?: string }>(tenantPath(tenant, 'permissions/check'), {
              metadata,
              entity: parseEntity(c.entity),
              permission,
              subject: parseSubject(c.subject),
              context: contextBody(c.context),
            });
            return String(r.can === 'CHECK_RESULT_ALLOWED');
          },
        );
      }
    }
    for (const f of sc.entity_filters ?? []) {
      for (const [permission, ids] of Object.entries(f.assertions ?? {})) {
        const expected = sorted(ids ?? []).join(', ');
        await attempt(
          { scenario, label: `entity_filter ${f.entity_type}#${permission}@${f.subject}`, expected },
          f.entity_type,
          permission,
          async () => {
            const got = await pages(
              api,
              tenantPath(tenant, 'permissions/lookup-entity'),
              {
                metadata,
                entity_type: f.entity_type,
                permission,
                subject: parseSubject(f.subject),
                context: contextBody(f.context),
              },
              'entity_ids',
            );
            return sorted(got).join(', ');
          },
        );
      }
    }
    for (const f of sc.subject_filters ?? []) {
      for (const [permission, ids] of Object.entries(f.assertions ?? {})) {
        const expected = sorted(ids ?? []).join(', ');
        await attempt(
          { scenario, label: `subject_filter ${f.entity}#${permission}@${f.subject_reference}`, expected },
          entityTypeOf(f.entity),
          permission,
          async () => {
            const got = await pages(
              api,
              tenantPath(tenant, 'permissions/lookup-subject'),
              {
                metadata,
                entity: parseEntity(f.entity),
                permission,
                subject_reference: parseSubjectReference(f.subject_reference),
                context: contextBody(f.context),
              },
              'subject_ids',
            );
            return sorted(got).join(', ');
          },
        );
      }
    }
  }
  return results;
}
