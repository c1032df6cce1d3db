/**
 * `permify repair datastore`: advances PostgreSQL's transaction-id counter past the ids recorded in
 * `transactions` after a database was restored or copied into another cluster, so new writes order after
 * the old ones. Never modifies data; gives up after 30 minutes.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { isPostgresUri } from '../../config/schema.js';
import { repairTransactionIds } from '../../storage/postgres/index.js';

const TIMEOUT_MS = 30 * 60_000;

function positiveInt(name: string, min: number): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value)))
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return Number(value);
  };
}

function boolArg(value: string): boolean {
  const v = value.toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new InvalidArgumentError('expected true or false');
}

interface RepairFlags {
  databaseUri?: string;
  databaseEngine: string;
  batchSize: number;
  dryRun: boolean;
  verbose: boolean;
  retries: number;
}

export function registerRepair(program: Command): void {
  const repair = program.command('repair').description('repair a datastore after a restore or migration');
  repair
    .command('datastore')
    .description('advance the PostgreSQL transaction-id counter past the ids recorded in transactions')
    .option('--database-uri <uri>', 'PostgreSQL connection URI (required; env PERMIFY_DATABASE_URI)')
    .option('--database-engine <engine>', 'only postgres is supported', 'postgres')
    .option('--batch-size <n>', 'transaction ids taken per batch', positiveInt('--batch-size', 1), 1000)
    .option('--dry-run [bool]', 'only report what would be done', boolArg, false)
    .option('--verbose [bool]', 'print progress', boolArg, true)
    .option('--retries <n>', 'retries of a failed batch', positiveInt('--retries', 0), 3)
    .action(async (flags: RepairFlags) => {
      if (flags.databaseEngine !== 'postgres')
        throw new Error(`repair supports only the postgres engine (got "${flags.databaseEngine}")`);
      const uri = flags.databaseUri ?? process.env.PERMIFY_DATABASE_URI ?? '';
      if (uri === '') throw new Error('database uri is required (--database-uri or PERMIFY_DATABASE_URI)');
      if (!isPostgresUri(uri)) throw new Error('database uri must be a postgres:// or postgresql:// URL');
      const out = (line: string): void => {
        process.stdout.write(`${line}\n`);
      };
      const result = await repairTransactionIds(uri, {
        batchSize: flags.batchSize,
        dryRun: flags.dryRun === true,
        retries: flags.retries,
        signal: AbortSignal.timeout(TIMEOUT_MS),
        ...(flags.verbose === false ? {} : { log: out }),
      });
      if (result.advanced === 0n) out('transaction ids are already past every recorded id; nothing to do');
      else if (flags.dryRun === true) out(`dry run: would advance the transaction-id counter by ${result.advanced}`);
      else out(`advanced the transaction-id counter by ${result.advanced}`);
    });
}
