/**
 * `engines` and the dependency tree agree: every locked package (dev dependencies included, as `npm ci`
 * installs them) supports the oldest Node.js the package declares and the one running the tests, so a fresh
 * `npm ci` prints no EBADENGINE warning.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const semver = createRequire(import.meta.url)('semver') as {
  satisfies(version: string, range: string): boolean;
  minVersion(range: string): { version: string } | null;
};
const root = join(import.meta.dirname, '..', '..');

interface LockEntry {
  readonly version?: string;
  readonly engines?: { readonly node?: string } | readonly string[];
  readonly optional?: boolean;
}

describe('engines', () => {
  it('every locked package supports the declared minimum Node.js and the current one', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, LockEntry>;
    };
    const minimum = semver.minVersion(pkg.engines.node)!.version;
    const unsupported: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      const range = Array.isArray(entry.engines) ? undefined : (entry.engines as { node?: string } | undefined)?.node;
      if (path === '' || range === undefined) continue;
      for (const node of [minimum, process.versions.node]) {
        if (!semver.satisfies(node, range)) unsupported.push(`${path}@${entry.version}: node ${range} (not ${node})`);
      }
    }
    expect(unsupported).toEqual([]);
  });
});
