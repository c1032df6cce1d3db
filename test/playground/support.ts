/**
 * Helpers of the playground suites: make sure `dist/playground` holds a build of the current `playground/`
 * sources (building it with Vite when missing or older than a source file), and start the real server with
 * the playground on.
 */
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const PLAYGROUND_SRC = path.join(ROOT, 'playground');
export const PLAYGROUND_DIST = path.join(ROOT, 'dist', 'playground');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function builtAt(): number {
  try {
    return statSync(path.join(PLAYGROUND_DIST, 'index.html')).mtimeMs;
  } catch {
    return -1;
  }
}

const LOCK = path.join(ROOT, 'dist', '.playground-build.lock');
/** A lock older than this was left by a killed run. */
const STALE_LOCK_MS = 120_000;

/**
 * Builds the playground unless `dist/playground` is newer than every file under `playground/`. Suites run in
 * parallel processes: one builds under a lock directory while the others wait for it, then re-check.
 */
export async function ensurePlaygroundBuilt(): Promise<void> {
  for (;;) {
    if (builtAt() >= newestMtime(PLAYGROUND_SRC)) return;
    mkdirSync(path.dirname(LOCK), { recursive: true });
    try {
      mkdirSync(LOCK);
    } catch {
      const age = Date.now() - (statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    try {
      const { build } = await import('vite');
      await build({ configFile: path.join(PLAYGROUND_SRC, 'vite.config.ts'), logLevel: 'error' });
      return;
    } finally {
      rmSync(LOCK, { recursive: true, force: true });
    }
  }
}

export async function startPlaygroundServer(flags: Record<string, unknown> = {}): Promise<RunningServer> {
  const { config } = loadConfig({
    env: {},
    cwd: '/nonexistent',
    flags: {
      'server.grpc.port': 0,
      'server.http.port': 0,
      'server.rate_limit': 0,
      'server.shutdown_timeout': '2s',
      'server.host': '127.0.0.1',
      ...flags,
    },
  });
  return startServer(config, { logger: createLogger({ level: 'silent', output: 'json' }) });
}
