/**
 * A scripted stand-in for the schema compiler, store and engine, for tests of the validate/coverage control
 * flow and wording that must not depend on the real engine. Allowed iff a written (or contextual) tuple links
 * the entity id and the subject id; permission `broken` always fails with DEPTH_NOT_ENOUGH.
 */
import type { Attribute, Entity, Subject, Tuple } from '../../../src/data/types.js';
import type { PermissionEngine } from '../../../src/engine/types.js';
import { PermifyError } from '../../../src/errors.js';
import type { EntityDefinition, Schema } from '../../../src/schema/model.js';
import type { ValidationNotation, ValidationSandbox } from '../../../src/development/validate.js';

function entity(text: string): Entity {
  const parts = text.split(':');
  if (parts.length !== 2 || parts.some((p) => p === ''))
    throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', 'invalid entity');
  return { type: parts[0] as string, id: parts[1] as string };
}
function subject(text: string): Subject {
  const [e, relation = ''] = text.split('#');
  return { ...entity(e as string), relation };
}
export const notation: ValidationNotation = {
  parseTuple(text: string): Tuple {
    const sides = text.split('@');
    if (sides.length !== 2) throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', 'invalid tuple');
    const [e, relation = ''] = (sides[0] as string).split('#');
    return { entity: entity(e as string), relation, subject: subject(sides[1] as string) };
  },
  parseAttribute(text: string): Attribute {
    const [left, value] = text.split('|');
    const [e, name] = (left ?? '').split('$');
    if (value === undefined || name === undefined)
      throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', 'invalid attribute');
    return { entity: entity(e as string), attribute: name, value: { type: 'boolean', value: value.endsWith('true') } };
  },
  parseEntity: entity,
  parseSubject: subject,
  parseRelationReference(text: string) {
    const [type = '', relation = ''] = text.split('#');
    return { type, relation };
  },
};

function definition(name: string, relations: string[], permissions: string[]): EntityDefinition {
  return {
    name,
    relations: new Map(relations.map((r) => [r, { name: r, references: [{ type: 'user', relation: '' }] }])),
    attributes: new Map(),
    permissions: new Map(
      permissions.map((p) => [
        p,
        { name: p, isAction: false, child: { kind: 'computed-user-set', relation: relations[0] ?? '' } },
      ]),
    ),
    references: new Map([
      ...relations.map((r) => [r, 'relation'] as const),
      ...permissions.map((p) => [p, 'permission'] as const),
    ]),
    memberOrder: [...relations, ...permissions],
  };
}
export const schema: Schema = {
  entities: new Map([
    ['user', definition('user', [], [])],
    ['doc', definition('doc', ['viewer'], ['view', 'broken'])],
  ]),
  rules: new Map(),
  references: new Map([
    ['user', 'entity'],
    ['doc', 'entity'],
  ]),
};

/** Allowed iff a written tuple doc:X#viewer@user:Y exists; `broken` always errors. */
export function sandboxFactory(options: { rejectTuple?: string; failWrite?: string } = {}) {
  let closed = 0;
  const factory = async (): Promise<ValidationSandbox> => {
    const written: Tuple[] = [];
    const engine: Partial<PermissionEngine> = {
      async check(request) {
        if (request.permission === 'broken') throw new PermifyError('ERROR_CODE_DEPTH_NOT_ENOUGH');
        const hit = [...written, ...(request.context?.tuples ?? [])].some(
          (t) => t.entity.id === request.entity.id && t.subject.id === request.subject.id,
        );
        return { can: hit ? 'allowed' : 'denied', metadata: { checkCount: 1 } };
      },
      async lookupEntity(request) {
        // Two pages to prove that tokens are followed.
        const ids = [
          ...new Set(written.filter((t) => t.subject.id === request.subject.id).map((t) => t.entity.id)),
        ].sort();
        const start =
          request.continuousToken === '' || request.continuousToken === undefined ? 0 : Number(request.continuousToken);
        const page = ids.slice(start, start + 1);
        return { entityIds: page, continuousToken: start + 1 < ids.length ? String(start + 1) : '' };
      },
      async lookupSubject(request) {
        const ids = written.filter((t) => t.entity.id === request.entity.id).map((t) => t.subject.id);
        return { subjectIds: [...new Set(ids)].sort(), continuousToken: '' };
      },
    };
    return {
      schema,
      tenantId: 't1',
      schemaVersion: 'v1',
      engine: engine as PermissionEngine,
      validateTuple(t) {
        if (`${t.entity.type}:${t.entity.id}#${t.relation}` === options.rejectTuple)
          throw new PermifyError('ERROR_CODE_SUBJECT_TYPE_NOT_FOUND');
      },
      validateAttribute() {},
      async writeTuple(t) {
        if (`${t.entity.type}:${t.entity.id}#${t.relation}` === options.failWrite)
          throw new PermifyError('ERROR_CODE_UNIQUE_CONSTRAINT');
        written.push(t);
      },
      async writeAttribute() {},
      async close() {
        closed++;
      },
    };
  };
  return { factory, closed: () => closed };
}
