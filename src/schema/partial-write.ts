/**
 * Partial schema writes (spec §6): edit the statements of a stored schema version entity by entity and return
 * the new full schema text. The caller compiles the result with reference validation, so semantic problems
 * introduced by an edit (e.g. deleting a relation still used) surface there, positioned in the returned text.
 */
import { PermifyError } from '../errors.js';
import type { EntityAst, MemberAst, StatementAst } from '../language/ast.js';
import { printSchemaAst } from '../language/ast-printer.js';
import { parseMemberStatement, parseSchema } from '../language/parser.js';

/** The edits for one entity. */
export interface EntityPartial {
  readonly write: readonly string[];
  readonly update: readonly string[];
  readonly delete: readonly string[];
}

function member(text: string): MemberAst {
  const m = parseMemberStatement(text);
  if (m === undefined) throw new PermifyError('ERROR_CODE_SCHEMA_PARSE', 'no valid statement found');
  return m;
}

/**
 * Applies `partials` (entity name -> edits) to the base version's definitions and returns the new schema text.
 * Per entity: all writes, then updates, then deletes.
 * @throws PermifyError ERROR_CODE_ENTITY_STATEMENT_NOT_FOUND (entity absent), ERROR_CODE_ALREADY_EXIST (write of
 *   an existing member name), ERROR_CODE_REFERENCE_NOT_FOUND (update/delete of an absent member),
 *   ERROR_CODE_SCHEMA_PARSE (malformed snippet, or "no valid statement found").
 */
export function applyPartialWrite(
  baseDefinitions: readonly { readonly name: string; readonly definition: string }[],
  partials: ReadonlyMap<string, EntityPartial>,
): string {
  const base = parseSchema(baseDefinitions.map((d) => d.definition).join('\n'));
  const statements: StatementAst[] = [...base.statements];
  for (const [entityName, edits] of partials) {
    const index = statements.findIndex((s) => s.kind === 'entity' && s.name.value === entityName);
    const entity = statements[index];
    if (entity === undefined || entity.kind !== 'entity') {
      throw new PermifyError('ERROR_CODE_ENTITY_STATEMENT_NOT_FOUND', `entity statement ${entityName} not found`);
    }
    const members: MemberAst[] = [...entity.members];
    for (const text of edits.write) {
      const m = member(text);
      if (members.some((x) => x.name.value === m.name.value)) {
        throw new PermifyError('ERROR_CODE_ALREADY_EXIST', `${entityName}#${m.name.value} already exists`);
      }
      members.push(m);
    }
    for (const text of edits.update) {
      const m = member(text);
      if (!members.some((x) => x.name.value === m.name.value)) {
        throw new PermifyError('ERROR_CODE_REFERENCE_NOT_FOUND', `${entityName}#${m.name.value} not found`);
      }
      const same = members.findIndex((x) => x.name.value === m.name.value && x.kind === m.kind);
      if (same >= 0) members[same] = m;
      else members.push(m);
    }
    for (const name of edits.delete) {
      const at = members.findIndex((x) => x.name.value === name);
      if (at < 0) throw new PermifyError('ERROR_CODE_REFERENCE_NOT_FOUND', `${entityName}#${name} not found`);
      members.splice(at, 1);
    }
    const updated: EntityAst = { ...entity, members };
    statements[index] = updated;
  }
  return printSchemaAst({ kind: 'schema', statements });
}
