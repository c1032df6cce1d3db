/** Code blocks of README.md, for the tests that run them (the README cannot drift from what works). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const readmePath = join(import.meta.dirname, '..', '..', 'README.md');

/** The fenced code block that follows `<!-- marker ... -->` in README.md. */
export function readmeBlock(marker: string): string {
  const readme = readFileSync(readmePath, 'utf8');
  const at = readme.indexOf(`<!-- ${marker}`);
  if (at < 0) throw new Error(`README.md has no <!-- ${marker} --> block`);
  const m = /```[a-z]*\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!m) throw new Error(`no code block after <!-- ${marker} -->`);
  return m[1]!;
}

/** `console.log(...); // expected` lines of a snippet: the expected output, one line each. */
export function expectedOutput(code: string): string[] {
  return code
    .split('\n')
    .filter((l) => l.trimStart().startsWith('console.log('))
    .map((l) => l.slice(l.lastIndexOf('// ') + 3).trim());
}
