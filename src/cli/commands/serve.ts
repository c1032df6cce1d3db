/**
 * `permify serve`: loads the configuration (defaults < YAML < PERMIFY_* env < flags), prints it with
 * secrets redacted at info, and runs the server until SIGINT/SIGTERM. Every configuration key is a flag
 * (Permify's names, derived from the config schema).
 */
import { Command, Option } from 'commander';
import { loadConfig } from '../../config/load.js';
import { configLeaves } from '../../config/schema.js';
import { startServer } from '../../server.js';

/** Adds one option per configuration key; returns a function reading the explicitly passed ones. */
export function addConfigFlags(cmd: Command): (c: Command) => Record<string, unknown> {
  const byAttr = new Map<string, string>();
  for (const leaf of configLeaves) {
    const m = leaf.meta;
    const opt =
      m.kind === 'bool'
        ? new Option(`--${m.flag} [bool]`, `${m.doc} (${leaf.key}, env ${m.env})`)
        : new Option(`--${m.flag} <${m.kind}>`, `${m.doc} (${leaf.key}, env ${m.env})`);
    // A list flag given several times accumulates (as Go's string-slice flags do) instead of keeping the last.
    if (m.kind === 'list')
      opt.argParser((value: string, previous: unknown) =>
        typeof previous === 'string' ? `${previous},${value}` : value,
      );
    cmd.addOption(opt);
    byAttr.set(opt.attributeName(), leaf.key);
  }
  return (c) => {
    const flags: Record<string, unknown> = {};
    const values = c.opts<Record<string, unknown>>();
    for (const [attr, key] of byAttr) {
      if (c.getOptionValueSource(attr) === 'cli') flags[key] = values[attr] === true ? 'true' : values[attr];
    }
    return flags;
  };
}

export function registerServe(program: Command): void {
  const cmd = program
    .command('serve')
    .description('start the server (gRPC on 3478, REST on 3476 by default)')
    .option('-c, --config <file>', 'YAML configuration file (default ./config/config.yaml when present)');
  const explicitFlags = addConfigFlags(cmd);
  cmd.action(async () => {
    const configPath = cmd.opts<{ config?: string }>().config;
    const { config } = loadConfig({ ...(configPath !== undefined ? { configPath } : {}), flags: explicitFlags(cmd) });
    await startServer(config, { handleSignals: true });
  });
}
