import type { Command } from 'commander';
import { isPostgresUri } from '../../config/schema.js';
import { migrateDown, migrateUp, migrationStatus } from '../../storage/postgres/index.js';
import type { MigrationStepEvent } from '../../storage/postgres/migrator.js';

interface MigrateFlags {
  databaseUri?: string;
  databaseEngine?: string;
  target?: string;
}

/**
 * The engine and URI to migrate, flag before environment. `undefined` for the memory engine, which keeps
 * nothing between runs and so has nothing to migrate (the command succeeds without doing anything).
 */
function resolveUri(flags: MigrateFlags): string | undefined {
  const engine = flags.databaseEngine ?? process.env.PERMIFY_DATABASE_ENGINE ?? 'postgres';
  if (engine === 'memory') return undefined;
  if (engine !== 'postgres') throw new Error(`unsupported database engine "${engine}" (expected postgres or memory)`);
  const uri = flags.databaseUri ?? process.env.PERMIFY_DATABASE_URI ?? '';
  if (uri === '') throw new Error('database uri is required (--database-uri or PERMIFY_DATABASE_URI)');
  if (!isPostgresUri(uri)) throw new Error('database uri must be a postgres:// or postgresql:// URL');
  return uri;
}

/** `--target N`: a migration version; 0 (the default) has a per-command meaning. */
function parseTarget(flags: MigrateFlags): bigint {
  const raw = flags.target ?? '0';
  if (!/^\d+$/.test(raw)) throw new Error(`--target must be a non-negative integer version (got "${raw}")`);
  return BigInt(raw);
}

function memoryNoop(): void {
  process.stdout.write('the memory engine has no migrations\n');
}

function withDatabaseFlags(cmd: Command): Command {
  return cmd
    .option('--database-uri <uri>', 'PostgreSQL connection URI (env PERMIFY_DATABASE_URI)')
    .option(
      '--database-engine <engine>',
      'postgres (default) or memory, which has nothing to migrate (env PERMIFY_DATABASE_ENGINE)',
    );
}

function printReverted(reverted: readonly string[]): void {
  process.stdout.write(
    reverted.length === 0 ? 'no applied migrations\n' : reverted.map((v) => `reverted ${v}\n`).join(''),
  );
}

/**
 * `permify migrate up|down|status|reset`: applies, reverts or lists the PostgreSQL migrations. Safe to run
 * from several processes at once (an advisory lock serialises them). Exit code 1 on failure.
 */
/** Progress on stderr (stdout keeps the `applied <version>` / `reverted <version>` lines scripts read). */
function progress(e: MigrationStepEvent): void {
  const verb = e.direction === 'up' ? 'applying' : 'reverting';
  process.stderr.write(
    e.phase === 'start'
      ? `[${e.step}/${e.of}] ${verb} ${e.version} ${e.name}...\n`
      : `[${e.step}/${e.of}] ${e.version} done in ${e.durationMs} ms\n`,
  );
}

export function registerMigrate(program: Command): void {
  const migrate = program.command('migrate').description('manage PostgreSQL database migrations');

  withDatabaseFlags(
    migrate
      .command('up')
      .description('apply pending migrations')
      .option('--target <version>', 'apply only up to and including this version (0 = all)', '0'),
  ).action(async (flags: MigrateFlags) => {
    const target = parseTarget(flags);
    const uri = resolveUri(flags);
    if (uri === undefined) return memoryNoop();
    const applied = await migrateUp(uri, { ...(target === 0n ? {} : { upTo: target }), onStep: progress });
    process.stdout.write(
      applied.length === 0 ? 'no pending migrations\n' : applied.map((v) => `applied ${v}\n`).join(''),
    );
  });

  withDatabaseFlags(
    migrate
      .command('down')
      .description('revert applied migrations (the newest one by default)')
      .option('--target <version>', 'revert every applied migration newer than this version (0 = one step)', '0')
      .option('--steps <n>', 'how many of the newest migrations to revert (instead of --target)'),
  ).action(async (flags: MigrateFlags & { steps?: string }, cmd: Command) => {
    const target = parseTarget(flags);
    let steps = 1;
    if (flags.steps !== undefined) {
      if (cmd.getOptionValueSource('target') === 'cli') throw new Error('--steps and --target cannot be combined');
      steps = Number(flags.steps);
      if (!/^\d+$/.test(flags.steps) || !Number.isSafeInteger(steps) || steps < 1)
        throw new Error(`--steps must be a positive integer (got "${flags.steps}")`);
    }
    const uri = resolveUri(flags);
    if (uri === undefined) return memoryNoop();
    if (target !== 0n) {
      const rows = await migrationStatus(uri);
      steps = rows.filter((r) => r.applied && BigInt(r.version) > target).length;
      if (steps === 0) return printReverted([]);
    }
    printReverted(await migrateDown(uri, steps, { onStep: progress }));
  });

  withDatabaseFlags(migrate.command('reset').description('revert every applied migration')).action(
    async (flags: MigrateFlags) => {
      const uri = resolveUri(flags);
      if (uri === undefined) return memoryNoop();
      printReverted(await migrateDown(uri, Number.MAX_SAFE_INTEGER, { onStep: progress }));
    },
  );

  withDatabaseFlags(migrate.command('status').description('list migrations and whether they are applied')).action(
    async (flags: MigrateFlags) => {
      const uri = resolveUri(flags);
      if (uri === undefined) return memoryNoop();
      const rows = await migrationStatus(uri);
      for (const r of rows) {
        const when = r.appliedAt ? r.appliedAt.toISOString() : 'pending';
        process.stdout.write(
          `${r.version}  ${r.name.padEnd(28)}  ${r.applied ? 'applied' : 'pending'}  ${r.applied ? when : ''}`.trimEnd() +
            '\n',
        );
      }
    },
  );
}
