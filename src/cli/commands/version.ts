import type { Command } from 'commander';
import { readFileSync } from 'node:fs';

/** The package version, read from package.json next to the build. */
export function packageVersion(): string {
  const url = new URL('../../../package.json', import.meta.url);
  const pkg = JSON.parse(readFileSync(url, 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

export function registerVersion(program: Command): void {
  program
    .command('version')
    .description('print the permify-ts version (its API is that of Permify v1.7.3)')
    .action(() => {
      // Only the version string, `v` + semver, as Permify prints it: scripts parse this line.
      process.stdout.write(`v${packageVersion()}\n`);
    });
}
