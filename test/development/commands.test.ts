import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { coverageCommand, validateCommand, type ValidationToolkit } from '../../src/development/commands.js';
import { notation, sandboxFactory } from './support/scripted-toolkit.js';

const dir = mkdtempSync(join(tmpdir(), 'permify-cmd-'));
const write = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const good = write(
  'good.yaml',
  'schema: "entity user {}"\nrelationships:\n  - doc:1#viewer@user:ann\nscenarios:\n  - name: s\n    description: d\n    checks:\n      - entity: doc:1\n        subject: user:ann\n        assertions:\n          view: true\n',
);
const bad = write(
  'bad.yaml',
  'schema: "entity user {}"\nscenarios:\n  - name: s\n    description: d\n    checks:\n      - entity: doc:1\n        subject: user:ann\n        assertions:\n          view: true\n          viewer: true\n',
);
const fatal = write('fatal.yaml', 'schema: "entity user {}"\nrelationships: {not: a list}\n');

function toolkit(): ValidationToolkit {
  return { createSandbox: sandboxFactory().factory, notation };
}
function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

describe('validateCommand', () => {
  it('prints exactly the single-file report and exits 0', async () => {
    const c = io();
    expect(await validateCommand([good], c.io, toolkit())).toBe(0);
    expect(c.out[0]).toBe('schema is creating... 🚀');
    expect(c.out.at(-1)).toBe('SUCCESS');
    expect(c.out.some((l) => l.startsWith('validating '))).toBe(false);
    expect(c.err).toEqual([]);
  });

  it('runs several files, summarises each, and exits 1 when one fails', async () => {
    const c = io();
    expect(await validateCommand([good, bad, fatal], c.io, toolkit())).toBe(1);
    expect(c.out.filter((l) => l.startsWith('validating '))).toEqual([
      `validating ${good}`,
      `validating ${bad}`,
      `validating ${fatal}`,
    ]);
    expect(c.out.slice(-4)).toEqual([
      'summary:',
      `  ${good}: SUCCESS`,
      `  ${bad}: FAILED (2 failures)`,
      `  ${fatal}: ERROR (relationships: expected a list of strings)`,
    ]);
    expect(c.err).toEqual(['Error: relationships: expected a list of strings']);
  });
});

describe('coverageCommand', () => {
  it('validates, then prints the report and the totals', async () => {
    const c = io();
    expect(await coverageCommand(good, {}, c.io, toolkit())).toBe(0);
    expect(c.out[0]).toBe('initiating validation... 🚀');
    const at = c.out.indexOf('initiating coverage analysis... 🚀');
    expect(at).toBeGreaterThan(c.out.indexOf('SUCCESS'));
    expect(c.out.slice(at + 1)).toEqual([
      'schema coverage information:',
      'entity: user',
      '  uncovered relationships:',
      '  uncovered assertions:',
      '  coverage relationships percentage: 100%',
      '  coverage attributes percentage: 100%',
      '  coverage assertions percentage: ',
      '    s: 100%',
      'entity: doc',
      '  uncovered relationships:',
      '  uncovered assertions:',
      '    s:',
      '    \tdoc#broken',
      '  coverage relationships percentage: 100%',
      '  coverage attributes percentage: 100%',
      '  coverage assertions percentage: ',
      '    s: 50%',
      'total coverage: relationships 100%, attributes 100%, assertions 75%',
    ]);
  });

  it('fails below a threshold', async () => {
    const c = io();
    expect(await coverageCommand(good, { assertions: 80 }, c.io, toolkit())).toBe(1);
    expect(c.out.slice(-2)).toEqual(['assertions coverage < 80%', 'FAILED']);
  });

  it('stops after a failed validation with exit code 1 and no coverage', async () => {
    const c = io();
    expect(await coverageCommand(bad, {}, c.io, toolkit())).toBe(1);
    expect(c.out.at(-1)).toBe('FAILED');
    expect(c.out).not.toContain('initiating coverage analysis... 🚀');
  });

  it('reports a fatal error the upstream way', async () => {
    const c = io();
    expect(await coverageCommand(fatal, {}, c.io, toolkit())).toBe(1);
    expect(c.out).toEqual(['initiating validation... 🚀', 'failed to validate given file', '', 'FAILED']);
  });
});
