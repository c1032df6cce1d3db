/**
 * Loading of the configuration: built-in defaults < YAML file < environment variables < explicitly passed
 * flags, validated by {@link configSchema}. Failures are a PermifyError (ERROR_CODE_VALIDATION) whose message
 * names the offending key, so a bad configuration stops `permify serve` before anything listens.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { PermifyError } from '../errors.js';
import { configLeaves, configSchema, type Config, type ConfigLeaf } from './schema.js';

export type ConfigSource = 'DEFAULT' | 'FILE' | 'ENV' | 'FLAG';

export interface LoadConfigOptions {
  /** `--config` path; must end in `.yaml`. Without it `./config/config.yaml` is read when it exists. */
  readonly configPath?: string;
  /** Environment (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Explicitly passed flags keyed by dotted config key (e.g. `server.http.port`), raw values. */
  readonly flags?: Readonly<Record<string, unknown>>;
  /** Working directory for the implicit `config/config.yaml` (default `process.cwd()`). */
  readonly cwd?: string;
}

export interface LoadedConfig {
  readonly config: Config;
  /** Where each leaf's value came from. */
  readonly sources: Readonly<Record<string, ConfigSource>>;
  /** The YAML file read, if any. */
  readonly file?: string;
}

function fail(key: string, message: string): never {
  throw new PermifyError('ERROR_CODE_VALIDATION', `invalid configuration: ${key}: ${message}`, { details: { limit: key } });
}

function getPath(obj: unknown, key: string): unknown {
  let cur: unknown = obj;
  for (const part of key.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    const next = cur[part];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[part] = {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1] as string] = value;
}

function readYaml(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    fail('config', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { intAsBigInt: false });
  } catch (e) {
    fail('config', `${path} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) fail('config', `${path} must contain a mapping`);
  return doc as Record<string, unknown>;
}

/** The leaf for a dotted key, or undefined. */
export function leafOf(key: string): ConfigLeaf | undefined {
  return configLeaves.find((l) => l.key === key);
}

/**
 * Loads and validates the configuration. Unknown YAML keys are ignored (as in Permify); unknown flag keys
 * are a programming error and rejected.
 */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const raw: Record<string, unknown> = {};
  const sources: Record<string, ConfigSource> = {};
  for (const leaf of configLeaves) sources[leaf.key] = 'DEFAULT';

  let file: string | undefined;
  if (options.configPath !== undefined && options.configPath !== '') {
    if (!options.configPath.endsWith('.yaml')) fail('config', `file name must end in .yaml (got ${options.configPath})`);
    file = options.configPath;
  } else {
    const implicit = `${options.cwd ?? process.cwd()}/config/config.yaml`;
    if (existsSync(implicit)) file = implicit;
  }
  if (file !== undefined) {
    const doc = readYaml(file);
    for (const leaf of configLeaves) {
      const v = getPath(doc, leaf.key);
      if (v !== undefined && v !== null) {
        setPath(raw, leaf.key, v);
        sources[leaf.key] = 'FILE';
      }
    }
  }
  for (const leaf of configLeaves) {
    const v = env[leaf.meta.env];
    // A variable that is set but empty counts as unset (Viper's default), so `PERMIFY_HTTP_ENABLED=` left
    // by a deployment template neither turns the gateway off nor hides the file's value.
    if (v !== undefined && v !== '') {
      setPath(raw, leaf.key, v);
      sources[leaf.key] = 'ENV';
    }
  }
  for (const [key, v] of Object.entries(options.flags ?? {})) {
    if (v === undefined) continue;
    if (!leafOf(key)) fail(key, 'unknown configuration key');
    setPath(raw, key, v);
    sources[key] = 'FLAG';
  }

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const key = first?.path.join('.') || 'config';
    const src = sources[key];
    const leaf = leafOf(key);
    const where =
      src === 'ENV' && leaf ? ` (from ${leaf.meta.env})` : src === 'FLAG' && leaf ? ` (from --${leaf.meta.flag})` : src === 'FILE' ? ` (from ${file})` : '';
    fail(key, `${first?.message ?? 'invalid value'}${where}`);
  }
  return { config: parsed.data, sources, ...(file !== undefined ? { file } : {}) };
}

/** Masks all but the first and last character (Permify's `config` command style). */
export function maskSecret(value: string): string {
  if (value.length <= 2) return '*'.repeat(value.length);
  return `${value[0]}${'*'.repeat(value.length - 2)}${value[value.length - 1]}`;
}

/** The effective configuration as a flat key -> printable value map, secrets masked. */
export function redactedConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const leaf of configLeaves) {
    const v = getPath(config, leaf.key);
    if (leaf.meta.secret) {
      out[leaf.key] = Array.isArray(v) ? v.map((x) => maskSecret(String(x))) : typeof v === 'string' ? maskSecret(v) : v;
    } else {
      out[leaf.key] = v;
    }
  }
  return out;
}

/** Milliseconds in Go's duration notation (`0s`, `500ms`, `1.5s`, `5m0s`, `200h0m0s`), as the YAML would say it. */
export function formatDurationGo(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const sec = Number(((ms % 60_000) / 1000).toFixed(3));
  return `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${sec}s`;
}

/** A three-column table (key, value, source) of the effective configuration, secrets masked. */
export function formatConfigTable(loaded: LoadedConfig): string {
  const red = redactedConfig(loaded.config);
  const shown = (l: ConfigLeaf): string => {
    const v = red[l.key];
    return l.meta.kind === 'duration' && typeof v === 'number' ? formatDurationGo(v) : JSON.stringify(v);
  };
  const rows = configLeaves.map((l) => [l.key, shown(l), loaded.sources[l.key] ?? 'DEFAULT'] as const);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.min(60, Math.max(...rows.map((r) => r[1].length)));
  return rows.map((r) => `${r[0].padEnd(w0)}  ${r[1].padEnd(w1)}  ${r[2]}`).join('\n') + '\n';
}
