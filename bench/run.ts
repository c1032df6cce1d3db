/**
 * Runs benchmarks: every `bench/*.ts` named on the command line, or all of them (except this runner).
 * Arguments that are not `.ts` files (e.g. `--tuples 100000`) are passed to every benchmark.
 * Each benchmark runs in its own `node --expose-gc --import tsx` process so heap figures do not mix;
 * the exit code is 1 if any benchmark failed.
 *
 *   npm run bench                       # all benchmarks
 *   npm run bench -- bench/engine.ts --tuples 100000
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const files = args.filter((a) => a.endsWith('.ts'));
const passThrough = args.filter((a) => !a.endsWith('.ts'));
const selected =
  files.length > 0
    ? files.map((f) => resolve(f))
    : readdirSync(benchDir)
        .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.test.ts'))
        .sort()
        .map((f) => join(benchDir, f));

let failed = 0;
for (const file of selected) {
  process.stdout.write(`\n=== ${basename(file)} ===\n`);
  const started = Date.now();
  const result = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', file, ...passThrough], {
    stdio: 'inherit',
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.status !== 0) {
    failed++;
    process.stdout.write(
      `=== ${basename(file)}: FAILED (exit ${result.status ?? result.signal}) after ${seconds}s ===\n`,
    );
  } else {
    process.stdout.write(`=== ${basename(file)}: done in ${seconds}s ===\n`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
