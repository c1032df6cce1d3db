/**
 * config/config.example.yaml: every configuration key, with its default and a one-line comment, loadable as is.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { renderConfigExample } from '../../src/config/example.js';
import { loadConfig } from '../../src/config/load.js';
import { configLeaves } from '../../src/config/schema.js';

const file = join(import.meta.dirname, '..', '..', 'config', 'config.example.yaml');

describe('config/config.example.yaml', () => {
  it('is the rendering of the configuration schema (regenerate: npx tsx scripts/gen-config-example.ts)', () => {
    expect(readFileSync(file, 'utf8')).toBe(renderConfigExample());
  });

  it('names every key, each on a line with a comment', () => {
    const doc = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const text = readFileSync(file, 'utf8');
    for (const leaf of configLeaves) {
      let v: unknown = doc;
      for (const part of leaf.key.split('.')) v = (v as Record<string, unknown> | undefined)?.[part];
      expect(v, leaf.key).not.toBeUndefined();
      const name = leaf.key.split('.').pop()!;
      expect(text, leaf.key).toMatch(
        new RegExp(`^ *${name}: .+  # .+\\(--${leaf.meta.flag}, ${leaf.meta.env}\\)$`, 'm'),
      );
    }
  });

  it('loads, and gives exactly the defaults', () => {
    const fromFile = loadConfig({ configPath: file, env: {} });
    const defaults = loadConfig({ env: {}, cwd: '/nonexistent' });
    expect(fromFile.config).toEqual(defaults.config);
    expect(Object.values(fromFile.sources).every((s) => s === 'FILE')).toBe(true);
  });
});
