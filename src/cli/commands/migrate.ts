import type { Command } from 'commander';
import { migrateDown, migrateUp, migrationStatus } from '../../storage/postgres/index.js';

interface MigrateFlags {
  databaseUri?: string;
  databaseEngine?: string;
}

function resolveUri(flags: MigrateFlags): string {
  const engine = flags.databaseEngine ?? process.env.PERMIFY_DATABASE_ENGINE ?? 'postgres';
  if (engine !== 'postgres') throw new Error(`migrations exist only for the postgres engine (got "${engine}")`);
  const uri = flags.databaseUri ?? process.env.PERMIFY_DATABASE_URI ?? '';
  if (uri === '') throw new Error('database uri is required (--database-uri or PERMIFY_DATABASE_URI)');
  return uri;
}

function withDatabaseFlags(cmd: Command): Command {
  return cmd
    .option('--database-uri <uri>', 'PostgreSQL connection URI (env PERMIFY_DATABASE_URI)')
    .option(
      '--database-engine <engine>',
      'database engine; only "postgres" has migrations (env PERMIFY_DATABASE_ENGINE)',
    );
}

/**
 * `permify migrate up|down|status`: applies, reverts or lists the PostgreSQL migrations. Safe to run from
 * several processes at once (an advisory lock serialises them). Exit code 1 on failure.
 */
export function registerMigrate(program: Command): void {
  const migrate = program.command('migrate').description('manage PostgreSQL database migrations');

  withDatabaseFlags(migrate.command('up').description('apply every pending migration')).action(
    async (flags: MigrateFlags) => {
      const applied = await migrateUp(resolveUri(flags));
      process.stdout.write(
        applied.length === 0 ? 'no pending migrations\n' : applied.map((v) => `applied ${v}\n`).join(''),
      );
    },
  );

  withDatabaseFlags(
    migrate
      .command('down')
      .description('revert the newest applied migrations')
      .option('--steps <n>', 'how many migrations to revert', '1'),
  ).action(async (flags: MigrateFlags & { steps: string }) => {
    const steps = Number(flags.steps);
    if (!Number.isSafeInteger(steps) || steps < 1)
      throw new Error(`--steps must be a positive integer (got "${flags.steps}")`);
    const reverted = await migrateDown(resolveUri(flags), steps);
    process.stdout.write(
      reverted.length === 0 ? 'no applied migrations\n' : reverted.map((v) => `reverted ${v}\n`).join(''),
    );
  });

  withDatabaseFlags(migrate.command('status').description('list migrations and whether they are applied')).action(
    async (flags: MigrateFlags) => {
      const rows = await migrationStatus(resolveUri(flags));
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
