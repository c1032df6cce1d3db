import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { registerAst } from '../../src/cli/commands/ast.js';
import { registerFmt } from '../../src/cli/commands/fmt.js';
import { runCli, type CliResult } from '../support/cli-run.js';

const dir = mkdtempSync(join(tmpdir(), 'permify-lang-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const run = (...args: string[]): Promise<CliResult> => runCli([registerAst, registerFmt], args);

afterEach(() => {
  process.exitCode = 0;
});

describe('permify ast / fmt', () => {
  const messy = 'entity user {}\nentity doc {  relation owner @user ; permission view = (owner or owner)\n}';
  it('ast prints the compiled model as JSON; --syntax prints the tree', async () => {
    const r = await run('ast', file('a.perm', messy));
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out) as { entities: { name: string }[] };
    expect(json.entities.map((e) => e.name)).toEqual(['user', 'doc']);
    const s = await run('ast', '--syntax', file('b.perm', messy));
    expect(JSON.parse(s.out)).toMatchObject({ kind: 'schema' });
  });
  it('ast reads the schema key of validation files and reports errors with positions', async () => {
    const y = await run('ast', file('v.yaml', `schema: |-\n  entity user {}\nrelationships: []\n`));
    expect(y.code).toBe(0);
    const bad = await run('ast', file('bad.perm', 'entity doc {\n    relation owner @person\n}\n'));
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('Error: 2:22: relation reference not found in entity references');
  });
  it('fmt prints canonical text and --check tells canonical from not', async () => {
    const r = await run('fmt', file('m.perm', messy));
    expect(r.out).toBe(
      'entity user {}\n\nentity doc {\n    relation owner @user\n    permission view = owner or owner\n}\n',
    );
    expect((await run('fmt', '--check', file('m2.perm', messy))).code).toBe(1);
    expect((await run('fmt', '--check', file('c.perm', r.out))).code).toBe(0);
  });
});
