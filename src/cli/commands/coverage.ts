import { type Command, InvalidArgumentError } from 'commander';
import { coverageCommand } from '../../development/commands.js';
import { createDefaultToolkit } from '../../development/toolkit.js';
import { stdio } from './validate.js';

function percentage(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 100) throw new InvalidArgumentError('expected an integer from 0 to 100');
  return Number(value);
}

interface CoverageFlags {
  coverageRelationships?: number;
  coverageAttributes?: number;
  coverageAssertions?: number;
  threshold?: number;
}

/** `permify coverage FILE`: validation, then relationship/attribute/assertion coverage (spec §7.3). */
export function registerCoverage(program: Command): void {
  program
    .command('coverage')
    .description('report how much of the schema a validation file covers')
    .argument('<file>', 'validation file or URL')
    .option('--coverage-relationships <n>', 'minimum relationships coverage (%)', percentage)
    .option('--coverage-attributes <n>', 'minimum attributes coverage (%)', percentage)
    .option('--coverage-assertions <n>', 'minimum assertions coverage (%)', percentage)
    .option('--threshold <n>', 'minimum for all three unless set individually (%)', percentage)
    .action(async (file: string, flags: CoverageFlags) => {
      const all = flags.threshold ?? 0;
      process.exitCode = await coverageCommand(
        file,
        {
          relationships: flags.coverageRelationships ?? all,
          attributes: flags.coverageAttributes ?? all,
          assertions: flags.coverageAssertions ?? all,
        },
        stdio(),
        createDefaultToolkit(),
      );
    });
}
