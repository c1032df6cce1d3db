/**
 * Validation ("test") files: loading from a path or URL, resolving the `schema:` field, and decoding the YAML
 * into typed structures (spec §7.1, §7.2 argument resolution).
 *
 * Decoding is strict about shapes (a scalar where a list is expected is an error naming the path, e.g.
 * `scenarios[0].checks[1].assertions.view: expected a boolean`) and lenient about presence: absent or null
 * sections are empty, unknown keys are ignored. Every failure is a {@link PermifyError}
 * (ERROR_CODE_INVALID_ARGUMENT) whose message is what the CLI prints after `Error: `.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve as resolvePath, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import type { JsonValue } from '../data/types.js';
import { PermifyError } from '../errors.js';

/** Depth used when a query leaves `depth` absent or 0. */
export const DEFAULT_VALIDATION_DEPTH = 100;
/** Smallest accepted depth; smaller values are per-assertion failures. */
export const MIN_VALIDATION_DEPTH = 3;
/** Largest validation file or fetched schema accepted. */
export const MAX_VALIDATION_FILE_BYTES = 16 * 1024 * 1024;
/** Time allowed for fetching a file or schema over HTTP(S). */
export const FETCH_TIMEOUT_MS = 30_000;

/** A query's `context`, still in string notation (parsed when the query runs). */
export interface ValidationContext {
  readonly tuples: readonly string[];
  readonly attributes: readonly string[];
  readonly data: { readonly [k: string]: JsonValue };
}

export interface CheckAssertion {
  readonly name: string;
  /** null in the file (e.g. a stray `checks:` key) decodes to false, like upstream. */
  readonly expected: boolean;
}

export interface ListAssertion {
  readonly name: string;
  /** Expected ids as written (numbers keep their source spelling: `007` stays `007`). */
  readonly expected: readonly string[];
}

interface QueryBase {
  /** As written; 0 when absent. Use {@link effectiveDepth}. */
  readonly depth: number;
  readonly context: ValidationContext;
}

export interface ValidationCheck extends QueryBase {
  readonly entity: string;
  readonly subject: string;
  /** In file order. */
  readonly assertions: readonly CheckAssertion[];
}

export interface ValidationEntityFilter extends QueryBase {
  readonly entityType: string;
  readonly subject: string;
  readonly assertions: readonly ListAssertion[];
}

export interface ValidationSubjectFilter extends QueryBase {
  readonly subjectReference: string;
  readonly entity: string;
  readonly assertions: readonly ListAssertion[];
}

export interface ValidationScenario {
  readonly name: string;
  readonly description: string;
  readonly checks: readonly ValidationCheck[];
  readonly entityFilters: readonly ValidationEntityFilter[];
  readonly subjectFilters: readonly ValidationSubjectFilter[];
}

/** A decoded validation file; `schema` is the raw field (text, path or URL), see {@link resolveSchema}. */
export interface ValidationFile {
  readonly tenantId: string;
  readonly schema: string;
  readonly relationships: readonly string[];
  readonly attributes: readonly string[];
  readonly scenarios: readonly ValidationScenario[];
}

/** The depth a query runs with: 0 (absent) means {@link DEFAULT_VALIDATION_DEPTH}. */
export function effectiveDepth(depth: number): number {
  return depth === 0 ? DEFAULT_VALIDATION_DEPTH : depth;
}

const emptyValidationContext: ValidationContext = Object.freeze({ tuples: [], attributes: [], data: {} });

function fail(message: string): never {
  throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', message);
}

function isNull(node: unknown): boolean {
  return node === null || node === undefined || (isScalar(node) && node.value === null);
}

/** A scalar as the string Go's YAML decoder would produce for a `string` field (the source spelling). */
function scalarString(node: unknown, path: string): string {
  if (isNull(node)) return '';
  if (!isScalar(node)) fail(`${path}: expected a string`);
  const v = node.value;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') {
    return node.source ?? String(v);
  }
  return fail(`${path}: expected a string`);
}

function stringList(node: unknown, path: string): string[] {
  if (isNull(node)) return [];
  if (!isSeq(node)) fail(`${path}: expected a list of strings`);
  return node.items.map((item, i) => scalarString(item, `${path}[${i}]`));
}

function mapEntries(node: unknown, path: string): Array<[string, unknown]> {
  if (isNull(node)) return [];
  if (!isMap(node)) fail(`${path}: expected a mapping`);
  const out: Array<[string, unknown]> = [];
  for (const pair of node.items) {
    const key = scalarString(pair.key, `${path} key`);
    out.push([key, pair.value]);
  }
  return out;
}

function mapField(entries: Array<[string, unknown]>, key: string): unknown {
  for (const [k, v] of entries) if (k === key) return v;
  return undefined;
}

function decodeDepth(node: unknown, path: string): number {
  if (isNull(node)) return 0;
  if (isScalar(node) && typeof node.value === 'number' && Number.isInteger(node.value)) {
    if (node.value < -2147483648 || node.value > 2147483647) fail(`${path}: depth out of range`);
    return node.value;
  }
  return fail(`${path}: expected an integer`);
}

function decodeBoolean(node: unknown, path: string): boolean {
  if (isNull(node)) return false;
  if (isScalar(node)) {
    if (typeof node.value === 'boolean') return node.value;
    // Go's YAML decoder also accepts the YAML 1.1 spellings for boolean fields.
    if (typeof node.value === 'string') {
      const s = node.value;
      if (/^(y|Y|yes|Yes|YES|on|On|ON)$/.test(s)) return true;
      if (/^(n|N|no|No|NO|off|Off|OFF)$/.test(s)) return false;
    }
  }
  return fail(`${path}: expected a boolean`);
}

function toJson(value: unknown, path: string): JsonValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v, i) => toJson(v, `${path}[${i}]`));
  if (value instanceof Map) {
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of value) out[String(k)] = toJson(v, `${path}.${String(k)}`);
    return out;
  }
  if (typeof value === 'object') {
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJson(v, `${path}.${k}`);
    return out;
  }
  return fail(`${path}: unsupported value`);
}

function decodeContext(node: unknown, path: string): ValidationContext {
  if (isNull(node)) return emptyValidationContext;
  // Older documentation shows `context` as a list; upstream fails to decode that, and so do we.
  const entries = mapEntries(node, path);
  const dataNode = mapField(entries, 'data');
  let data: { [k: string]: JsonValue } = {};
  if (!isNull(dataNode)) {
    if (!isMap(dataNode)) fail(`${path}.data: expected a mapping`);
    const js = toJson((dataNode as YamlNode).toJSON(), `${path}.data`);
    data = js as { [k: string]: JsonValue };
  }
  return {
    tuples: stringList(mapField(entries, 'tuples'), `${path}.tuples`),
    attributes: stringList(mapField(entries, 'attributes'), `${path}.attributes`),
    data,
  };
}

function decodeList<T>(node: unknown, path: string, item: (n: unknown, p: string) => T): T[] {
  if (isNull(node)) return [];
  if (!isSeq(node)) fail(`${path}: expected a list`);
  return node.items.map((n, i) => item(n, `${path}[${i}]`));
}

function decodeCheck(node: unknown, path: string): ValidationCheck {
  const e = mapEntries(node, path);
  return {
    entity: scalarString(mapField(e, 'entity'), `${path}.entity`),
    subject: scalarString(mapField(e, 'subject'), `${path}.subject`),
    depth: decodeDepth(mapField(e, 'depth'), `${path}.depth`),
    context: decodeContext(mapField(e, 'context'), `${path}.context`),
    assertions: mapEntries(mapField(e, 'assertions'), `${path}.assertions`).map(([name, v]) => ({
      name,
      expected: decodeBoolean(v, `${path}.assertions.${name}`),
    })),
  };
}

function decodeListAssertions(node: unknown, path: string): ListAssertion[] {
  return mapEntries(node, path).map(([name, v]) => ({ name, expected: stringList(v, `${path}.${name}`) }));
}

function decodeEntityFilter(node: unknown, path: string): ValidationEntityFilter {
  const e = mapEntries(node, path);
  return {
    entityType: scalarString(mapField(e, 'entity_type'), `${path}.entity_type`),
    subject: scalarString(mapField(e, 'subject'), `${path}.subject`),
    depth: decodeDepth(mapField(e, 'depth'), `${path}.depth`),
    context: decodeContext(mapField(e, 'context'), `${path}.context`),
    assertions: decodeListAssertions(mapField(e, 'assertions'), `${path}.assertions`),
  };
}

function decodeSubjectFilter(node: unknown, path: string): ValidationSubjectFilter {
  const e = mapEntries(node, path);
  return {
    subjectReference: scalarString(mapField(e, 'subject_reference'), `${path}.subject_reference`),
    entity: scalarString(mapField(e, 'entity'), `${path}.entity`),
    depth: decodeDepth(mapField(e, 'depth'), `${path}.depth`),
    context: decodeContext(mapField(e, 'context'), `${path}.context`),
    assertions: decodeListAssertions(mapField(e, 'assertions'), `${path}.assertions`),
  };
}

function decodeScenario(node: unknown, path: string): ValidationScenario {
  const e = mapEntries(node, path);
  return {
    name: scalarString(mapField(e, 'name'), `${path}.name`),
    description: scalarString(mapField(e, 'description'), `${path}.description`),
    checks: decodeList(mapField(e, 'checks'), `${path}.checks`, decodeCheck),
    entityFilters: decodeList(mapField(e, 'entity_filters'), `${path}.entity_filters`, decodeEntityFilter),
    subjectFilters: decodeList(mapField(e, 'subject_filters'), `${path}.subject_filters`, decodeSubjectFilter),
  };
}

/**
 * Decodes validation-file YAML text.
 * @throws PermifyError ERROR_CODE_INVALID_ARGUMENT for invalid YAML (message names line and column) or a
 *   section of the wrong shape (message names the path).
 */
export function decodeValidationFile(text: string): ValidationFile {
  const doc = parseDocument(text, { uniqueKeys: false, prettyErrors: true });
  const firstError = doc.errors[0];
  if (firstError !== undefined) {
    // With prettyErrors the first line reads "<reason> at line L, column C:".
    const reason = (firstError.message.split('\n')[0] ?? '').replace(/:$/, '');
    fail(`invalid validation file: yaml: ${reason}`);
  }
  const root = doc.contents;
  const e = mapEntries(root, 'validation file');
  return {
    tenantId: scalarString(mapField(e, 'tenant_id'), 'tenant_id'),
    schema: scalarString(mapField(e, 'schema'), 'schema'),
    relationships: stringList(mapField(e, 'relationships'), 'relationships'),
    attributes: stringList(mapField(e, 'attributes'), 'attributes'),
    scenarios: decodeList(mapField(e, 'scenarios'), 'scenarios', decodeScenario),
  };
}

/** How to reach the network and the file system; injectable for tests. */
export interface LoadOptions {
  readonly fetch?: (url: string, init: { signal: AbortSignal }) => Promise<Response>;
  /** Base for relative validation-file paths (default: the process's working directory). */
  readonly cwd?: string;
  readonly signal?: AbortSignal;
}

/** A loaded validation file with its schema text resolved. */
export interface LoadedValidationFile {
  readonly file: ValidationFile;
  readonly schemaText: string;
  /** Where the file came from (path or URL), for messages. */
  readonly origin: string;
  /** The YAML text, to point error messages at its lines. */
  readonly text?: string;
}

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;

async function fetchText(url: string, options: LoadOptions): Promise<string> {
  const doFetch = options.fetch ?? ((u: string, init: { signal: AbortSignal }) => fetch(u, init));
  const timeout = AbortSignal.timeout(FETCH_TIMEOUT_MS);
  const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
  let response: Response;
  try {
    response = await doFetch(url, { signal });
  } catch (e) {
    throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', `failed to fetch ${url}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (!response.ok) fail(`failed to fetch ${url}: HTTP ${response.status}`);
  const body = await response.text();
  if (Buffer.byteLength(body) > MAX_VALIDATION_FILE_BYTES) {
    throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', `${url} exceeds ${MAX_VALIDATION_FILE_BYTES} bytes`, {
      details: { limit: 'MAX_VALIDATION_FILE_BYTES' },
    });
  }
  return body;
}

/** Gist page links are rewritten to the raw gist host with `/raw` appended (upstream behaviour). */
export function rewriteGistUrl(url: URL): string {
  if (url.hostname !== 'gist.github.com') return url.toString();
  const path = url.pathname.replace(/\/+$/, '');
  return `https://gist.githubusercontent.com${path}/raw`;
}

/**
 * Reads the validation file at `location`: an http(s) URL is fetched, `file:` URLs and plain paths are read
 * from disk, any other scheme fails with `unknown decoder type`. Then decodes it and resolves its schema.
 */
export async function loadValidationFile(location: string, options: LoadOptions = {}): Promise<LoadedValidationFile> {
  const { text, baseDir } = await readLocation(location, options);
  const file = decodeValidationFile(text);
  const schemaText = await resolveSchema(file.schema, { ...options, baseDir });
  return { file, schemaText, origin: location, text };
}

/** The text at `location` (http(s) URL, `file:` URL or path) and, for local files, their directory. */
async function readLocation(
  location: string,
  options: LoadOptions,
): Promise<{ text: string; baseDir: string | undefined }> {
  const scheme = SCHEME.exec(location)?.[1]?.toLowerCase();
  if (scheme === 'http' || scheme === 'https') {
    return { text: await fetchText(rewriteGistUrl(new URL(location)), options), baseDir: undefined };
  }
  if (scheme !== undefined && scheme !== 'file' && !/^[a-zA-Z]$/.test(scheme)) return fail('unknown decoder type');
  const path = scheme === 'file' ? fileURLToPath(location) : resolvePath(options.cwd ?? process.cwd(), location);
  try {
    const size = statSync(path).size;
    if (size > MAX_VALIDATION_FILE_BYTES) fail(`${location} exceeds ${MAX_VALIDATION_FILE_BYTES} bytes`);
    return { text: await readFile(path, 'utf8'), baseDir: dirname(path) };
  } catch (e) {
    if (e instanceof PermifyError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new PermifyError(
      'ERROR_CODE_INVALID_ARGUMENT',
      code === 'ENOENT' ? `open ${location}: no such file or directory` : `cannot read ${location}: ${code ?? 'error'}`,
      { cause: e },
    );
  }
}

/**
 * The schema text behind `location` for `permify ast` / `permify fmt`: a schema file as is, or, for a
 * validation file (`.yaml`/`.yml`, local or http(s)), its `schema` field resolved like `validate` does
 * (inline text, relative path or URL). Only the `schema` key is read; the rest of the file is not decoded.
 */
export async function loadSchemaSource(
  location: string,
  options: LoadOptions = {},
): Promise<{ text: string; isYaml: boolean }> {
  const { text, baseDir } = await readLocation(location, options);
  const scheme = SCHEME.exec(location)?.[1]?.toLowerCase();
  const pathPart = scheme === 'http' || scheme === 'https' ? new URL(location).pathname : location;
  if (!/\.ya?ml$/i.test(pathPart)) return { text, isYaml: false };
  const parsed = parseDocument(text);
  const yamlError = parsed.errors[0];
  if (yamlError !== undefined) fail(`${location}: ${yamlError.message.split('\n')[0] ?? 'invalid YAML'}`);
  const doc: unknown = parsed.toJS();
  const schema = doc !== null && typeof doc === 'object' ? (doc as { schema?: unknown }).schema : undefined;
  if (typeof schema !== 'string') fail(`${location}: no schema key found`);
  return { text: await resolveSchema(schema, { ...options, baseDir }), isYaml: true };
}

export async function resolveSchema(
  value: string,
  options: LoadOptions & { readonly baseDir?: string | undefined } = {},
): Promise<string> {
  const trimmed = value.trim();
  if (trimmed === '') fail('schema is empty');
  const singleToken = !/\s/.test(trimmed);
  if (singleToken) {
    const url = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]+)/.exec(trimmed);
    if (url !== null) {
      const scheme = (url[1] ?? '').toLowerCase();
      if (scheme !== 'http' && scheme !== 'https') fail('invalid URL scheme');
      const text = await fetchText(rewriteGistUrl(new URL(trimmed)), options);
      if (text.trim() === '') fail('schema is empty');
      return text;
    }
    const looksLikePath = /[/\\]|\.[a-zA-Z0-9]+$/.test(trimmed) && !/[{}]/.test(trimmed);
    if (looksLikePath) {
      if (isAbsolute(trimmed) || trimmed.split(/[/\\]/).includes('..')) fail('invalid file path');
      const base = options.baseDir ?? options.cwd ?? process.cwd();
      const path = resolvePath(base, trimmed);
      if (!path.startsWith(base.endsWith(sep) ? base : base + sep)) fail('invalid file path');
      if (existsSync(path) && statSync(path).isFile()) {
        const text = await readFile(path, 'utf8');
        if (text.trim() === '') fail('schema is empty');
        return text;
      }
    }
  }
  return value;
}
