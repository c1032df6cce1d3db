import { describe, expect, it } from 'vitest';
import { PermifyError } from '../errors.js';
import { compileSchema, printDefinitions, printSchema } from '../language/index.js';
import { applyPartialWrite, type EntityPartial } from './partial-write.js';

const base = printDefinitions(
  compileSchema(`
entity user {}
entity doc {
    relation owner @user
    relation editor @user
    permission edit = owner or editor
}
rule r(x integer) {
    x > 1
}
`),
);

function apply(partials: Record<string, Partial<EntityPartial>>): string {
  return applyPartialWrite(
    base,
    new Map(
      Object.entries(partials).map(([k, v]) => [
        k,
        { write: v.write ?? [], update: v.update ?? [], delete: v.delete ?? [] },
      ]),
    ),
  );
}

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PermifyError);
    return (e as PermifyError).code;
  }
  throw new Error('expected an error');
}

describe('applyPartialWrite', () => {
  it('writes, updates and deletes members in that order', () => {
    const text = apply({
      doc: {
        write: ['relation viewer @user', 'junk tokens permission view = viewer or edit'],
        update: ['permission edit = owner'],
        delete: ['editor'],
      },
    });
    const s = compileSchema(text);
    const doc = s.entities.get('doc');
    expect(doc?.memberOrder).toEqual(['owner', 'edit', 'viewer', 'view']);
    expect(printSchema(s)).toContain('permission edit = owner\n');
    expect(s.rules.get('r')?.expression).toBe('x > 1');
  });
  it('leaves a kind-changing update as an appended duplicate that fails compilation', () => {
    const text = apply({ doc: { update: ['permission editor = owner'] } });
    expect(codeOf(() => compileSchema(text))).toBe('ERROR_CODE_SCHEMA_PARSE');
  });
  it('reports missing entities, existing and absent members, empty snippets', () => {
    expect(codeOf(() => apply({ folder: { write: ['relation a @user'] } }))).toBe(
      'ERROR_CODE_ENTITY_STATEMENT_NOT_FOUND',
    );
    expect(codeOf(() => apply({ r: { write: ['relation a @user'] } }))).toBe('ERROR_CODE_ENTITY_STATEMENT_NOT_FOUND');
    expect(codeOf(() => apply({ doc: { write: ['relation owner @user'] } }))).toBe('ERROR_CODE_ALREADY_EXIST');
    expect(codeOf(() => apply({ doc: { update: ['relation nope @user'] } }))).toBe('ERROR_CODE_REFERENCE_NOT_FOUND');
    expect(codeOf(() => apply({ doc: { delete: ['nope'] } }))).toBe('ERROR_CODE_REFERENCE_NOT_FOUND');
    expect(() => apply({ doc: { write: ['entity x {}'] } })).toThrow('no valid statement found');
  });
  it('lets the caller detect dangling references after a delete', () => {
    const text = apply({ doc: { delete: ['owner'] } });
    expect(codeOf(() => compileSchema(text))).toBe('ERROR_CODE_UNDEFINED_RELATION_REFERENCE');
  });
});
