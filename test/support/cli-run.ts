/**
 * Runs CLI commands in-process for tests: registers the given commands on a fresh `permify` program, captures
 * stdout/stderr, and returns them with the exit code (a commander error counts as exit 1 with its message).
 */
import { Command } from 'commander';
import { vi } from 'vitest';

export interface CliResult {
  readonly out: string;
  readonly err: string;
  readonly code: number;
}

export async function runCli(commands: ReadonlyArray<(program: Command) => void>, args: readonly string[]): Promise<CliResult> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    out += String(c);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
    err += String(c);
    return true;
  });
  process.exitCode = 0;
  const program = new Command('permify').exitOverride();
  for (const register of commands) register(program);
  try {
    await program.parseAsync([...args], { from: 'user' });
  } catch (x) {
    err += `Error: ${(x as Error).message}`;
    process.exitCode = 1;
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { out, err, code };
}
