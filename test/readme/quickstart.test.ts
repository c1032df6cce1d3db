/**
 * README.md's quick start, run as written: the curl commands against the REST API and the
 * `@permify/permify-node` snippet against gRPC, on a server started with the default configuration (ports
 * moved to free ones). Each `# => ` line is the expected answer of the command above it (`...` = anything);
 * each `console.log(...); // x` prints x.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { expectedOutput, readmeBlock } from '../package/readme.js';

const run = promisify(execFile);
let server: RunningServer;

beforeAll(async () => {
  const { config } = loadConfig({
    env: {},
    cwd: '/nonexistent',
    flags: { 'server.grpc.port': 0, 'server.http.port': 0 },
  });
  server = await startServer(config, { logger: createLogger({ level: 'silent', output: 'json' }) });
});
afterAll(async () => {
  await server.close();
});

/** Splits the curl block into commands (a `curl` line and its continuation) with their `# => ` answers. */
function curlSteps(block: string): { command: string; expected: string }[] {
  const steps: { command: string; expected: string }[] = [];
  let current: string[] | undefined;
  for (const line of block.split('\n')) {
    if (line.startsWith('curl ')) current = [line];
    else if (line.startsWith('# => ') && current) {
      steps.push({ command: current.join('\n'), expected: line.slice('# => '.length) });
      current = undefined;
    } else if (current && !line.startsWith('#') && line.trim() !== '') current.push(line);
  }
  return steps;
}

function pattern(expected: string): RegExp {
  return new RegExp(
    `^${expected
      .split('...')
      .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
}

describe('README quick start', () => {
  it('curl: schema, data, check, lookups answer as the README says', async () => {
    const steps = curlSteps(readmeBlock('quickstart:curl'));
    expect(steps.length).toBeGreaterThanOrEqual(5);
    for (const step of steps) {
      const command = step.command.replaceAll('localhost:3476', `127.0.0.1:${server.ports.http}`);
      const { stdout } = await run('sh', ['-c', command]);
      expect(stdout.trim(), step.command.split('\n')[0]).toMatch(pattern(step.expected));
    }
  });

  it('the README`s depth note holds: a check without metadata.depth is refused with the quoted message', async () => {
    const res = await fetch(`http://127.0.0.1:${server.ports.http}/v1/tenants/t1/permissions/check`, {
      method: 'POST',
      body: JSON.stringify({
        entity: { type: 'document', id: '1' },
        permission: 'edit',
        subject: { type: 'user', id: 'bob' },
      }),
    });
    expect(res.status).toBe(400);
    const note = /refused with\n#\s+"([^"]+)"/.exec(readmeBlock('quickstart:curl'))?.[1];
    expect(((await res.json()) as { message: string }).message).toBe(note);
  });

  it('@permify/permify-node: the snippet prints what its comments say', async () => {
    const code = readmeBlock('quickstart:node').replaceAll('localhost:3478', `127.0.0.1:${server.ports.grpc}`);
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], { timeout: 20_000 });
    expect(stdout.trim().split('\n')).toEqual(expectedOutput(code));
  });
});
