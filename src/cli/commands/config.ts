/**
 * `permify config`: loads the configuration exactly as `permify serve` would (same `--config` file, PERMIFY_*
 * variables and flags) and prints the effective value of every key as a table of key, value and source
 * (FLAG, ENV, FILE or DEFAULT), secrets masked. Nothing is started; a bad configuration exits 1.
 */
import type { Command } from 'commander';
import { formatConfigTable, loadConfig } from '../../config/load.js';
import { addConfigFlags } from './serve.js';

export function registerConfig(program: Command): void {
  const cmd = program
    .command('config')
    .description('print the effective configuration (same flags as serve), secrets masked')
    .option('-c, --config <file>', 'YAML configuration file (default ./config/config.yaml when present)');
  const explicitFlags = addConfigFlags(cmd);
  cmd.action(() => {
    const configPath = cmd.opts<{ config?: string }>().config;
    const loaded = loadConfig({ ...(configPath !== undefined ? { configPath } : {}), flags: explicitFlags(cmd) });
    process.stdout.write(formatConfigTable(loaded));
  });
}
