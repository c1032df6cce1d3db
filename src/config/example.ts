/**
 * The annotated example configuration (`config/config.example.yaml`): every key of {@link configLeaves} with
 * its default and its one-line description, rendered from the schema so that it cannot drift from it
 * (test/config/example.test.ts compares the file with this rendering and loads it).
 */
import { formatDurationGo, loadConfig } from './load.js';
import { configLeaves, type ConfigLeaf } from './schema.js';

function valueAt(obj: unknown, key: string): unknown {
  let v: unknown = obj;
  for (const part of key.split('.')) v = (v as Record<string, unknown> | undefined)?.[part];
  return v;
}

function sizeText(bytes: number): string {
  for (const [unit, n] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes > 0 && bytes % n === 0) return `${bytes / n}${unit}`;
  }
  return String(bytes);
}

function scalar(leaf: ConfigLeaf, v: unknown): string {
  if (leaf.meta.kind === 'duration' && typeof v === 'number') return JSON.stringify(formatDurationGo(v));
  if (leaf.meta.kind === 'size' && typeof v === 'number') return JSON.stringify(sizeText(v));
  // JSON text is valid YAML flow syntax for strings, numbers, booleans and string lists.
  return JSON.stringify(v);
}

/** The example file's text. */
export function renderConfigExample(): string {
  // Defaults: nothing from the environment, no implicit config/config.yaml.
  const { config } = loadConfig({ env: {}, cwd: '/nonexistent' });
  const lines = [
    '# permify-ts configuration: every key with its default and a one-line description.',
    '# Copy to config/config.yaml (read by default) or pass `permify serve --config <file>`; keys left out keep',
    '# their defaults. Each key can also be set by the flag and the PERMIFY_* variable named in its comment',
    '# (flag > variable > file). Durations use Go notation (300ms, 12s, 15m0s); sizes accept KiB/MiB/GiB.',
    '# Generated from src/config/schema.ts: npx tsx scripts/gen-config-example.ts > config/config.example.yaml',
  ];
  let previous: string[] = [];
  for (const leaf of configLeaves) {
    const parts = leaf.key.split('.');
    let common = 0;
    while (common < parts.length - 1 && common < previous.length - 1 && parts[common] === previous[common]) common++;
    if (common === 0 && previous.length > 0) lines.push('');
    for (let i = common; i < parts.length - 1; i++) lines.push(`${'  '.repeat(i)}${parts[i]}:`);
    const name = parts[parts.length - 1];
    const source = `--${leaf.meta.flag}, ${leaf.meta.env}`;
    lines.push(
      `${'  '.repeat(parts.length - 1)}${name}: ${scalar(leaf, valueAt(config, leaf.key))}  # ${leaf.meta.doc} (${source})`,
    );
    previous = parts;
  }
  return `${lines.join('\n')}\n`;
}
