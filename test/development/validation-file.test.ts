import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PermifyError } from '../../src/errors.js';
import {
  decodeValidationFile,
  effectiveDepth,
  loadValidationFile,
  resolveSchema,
  rewriteGistUrl,
} from '../../src/development/validation-file.js';

const PUBLIC = '/work/shared/conformance/public';

async function rejection(p: Promise<unknown>): Promise<PermifyError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(PermifyError);
    return e as PermifyError;
  }
  throw new Error('expected a rejection');
}

function thrown(f: () => unknown): PermifyError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PermifyError);
    return e as PermifyError;
  }
  throw new Error('expected a throw');
}

describe('decodeValidationFile', () => {
  it('decodes every section with file order and defaults', () => {
    const f = decodeValidationFile(`
tenant_id: t9
schema: "entity user {}"
relationships:
  - doc:1#viewer@user:1
attributes:
  - doc:1$public|boolean:true
unknown_key: { whatever: 1 }
scenarios:
  - name: s
    description: d
    checks:
      - entity: doc:1
        subject: user:1
        depth: 7
        context:
          tuples: [ "doc:2#viewer@user:1" ]
          data: { amount: 3000, nested: { list: [1, "a"] } }
        assertions:
          zeta: true
          alpha: false
          checks:
    entity_filters:
      - entity_type: doc
        subject: user:1
        assertions:
          view: [1, 007, "x"]
          none:
    subject_filters:
      - subject_reference: group#member
        entity: doc:1
        context: null
        assertions:
          view: []
`);
    expect(f.tenantId).toBe('t9');
    expect(f.schema).toBe('entity user {}');
    expect(f.relationships).toEqual(['doc:1#viewer@user:1']);
    expect(f.attributes).toEqual(['doc:1$public|boolean:true']);
    const s = f.scenarios[0]!;
    expect(s.checks[0]!.depth).toBe(7);
    expect(s.checks[0]!.assertions).toEqual([
      { name: 'zeta', expected: true },
      { name: 'alpha', expected: false },
      { name: 'checks', expected: false },
    ]);
    expect(s.checks[0]!.context.tuples).toEqual(['doc:2#viewer@user:1']);
    expect(s.checks[0]!.context.data).toEqual({ amount: 3000, nested: { list: [1, 'a'] } });
    expect(s.entityFilters[0]!.depth).toBe(0);
    expect(s.entityFilters[0]!.assertions).toEqual([
      { name: 'view', expected: ['1', '007', 'x'] },
      { name: 'none', expected: [] },
    ]);
    expect(s.subjectFilters[0]!.subjectReference).toBe('group#member');
    expect(s.subjectFilters[0]!.context).toEqual({ tuples: [], attributes: [], data: {} });
  });

  it('treats an empty document as an empty file', () => {
    const f = decodeValidationFile('');
    expect(f.schema).toBe('');
    expect(f.scenarios).toEqual([]);
  });

  it('rejects a context written as a list (older docs) naming the path', () => {
    const e = thrown(() =>
      decodeValidationFile(
        'scenarios:\n  - name: a\n    checks:\n      - entity: a:1\n        context:\n          - tuples: []\n',
      ),
    );
    expect(e.code).toBe('ERROR_CODE_INVALID_ARGUMENT');
    expect(e.message).toBe('scenarios[0].checks[0].context: expected a mapping');
  });

  it('rejects a non-boolean check assertion and a non-integer depth', () => {
    expect(
      thrown(() => decodeValidationFile('scenarios:\n  - checks:\n      - assertions:\n          view: [1]\n')).message,
    ).toBe('scenarios[0].checks[0].assertions.view: expected a boolean');
    expect(thrown(() => decodeValidationFile('scenarios:\n  - checks:\n      - depth: deep\n')).message).toBe(
      'scenarios[0].checks[0].depth: expected an integer',
    );
  });

  it('reports invalid YAML with its position', () => {
    const e = thrown(() => decodeValidationFile('schema: [1\nrelationships: }\n'));
    expect(e.message).toMatch(/^invalid validation file: yaml: .+ at line \d+, column \d+$/);
  });

  it('rejects a top level that is not a mapping', () => {
    expect(thrown(() => decodeValidationFile('- a\n- b\n')).message).toBe('validation file: expected a mapping');
  });
});

describe('effectiveDepth', () => {
  it('maps 0 to 100 and keeps everything else', () => {
    expect(effectiveDepth(0)).toBe(100);
    expect(effectiveDepth(2)).toBe(2);
    expect(effectiveDepth(-1)).toBe(-1);
    expect(effectiveDepth(50)).toBe(50);
  });
});

describe('schema resolution', () => {
  const dir = mkdtempSync(join(tmpdir(), 'permify-vf-'));
  writeFileSync(join(dir, 'model.perm'), 'entity user {}\nentity doc {}\n');
  writeFileSync(join(dir, 'empty.perm'), '  \n');

  it('keeps inline text', async () => {
    expect(await resolveSchema('entity user {}\n', { baseDir: dir })).toBe('entity user {}\n');
  });

  it('reads a relative path next to the validation file', async () => {
    expect(await resolveSchema('model.perm', { baseDir: dir })).toBe('entity user {}\nentity doc {}\n');
    expect(await resolveSchema('./model.perm', { baseDir: dir })).toBe('entity user {}\nentity doc {}\n');
  });

  it('refuses absolute paths and paths through ..', async () => {
    expect((await rejection(resolveSchema(join(dir, 'model.perm'), { baseDir: dir }))).message).toBe(
      'invalid file path',
    );
    expect((await rejection(resolveSchema('../x/model.perm', { baseDir: dir }))).message).toBe('invalid file path');
    expect((await rejection(resolveSchema('a/../../model.perm', { baseDir: dir }))).message).toBe('invalid file path');
  });

  it('rejects empty schemas', async () => {
    expect((await rejection(resolveSchema('', {}))).message).toBe('schema is empty');
    expect((await rejection(resolveSchema('empty.perm', { baseDir: dir }))).message).toBe('schema is empty');
  });

  it('fetches http(s) URLs and refuses other schemes', async () => {
    const seen: string[] = [];
    const fakeFetch = async (url: string): Promise<Response> => {
      seen.push(url);
      return new Response(url.endsWith('/missing') ? 'nope' : 'entity user {}', {
        status: url.endsWith('/missing') ? 404 : 200,
      });
    };
    expect(await resolveSchema('https://example.test/s.perm', { fetch: fakeFetch })).toBe('entity user {}');
    expect(await resolveSchema('https://gist.github.com/someone/abc', { fetch: fakeFetch })).toBe('entity user {}');
    expect(seen).toEqual(['https://example.test/s.perm', 'https://gist.githubusercontent.com/someone/abc/raw']);
    expect((await rejection(resolveSchema('ftp://example.test/s.perm', { fetch: fakeFetch }))).message).toBe(
      'invalid URL scheme',
    );
    expect((await rejection(resolveSchema('https://example.test/missing', { fetch: fakeFetch }))).message).toBe(
      'failed to fetch https://example.test/missing: HTTP 404',
    );
  });

  it('rewrites gist links only', () => {
    expect(rewriteGistUrl(new URL('https://gist.github.com/u/1/'))).toBe('https://gist.githubusercontent.com/u/1/raw');
    expect(rewriteGistUrl(new URL('https://example.test/a'))).toBe('https://example.test/a');
  });
});

describe('loadValidationFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'permify-vl-'));
  writeFileSync(join(dir, 'model.perm'), 'entity user {}\n');
  writeFileSync(join(dir, 'v.yaml'), 'schema: model.perm\nrelationships: []\n');

  it('loads plain paths, file: URLs and relative paths, resolving the schema next to the file', async () => {
    for (const location of [join(dir, 'v.yaml'), pathToFileURL(join(dir, 'v.yaml')).toString()]) {
      const l = await loadValidationFile(location);
      expect(l.schemaText).toBe('entity user {}\n');
    }
    const rel = await loadValidationFile('v.yaml', { cwd: dir });
    expect(rel.schemaText).toBe('entity user {}\n');
  });

  it('fetches http(s) locations', async () => {
    const l = await loadValidationFile('http://example.test/v.yaml', {
      fetch: async () => new Response('schema: |\n  entity user {}\n'),
    });
    expect(l.schemaText).toBe('entity user {}\n');
  });

  it('rejects unknown schemes and missing files', async () => {
    expect((await rejection(loadValidationFile('ftp://example.test/v.yaml'))).message).toBe('unknown decoder type');
    expect((await rejection(loadValidationFile(join(dir, 'nope.yaml')))).message).toMatch(/no such file or directory/);
  });

  it('loads every public conformance file', async () => {
    const scenarioCounts: Record<string, number> = {
      'banking-system': 2,
      'custom-roles': 2,
      'disney-plus': 0,
      'facebook-groups': 4,
      'google-docs-simplified': 1,
      instagram: 3,
      mercury: 0,
      notion: 0,
      'organizations-hierarchies': 1,
      'polymorphic-relations': 0,
      'public-private-repository': 0,
      rbac: 1,
      'user-groups': 0,
    };
    for (const [n, count] of Object.entries(scenarioCounts)) {
      const l = await loadValidationFile(join(PUBLIC, `${n}.yaml`));
      expect(l.schemaText, n).toMatch(/^\s*entity /);
      expect(l.file.scenarios.length, n).toBe(count);
    }
  });
});
