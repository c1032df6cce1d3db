import { statSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { createDataClient, type ClientOptions } from '../data/client.js';
import { describeExport, runExport } from '../data/export.js';
import type { DataFormat } from '../data/formats.js';
import { describeImport, runImport } from '../data/import.js';
import { createProgress } from '../data/progress.js';

interface ClientFlags {
  address: string;
  token?: string;
  tls?: boolean;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsServerName?: string;
  progress: boolean;
}

function positiveInt(name: string) {
  return (v: string): number => {
    if (!/^[1-9][0-9]{0,8}$/.test(v)) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return Number(v);
  };
}

function format(v: string): DataFormat {
  if (v !== 'ndjson' && v !== 'yaml') throw new InvalidArgumentError('expected ndjson or yaml');
  return v;
}

function onError(v: string): 'skip' | 'abort' {
  if (v !== 'skip' && v !== 'abort') throw new InvalidArgumentError('expected skip or abort');
  return v;
}

/** The flags every command talking to a running server shares. */
function withClientFlags(cmd: Command): Command {
  return cmd
    .option('--address <host:port>', 'gRPC address of the running server', 'localhost:3478')
    .option('--token <token>', 'bearer token (preshared key or OIDC token; env PERMIFY_TOKEN)')
    .option('--tls', 'connect with TLS (system roots unless --tls-ca)')
    .option('--tls-ca <file>', 'PEM of the CA that signed the server certificate (implies --tls)')
    .option('--tls-cert <file>', 'client certificate PEM for mutual TLS (implies --tls)')
    .option('--tls-key <file>', 'client key PEM for mutual TLS (implies --tls)')
    .option('--tls-server-name <name>', 'name to verify the server certificate against')
    .option('--no-progress', 'no progress output');
}

function clientOptions(f: ClientFlags): ClientOptions {
  const tls = f.tls || f.tlsCa !== undefined || f.tlsCert !== undefined || f.tlsKey !== undefined;
  const token = f.token ?? process.env.PERMIFY_TOKEN;
  return {
    address: f.address,
    ...(token ? { token } : {}),
    ...(tls
      ? {
          tls: {
            ...(f.tlsCa ? { caPath: f.tlsCa } : {}),
            ...(f.tlsCert ? { certPath: f.tlsCert } : {}),
            ...(f.tlsKey ? { keyPath: f.tlsKey } : {}),
            ...(f.tlsServerName ? { serverName: f.tlsServerName } : {}),
          },
        }
      : {}),
  };
}

const silentProgress = {
  update() {},
  log(line: string) {
    process.stderr.write(`${line}\n`);
  },
  finish() {},
};

/**
 * `permify data export|import`: bulk transfer of a tenant's relationships and attributes with a running
 * server (permifyts.v1.Data over gRPC). Exit code 1 on failure or, for import, when lines were bad.
 */
export function registerData(program: Command): void {
  const data = program.command('data').description('bulk export and import of relationships and attributes');

  withClientFlags(
    data
      .command('export')
      .description('stream every live tuple and attribute of a tenant at one snapshot')
      .requiredOption('--tenant <id>', 'tenant id')
      .option('--snap-token <token>', 'snapshot to export (default: the head)')
      .option('--format <format>', "ndjson (exact) or yaml (a validation file's lists)", format, 'ndjson' as DataFormat)
      .option('--out <file>', 'output file (default: stdout)')
      .option('--page-size <n>', 'items per page', positiveInt('--page-size'))
      .option('--resume', 'continue an interrupted export into --out')
      .option('--state <file>', 'resume state file (default: <out>.export-state.json)'),
  ).action(
    async (
      flags: ClientFlags & {
        tenant: string;
        snapToken?: string;
        format: DataFormat;
        out?: string;
        pageSize?: number;
        resume?: boolean;
        state?: string;
      },
    ) => {
      const client = createDataClient(clientOptions(flags));
      const progress = flags.progress ? createProgress({ label: 'exported' }) : silentProgress;
      try {
        const summary = await runExport(
          {
            tenantId: flags.tenant,
            format: flags.format,
            resume: flags.resume === true,
            ...(flags.snapToken ? { snapToken: flags.snapToken } : {}),
            ...(flags.out !== undefined ? { out: flags.out } : {}),
            ...(flags.pageSize !== undefined ? { pageSize: flags.pageSize } : {}),
            ...(flags.state !== undefined ? { statePath: flags.state } : {}),
          },
          { client, progress, stdout: process.stdout },
        );
        progress.finish();
        process.stderr.write(`${describeExport(summary)}\n`);
      } finally {
        progress.finish();
        client.close();
      }
    },
  );

  withClientFlags(
    data
      .command('import')
      .description('load NDJSON exports or validation files (relationships:/attributes:) into a tenant')
      .argument('<files...>', 'input files (.ndjson, or .yaml/.yml validation files)')
      .requiredOption('--tenant <id>', 'tenant id')
      .option('--format <format>', 'ndjson or yaml (default: by file extension)', format)
      .option('--schema-version <version>', 'schema version to validate against (default: the head)')
      .option('--batch-size <n>', 'items per batch (one transaction)', positiveInt('--batch-size'), 5000)
      .option('--on-error <mode>', 'bad lines: skip (report and go on) or abort', onError, 'abort' as const)
      .option('--resume', 'continue after the last committed batch of an interrupted import')
      .option('--state <file>', 'resume state file (default: <first file>.import-state.json)'),
  ).action(
    async (
      files: string[],
      flags: ClientFlags & {
        tenant: string;
        format?: DataFormat;
        schemaVersion?: string;
        batchSize: number;
        onError: 'skip' | 'abort';
        resume?: boolean;
        state?: string;
      },
    ) => {
      const client = createDataClient(clientOptions(flags));
      const totalBytes = files.reduce((n, f) => n + statSync(f).size, 0);
      const progress = flags.progress ? createProgress({ label: 'imported', totalBytes }) : silentProgress;
      try {
        const summary = await runImport(
          {
            tenantId: flags.tenant,
            files,
            batchSize: flags.batchSize,
            onError: flags.onError,
            resume: flags.resume === true,
            statePath: flags.state ?? `${files[0]}.import-state.json`,
            ...(flags.format ? { format: flags.format } : {}),
            ...(flags.schemaVersion ? { schemaVersion: flags.schemaVersion } : {}),
          },
          { client, progress, report: (line) => progress.log(line) },
        );
        progress.finish();
        process.stderr.write(`${describeImport(summary)}\n`);
        if (summary.aborted || summary.badLines > 0) process.exitCode = 1;
      } finally {
        progress.finish();
        client.close();
      }
    },
  );
}
