#!/usr/bin/env node
/**
 * The `permify` command line. Each sub-command lives in `commands/<name>.ts` and registers itself on the
 * program; this file only assembles them and maps failures to exit codes.
 */
import { Command } from 'commander';
import { registerAst } from './commands/ast.js';
import { registerConfig } from './commands/config.js';
import { registerCoverage } from './commands/coverage.js';
import { registerExplain } from './commands/explain.js';
import { registerData } from './commands/data.js';
import { registerFmt } from './commands/fmt.js';
import { registerMigrate } from './commands/migrate.js';
import { registerRepair } from './commands/repair.js';
import { registerServe } from './commands/serve.js';
import { registerValidate } from './commands/validate.js';
import { packageVersion, registerVersion } from './commands/version.js';

export function createProgram(): Command {
  const program = new Command('permify')
    .description('permify-ts: a Permify-compatible authorization service')
    // Same line as `permify version`.
    .version(`v${packageVersion()}`, '-v, --version', 'print the version')
    .showHelpAfterError();
  registerServe(program);
  registerConfig(program);
  registerValidate(program);
  registerCoverage(program);
  registerExplain(program);
  registerAst(program);
  registerFmt(program);
  registerMigrate(program);
  registerData(program);
  registerRepair(program);
  registerVersion(program);
  return program;
}

createProgram()
  .parseAsync(process.argv)
  .catch((e: unknown) => {
    process.stderr.write(`Error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
