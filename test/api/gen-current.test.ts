/**
 * Fails when src/api/gen is stale: regenerates the protobuf-es code from proto/ into a temporary directory with
 * the committed script and compares every file byte for byte.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const committed = join(root, 'src', 'api', 'gen');

function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

describe('generated protobuf code', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'permify-gen-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('matches a fresh run of scripts/gen-proto.sh', () => {
    const out = join(tmp, 'gen');
    execFileSync('sh', [join(root, 'scripts', 'gen-proto.sh'), out], { cwd: root, stdio: 'pipe' });
    const fresh = files(out);
    expect(fresh).toEqual(files(committed));
    expect(fresh.length).toBeGreaterThan(5);
    for (const f of fresh) {
      expect(readFileSync(join(out, f), 'utf8'), `src/api/gen/${f} is stale; run npm run gen:proto`).toBe(
        readFileSync(join(committed, f), 'utf8'),
      );
    }
  });
});
