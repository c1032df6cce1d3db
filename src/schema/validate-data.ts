/**
 * Write-time validation of tuples and attributes against a compiled schema (api-and-operations §3.3 steps 3
 * and 4; schema-and-engine §4.2/§4.3). Contextual data is never validated against the schema.
 */
import type { Attribute, Tuple } from '../data/types.js';
import { PermifyError } from '../errors.js';
import type { Schema } from './model.js';

/**
 * Validates a tuple about to be written. Checks, in this order: the entity type exists
 * (ERROR_CODE_SCHEMA_NOT_FOUND); entity and subject differ (same type, id and relation ⇒
 * ERROR_CODE_ENTITY_AND_SUBJECT_CANNOT_BE_EQUAL); the relation is a relation of the entity
 * (ERROR_CODE_RELATION_DEFINITION_NOT_FOUND); the subject type (`type`, or `type#relation` for a non-empty
 * relation other than `...`) is allowed (ERROR_CODE_SUBJECT_TYPE_NOT_FOUND).
 * @throws PermifyError with one of the codes above.
 */
export function validateTuple(schema: Schema, tuple: Tuple): void {
  const entity = schema.entities.get(tuple.entity.type);
  if (entity === undefined) {
    throw new PermifyError('ERROR_CODE_SCHEMA_NOT_FOUND', `entity type ${tuple.entity.type} not found in schema`);
  }
  if (
    tuple.entity.type === tuple.subject.type &&
    tuple.entity.id === tuple.subject.id &&
    tuple.relation === tuple.subject.relation
  ) {
    throw new PermifyError('ERROR_CODE_ENTITY_AND_SUBJECT_CANNOT_BE_EQUAL');
  }
  const relation = entity.relations.get(tuple.relation);
  if (relation === undefined) throw new PermifyError('ERROR_CODE_RELATION_DEFINITION_NOT_FOUND');
  const subjectRelation = tuple.subject.relation === '...' ? '' : tuple.subject.relation;
  const allowed = relation.references.some((r) => r.type === tuple.subject.type && r.relation === subjectRelation);
  if (!allowed) throw new PermifyError('ERROR_CODE_SUBJECT_TYPE_NOT_FOUND');
}

/**
 * Validates an attribute about to be written: the attribute is declared on the entity type
 * (ERROR_CODE_ATTRIBUTE_DEFINITION_NOT_FOUND; an unknown entity type also yields this code) and the value's type
 * equals the declared type exactly (ERROR_CODE_ATTRIBUTE_TYPE_MISMATCH).
 * @throws PermifyError with one of the codes above.
 */
export function validateAttribute(schema: Schema, attribute: Attribute): void {
  const definition = schema.entities.get(attribute.entity.type)?.attributes.get(attribute.attribute);
  if (definition === undefined) throw new PermifyError('ERROR_CODE_ATTRIBUTE_DEFINITION_NOT_FOUND');
  if (definition.type !== attribute.value.type) throw new PermifyError('ERROR_CODE_ATTRIBUTE_TYPE_MISMATCH');
}
