/**
 * The package as another project sees it: build it as `prepare` does, `npm pack` it, install the tarball
 * into a scratch project (dependencies from the npm cache), then run README.md's "Embed it" example from
 * there, check the typings and the `exports` map, and run the `permify` bin of the installed package.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedOutput, readmeBlock } from './readme.js';

const exec = promisify(execFile);
/** execFile that reports the command's output when it fails (tsc and npm print their errors on stdout). */
async function run(file: string, args: readonly string[], options: { cwd?: string } = {}): Promise<{ stdout: string }> {
  try {
    const r = await exec(file, args, options);
    return { stdout: String(r.stdout) };
  } catch (e) {
    const x = e as Error & { stdout?: unknown; stderr?: unknown };
    throw new Error(`${x.message}\n${String(x.stdout ?? '')}${String(x.stderr ?? '')}`.trim(), { cause: e });
  }
}
const root = join(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'permify-pack-'));
const app = join(work, 'app');

beforeAll(async () => {
  const stage = join(work, 'stage');
  for (const f of ['package.json', 'README.md', 'proto']) cpSync(join(root, f), join(stage, f), { recursive: true });
  if (existsSync(join(root, 'LICENSE'))) cpSync(join(root, 'LICENSE'), join(stage, 'LICENSE'));
  // What `prepare` does (tsc -p tsconfig.build.json), incrementally into a cache kept between runs (a cold
  // build takes ~20 s on two cores), then copied into the staging directory.
  const cache = join(root, 'node_modules', '.cache', 'permify-ts-pack');
  await run(join(root, 'node_modules', '.bin', 'tsc'), [
    '-p',
    join(root, 'tsconfig.build.json'),
    '--outDir',
    join(cache, 'dist'),
    '--incremental',
    '--tsBuildInfoFile',
    join(cache, 'tsbuildinfo'),
  ]);
  cpSync(join(cache, 'dist'), join(stage, 'dist'), { recursive: true });
  const packed = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', work], { cwd: stage });
  const tarball = join(work, packed.stdout.trim().split('\n').pop()!);
  cpSync(join(root, 'test', 'package', 'app.package.json'), join(app, 'package.json'));
  await run(
    'npm',
    ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'],
    {
      cwd: app,
    },
  );
}, 120_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('npm pack → install → use', () => {
  it('runs the README "Embed it" example from the installed package', async () => {
    const code = readmeBlock('embed:example');
    writeFileSync(join(app, 'embed.mjs'), code);
    const { stdout } = await run('node', ['embed.mjs'], { cwd: app });
    expect(stdout.trim().split('\n')).toEqual(expectedOutput(code));
  });

  it('has typings for the public API and exports nothing but its entry point', async () => {
    const pkg = join(app, 'node_modules', 'permify-ts');
    const types = readFileSync(join(pkg, 'dist', 'index.d.ts'), 'utf8');
    for (const name of ['permify', 'createEngine', 'createMemoryStore', 'createPostgresStore', 'compileSchema']) {
      expect(types).toContain(name);
    }
    const probe = `import('permify-ts/dist/engine/index.js').then(() => console.log('open'), (e) => console.log(e.code))`;
    const { stdout } = await run('node', ['--input-type=module', '-e', probe], { cwd: app });
    expect(stdout.trim()).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  it('installs the permify bin (--version, version, fmt)', async () => {
    const bin = join(app, 'node_modules', '.bin', 'permify');
    const version = `v${(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version}\n`;
    expect((await run(bin, ['--version'], { cwd: app })).stdout).toBe(version);
    expect((await run(bin, ['version'], { cwd: app })).stdout).toBe(version);
    writeFileSync(join(app, 'schema.perm'), 'entity user {}\nentity doc { relation owner @user }\n');
    expect((await run(bin, ['fmt', 'schema.perm'], { cwd: app })).stdout).toContain('relation owner @user');
  });
});
