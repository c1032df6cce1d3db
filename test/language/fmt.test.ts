/**
 * `permify fmt`: blank lines between groups of declarations survive formatting, and `--check` prints a
 * unified diff (the same hunks as `diff -u`) of what formatting would change.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { registerFmt } from '../../src/cli/commands/fmt.js';
import { unifiedDiff } from '../../src/cli/unified-diff.js';
import { runCli } from '../support/cli-run.js';

const dir = mkdtempSync(join(tmpdir(), 'permify-fmt-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
const run = (...args: string[]) => runCli([registerFmt], args);

afterEach(() => {
  process.exitCode = 0;
});

const grouped = `entity user {}

entity document {
  relation owner @user
  relation viewer @user


  // who may see it without a relation
  attribute public boolean

  permission view = (owner or viewer) or public
  permission edit = owner
}
`;

const canonical = `entity user {}

entity document {
    relation owner @user
    relation viewer @user

    attribute public boolean

    permission view = owner or viewer or public
    permission edit = owner
}
`;

describe('permify fmt', () => {
  it('keeps one blank line where the source separated groups of declarations', async () => {
    const r = await run('fmt', file('g.perm', grouped));
    expect(r.code).toBe(0);
    expect(r.out).toBe(canonical);
    expect((await run('fmt', '--check', file('c.perm', canonical))).code).toBe(0);
  });

  it('--check prints a unified diff and exits 1', async () => {
    const path = file('g2.perm', grouped);
    const r = await run('fmt', '--check', path);
    expect(r.code).toBe(1);
    expect(r.out.split('\n').slice(0, 3)).toEqual([`--- ${path}`, `+++ ${path} (formatted)`, '@@ -1,13 +1,11 @@']);
    expect(r.out).toContain('-  relation owner @user\n');
    expect(r.out).toContain('+    relation owner @user\n');
    expect(r.out).toContain('-  permission view = (owner or viewer) or public\n');
    expect(r.err).toContain('not in canonical form');
  });

  it('hunks are those of diff -u', () => {
    const a = Array.from({ length: 30 }, (_, i) => `line ${i}`);
    const b = [...a];
    b.splice(2, 1, 'changed 2');
    b.splice(15, 0, 'inserted');
    b.splice(28, 2);
    const from = file('a.txt', `${a.join('\n')}\n`);
    const to = file('b.txt', `${b.join('\n')}\n`);
    let expected = '';
    try {
      execFileSync('diff', ['-u', from, to]);
    } catch (e) {
      expected = String((e as { stdout: Buffer }).stdout);
    }
    const body = (text: string) => text.split('\n').slice(2).join('\n');
    expect(body(unifiedDiff(`${a.join('\n')}\n`, `${b.join('\n')}\n`, 'a', 'b'))).toBe(body(expected));
    expect(unifiedDiff('x\n', 'x\n', 'a', 'b')).toBe('');
  });
});
