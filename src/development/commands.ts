/**
 * The `validate` and `coverage` command flows, independent of the CLI framework: they write report lines
 * through `out` (standard output) and `err` (standard error) and return the process exit code.
 */
import { isPermifyError } from '../errors.js';
import {
  checkCoverageThresholds,
  computeCoverage,
  formatCoverage,
  formatCoverageTotals,
  type CoverageThresholds,
} from './coverage.js';
import { runValidation, type SandboxFactory, type ValidationNotation } from './validate.js';
import { loadValidationFile, type LoadedValidationFile, type LoadOptions } from './validation-file.js';
import { locateInYaml, type YamlPath } from './yaml-location.js';

export interface CommandIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

export interface ValidationToolkit {
  readonly createSandbox: SandboxFactory;
  readonly notation: ValidationNotation;
  readonly load?: LoadOptions;
}

/**
 * `  at <file>:<line>:<column> (<what>)`: where in the validation file the failing item is, after upstream's
 * `Error: ...` line (kept as is for scripts). A schema diagnostic (`L:C: ...`) is mapped into the file's
 * inline schema; any other error to the relationship, attribute or scenario being processed.
 */
function locationLine(loaded: LoadedValidationFile | undefined, item: YamlPath, e: unknown): string | undefined {
  if (loaded?.text === undefined) return undefined;
  // Upstream writes most diagnostics as `L:C: message`, duplications as `L:C:message`.
  const diag = /^(\d+):(\d+):/.exec(messageOf(e));
  if (diag && item[0] === 'schema') {
    const at = locateInYaml(loaded.text, ['schema'], { line: Number(diag[1]), column: Number(diag[2]) });
    return at && `  at ${loaded.origin}:${at.line}:${at.column} (schema line ${diag[1]})`;
  }
  const at = locateInYaml(loaded.text, item);
  if (at === undefined) return undefined;
  const what = typeof item[1] === 'number' ? `${String(item[0])}[${item[1]}]` : item.join('.');
  return `  at ${loaded.origin}:${at.line}:${at.column} (${what})`;
}

function messageOf(e: unknown): string {
  if (isPermifyError(e)) return e.message;
  return e instanceof Error ? e.message : String(e);
}

/**
 * `permify validate FILE|URL...`: runs each file in turn. With one file the output is exactly upstream's; with
 * several, each report is preceded by `validating <file>` and followed by a blank line, and a `summary:`
 * block lists every file's outcome. Exit code 1 when any file failed or could not be run.
 */
export async function validateCommand(
  locations: readonly string[],
  io: CommandIo,
  toolkit: ValidationToolkit,
): Promise<number> {
  const many = locations.length > 1;
  const summary: string[] = [];
  let exitCode = 0;
  for (const location of locations) {
    if (many) io.out(`validating ${location}`);
    let loaded: LoadedValidationFile | undefined;
    let item: YamlPath = ['schema'];
    try {
      loaded = await loadValidationFile(location, toolkit.load);
      const result = await runValidation(loaded, {
        out: io.out,
        createSandbox: toolkit.createSandbox,
        notation: toolkit.notation,
        onItem: (path) => (item = path),
      });
      if (result.failures.length > 0) {
        exitCode = 1;
        summary.push(
          `  ${location}: FAILED (${result.failures.length} failure${result.failures.length === 1 ? '' : 's'})`,
        );
      } else {
        const w = result.warnings.length;
        summary.push(`  ${location}: SUCCESS${w > 0 ? ` (${w} warning${w === 1 ? '' : 's'})` : ''}`);
      }
    } catch (e) {
      exitCode = 1;
      io.err(`Error: ${messageOf(e)}`);
      const where = locationLine(loaded, item, e);
      if (where !== undefined) io.err(where);
      summary.push(`  ${location}: ERROR (${messageOf(e)})`);
    }
    if (many) io.out('');
  }
  if (many) {
    io.out('summary:');
    for (const line of summary) io.out(line);
  }
  return exitCode;
}

/**
 * `permify coverage FILE`: the validate flow, then the coverage report, a total line, and the threshold check
 * (assertions, relationships, attributes, in that order).
 */
export async function coverageCommand(
  location: string,
  thresholds: CoverageThresholds,
  io: CommandIo,
  toolkit: ValidationToolkit,
): Promise<number> {
  io.out('initiating validation... 🚀');
  let loaded;
  let result;
  try {
    loaded = await loadValidationFile(location, toolkit.load);
    result = await runValidation(loaded, {
      out: io.out,
      createSandbox: toolkit.createSandbox,
      notation: toolkit.notation,
    });
  } catch (e) {
    io.err(`Error: ${messageOf(e)}`);
    io.out('failed to validate given file');
    io.out('');
    io.out('FAILED');
    return 1;
  }
  if (result.failures.length > 0) return 1;

  io.out('initiating coverage analysis... 🚀');
  const report = computeCoverage(result.schema, loaded.file);
  for (const line of formatCoverage(report)) io.out(line);
  io.out(formatCoverageTotals(report.totals));
  const failure = checkCoverageThresholds(report.totals, thresholds);
  if (failure !== undefined) {
    io.out(failure);
    io.out('FAILED');
    return 1;
  }
  return 0;
}
