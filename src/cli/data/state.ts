/**
 * The local state file of a resumable `permify data` run: written atomically (temporary file + rename)
 * after every acknowledged batch or written page, so a killed run leaves either the previous or the new
 * position, never a torn one.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';

export function readState<T>(path: string): T | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (e) {
    throw new Error(`cannot read the state file ${path}: ${(e as Error).message}`, { cause: e });
  }
}

export function writeState(path: string, state: unknown): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(state) + '\n');
  renameSync(tmp, path);
}

export function removeState(path: string): void {
  rmSync(path, { force: true });
  rmSync(`${path}.tmp`, { force: true });
}
