/**
 * Request validation in the style of protoc-gen-validate (api-and-operations §2.1, §4.4, §9.2).
 *
 * Each validator walks one request message in field declaration order and throws the first violation as a
 * {@link PermifyError} with code ERROR_CODE_VALIDATION (gRPC INVALID_ARGUMENT) and the text
 * `invalid <Message>.<Field>: <reason>`; violations inside sub-messages are wrapped as
 * `invalid <Outer>.<Field>: embedded message failed validation | caused by: <inner text>`.
 * Field names are the Go (UpperCamel) names, string lengths are measured in UTF-8 bytes and checked before
 * the pattern. Message presence is significant: an absent required sub-message fails, an empty one passes.
 */
import { PermifyError } from '../../errors.js';
import type {
  Argument,
  AttributeFilter,
  Attribute,
  Context,
  Entity,
  EntityFilter,
  RelationReference,
  Subject,
  SubjectFilter,
  Tuple,
  TupleFilter,
} from '../gen/base/v1/base_pb.js';
import type * as svc from '../gen/base/v1/service_pb.js';

/** Thrown internally while walking; converted to a PermifyError at the top. */
class Violation {
  constructor(readonly text: string) {}
}

const P_NAME = /^[a-zA-Z_]{1,64}$/;
const P_NAME_TEXT = '^[a-zA-Z_]{1,64}$';
const P_ID = /^([a-zA-Z0-9_\-@.:+]{1,128}|\*)$/;
const P_ID_TEXT = '^([a-zA-Z0-9_\\-@\\.:+]{1,128}|\\*)$';
const P_TENANT_NEW = /[a-zA-Z0-9-,]+/;
const P_TENANT_NEW_TEXT = '[a-zA-Z0-9-,]+';

const utf8 = new TextEncoder();
function byteLength(s: string): number {
  // Fast path: ASCII strings have one byte per code unit.
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(s) ? s.length : utf8.encode(s).length;
}

function fail(message: string, field: string, reason: string): never {
  throw new Violation(`invalid ${message}.${field}: ${reason}`);
}

function checkString(
  message: string,
  field: string,
  value: string,
  maxBytes: number,
  pattern: RegExp,
  patternText: string,
  allowEmpty = false,
): void {
  if (allowEmpty && value === '') return;
  if (byteLength(value) > maxBytes) fail(message, field, `value length must be at most ${maxBytes} bytes`);
  if (!pattern.test(value)) fail(message, field, `value does not match regex pattern ${JSON.stringify(patternText)}`);
}

const name = (m: string, f: string, v: string): void => checkString(m, f, v, 64, P_NAME, P_NAME_TEXT);
const optName = (m: string, f: string, v: string): void => checkString(m, f, v, 64, P_NAME, P_NAME_TEXT, true);
const id = (m: string, f: string, v: string): void => checkString(m, f, v, 128, P_ID, P_ID_TEXT);
export const tenant = (m: string, v: string): void => checkString(m, 'TenantId', v, 128, P_ID, P_ID_TEXT);

/**
 * Runs field checks of this module (`tenant`, `tuple`, `attribute`, ...) outside {@link validateRequest}, e.g.
 * for permifyts.v1 messages that reuse base.v1 rules: a violation becomes ERROR_CODE_VALIDATION like there.
 */
export function checkFields(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof Violation) throw new PermifyError('ERROR_CODE_VALIDATION', e.text);
    throw e;
  }
}

/** Validates a sub-message; `required` makes absence a violation. */
function embedded<T>(
  message: string,
  field: string,
  value: T | undefined,
  required: boolean,
  inner: (v: T) => void,
): void {
  if (value === undefined) {
    if (required) fail(message, field, 'value is required');
    return;
  }
  try {
    inner(value);
  } catch (e) {
    if (e instanceof Violation) fail(message, field, `embedded message failed validation | caused by: ${e.text}`);
    throw e;
  }
}

function each<T>(message: string, field: string, values: readonly T[], inner: (v: T) => void): void {
  values.forEach((v, i) => embedded(message, `${field}[${i}]`, v, true, inner));
}

function minItems(message: string, field: string, values: readonly unknown[], min: number): void {
  if (values.length < min) fail(message, field, `value must contain at least ${min} item(s)`);
}

function maxItems(message: string, field: string, values: readonly unknown[], max: number): void {
  if (values.length > max) fail(message, field, `value must contain no more than ${max} item(s)`);
}

function depth(message: string, value: number): void {
  if (value < 3) fail(message, 'Depth', 'value must be greater than or equal to 3');
}

function pageSize(message: string, value: number): void {
  if (value !== 0 && value < 1) fail(message, 'PageSize', 'value must be greater than or equal to 1');
}

// ---- shared messages -------------------------------------------------------------------------------------

export function entity(e: Entity): void {
  name('Entity', 'Type', e.type);
  id('Entity', 'Id', e.id);
}

export function subject(s: Subject): void {
  name('Subject', 'Type', s.type);
  id('Subject', 'Id', s.id);
  optName('Subject', 'Relation', s.relation);
}

export function tuple(t: Tuple): void {
  embedded('Tuple', 'Entity', t.entity, true, entity);
  name('Tuple', 'Relation', t.relation);
  embedded('Tuple', 'Subject', t.subject, true, subject);
}

export function attribute(a: Attribute): void {
  embedded('Attribute', 'Entity', a.entity, true, entity);
}

function argument(a: Argument): void {
  if (a.type.case === 'computedAttribute') {
    embedded('Argument', 'ComputedAttribute', a.type.value, true, (c) => name('ComputedAttribute', 'Name', c.name));
  }
}

function context(c: Context): void {
  each('Context', 'Tuples', c.tuples, tuple);
  each('Context', 'Attributes', c.attributes, attribute);
}

function relationReference(r: RelationReference): void {
  name('RelationReference', 'Type', r.type);
  optName('RelationReference', 'Relation', r.relation);
}

function entityFilter(_f: EntityFilter): void {
  // No syntactic rules: an empty type or id list means "any".
}

function subjectFilter(f: SubjectFilter): void {
  optName('SubjectFilter', 'Relation', f.relation);
}

function tupleFilter(f: TupleFilter): void {
  embedded('TupleFilter', 'Entity', f.entity, false, entityFilter);
  optName('TupleFilter', 'Relation', f.relation);
  embedded('TupleFilter', 'Subject', f.subject, false, subjectFilter);
}

function attributeFilter(f: AttributeFilter): void {
  embedded('AttributeFilter', 'Entity', f.entity, false, entityFilter);
}

// ---- requests ----------------------------------------------------------------------------------------------

const V = {
  PermissionCheckRequest(r: svc.PermissionCheckRequest): void {
    const m = 'PermissionCheckRequest';
    tenant(m, r.tenantId);
    embedded(m, 'Metadata', r.metadata, true, (md) => depth('PermissionCheckRequestMetadata', md.depth));
    embedded(m, 'Entity', r.entity, true, entity);
    name(m, 'Permission', r.permission);
    embedded(m, 'Subject', r.subject, true, subject);
    embedded(m, 'Context', r.context, false, context);
    each(m, 'Arguments', r.arguments, argument);
  },
  PermissionBulkCheckRequest(r: svc.PermissionBulkCheckRequest): void {
    const m = 'PermissionBulkCheckRequest';
    tenant(m, r.tenantId);
    embedded(m, 'Metadata', r.metadata, true, (md) => depth('PermissionCheckRequestMetadata', md.depth));
    minItems(m, 'Items', r.items, 1);
    maxItems(m, 'Items', r.items, 100);
    each(m, 'Items', r.items, (item) => {
      const im = 'PermissionBulkCheckRequestItem';
      embedded(im, 'Entity', item.entity, true, entity);
      name(im, 'Permission', item.permission);
      embedded(im, 'Subject', item.subject, true, subject);
    });
    embedded(m, 'Context', r.context, false, context);
    each(m, 'Arguments', r.arguments, argument);
  },
  PermissionExpandRequest(r: svc.PermissionExpandRequest): void {
    const m = 'PermissionExpandRequest';
    tenant(m, r.tenantId);
    embedded(m, 'Metadata', r.metadata, true, () => {});
    embedded(m, 'Entity', r.entity, true, entity);
    optName(m, 'Permission', r.permission);
    embedded(m, 'Context', r.context, false, context);
    each(m, 'Arguments', r.arguments, argument);
  },
  PermissionLookupEntityRequest(r: svc.PermissionLookupEntityRequest): void {
    const m = 'PermissionLookupEntityRequest';
    tenant(m, r.tenantId);
    embedded(m, 'Metadata', r.metadata, true, (md) => depth('PermissionLookupEntityRequestMetadata', md.depth));
    name(m, 'EntityType', r.entityType);
    name(m, 'Permission', r.permission);
    embedded(m, 'Subject', r.subject, true, subject);
    embedded(m, 'Context', r.context, false, context);
    pageSize(m, r.pageSize);
  },
  PermissionLookupSubjectRequest(r: svc.PermissionLookupSubjectRequest): void {
    const m = 'PermissionLookupSubjectRequest';
    tenant(m, r.tenantId);
    embedded(m, 'Metadata', r.metadata, true, (md) => depth('PermissionLookupSubjectRequestMetadata', md.depth));
    embedded(m, 'Entity', r.entity, true, entity);
    name(m, 'Permission', r.permission);
    embedded(m, 'SubjectReference', r.subjectReference, true, relationReference);
    embedded(m, 'Context', r.context, false, context);
    each(m, 'Arguments', r.arguments, argument);
    pageSize(m, r.pageSize);
  },
  PermissionSubjectPermissionRequest(r: svc.PermissionSubjectPermissionRequest): void {
    const m = 'PermissionSubjectPermissionRequest';
    tenant(m, r.tenantId);
    embedded(m, 'Metadata', r.metadata, true, (md) => depth('PermissionSubjectPermissionRequestMetadata', md.depth));
    embedded(m, 'Entity', r.entity, true, entity);
    embedded(m, 'Subject', r.subject, true, subject);
    embedded(m, 'Context', r.context, false, context);
  },
  WatchRequest(r: svc.WatchRequest): void {
    tenant('WatchRequest', r.tenantId);
  },
  SchemaWriteRequest(r: svc.SchemaWriteRequest): void {
    tenant('SchemaWriteRequest', r.tenantId);
  },
  SchemaPartialWriteRequest(r: svc.SchemaPartialWriteRequest): void {
    const m = 'SchemaPartialWriteRequest';
    tenant(m, r.tenantId);
    embedded(m, 'Metadata', r.metadata, true, () => {});
  },
  SchemaReadRequest(r: svc.SchemaReadRequest): void {
    const m = 'SchemaReadRequest';
    tenant(m, r.tenantId);
    embedded(m, 'Metadata', r.metadata, true, () => {});
  },
  SchemaListRequest(r: svc.SchemaListRequest): void {
    tenant('SchemaListRequest', r.tenantId);
    pageSize('SchemaListRequest', r.pageSize);
  },
  DataWriteRequest(r: svc.DataWriteRequest): void {
    const m = 'DataWriteRequest';
    tenant(m, r.tenantId);
    embedded(m, 'Metadata', r.metadata, true, () => {});
    each(m, 'Tuples', r.tuples, tuple);
    each(m, 'Attributes', r.attributes, attribute);
  },
  RelationshipWriteRequest(r: svc.RelationshipWriteRequest): void {
    const m = 'RelationshipWriteRequest';
    tenant(m, r.tenantId);
    embedded(m, 'Metadata', r.metadata, true, () => {});
    minItems(m, 'Tuples', r.tuples, 1);
    each(m, 'Tuples', r.tuples, tuple);
  },
  RelationshipReadRequest(r: svc.RelationshipReadRequest): void {
    const m = 'RelationshipReadRequest';
    tenant(m, r.tenantId);
    embedded(m, 'Metadata', r.metadata, true, () => {});
    embedded(m, 'Filter', r.filter, true, tupleFilter);
    pageSize(m, r.pageSize);
  },
  AttributeReadRequest(r: svc.AttributeReadRequest): void {
    const m = 'AttributeReadRequest';
    tenant(m, r.tenantId);
    embedded(m, 'Metadata', r.metadata, true, () => {});
    embedded(m, 'Filter', r.filter, true, attributeFilter);
    pageSize(m, r.pageSize);
  },
  DataDeleteRequest(r: svc.DataDeleteRequest): void {
    const m = 'DataDeleteRequest';
    tenant(m, r.tenantId);
    embedded(m, 'TupleFilter', r.tupleFilter, true, tupleFilter);
    embedded(m, 'AttributeFilter', r.attributeFilter, true, attributeFilter);
  },
  RelationshipDeleteRequest(r: svc.RelationshipDeleteRequest): void {
    const m = 'RelationshipDeleteRequest';
    tenant(m, r.tenantId);
    embedded(m, 'Filter', r.filter, false, tupleFilter);
  },
  BundleRunRequest(r: svc.BundleRunRequest): void {
    tenant('BundleRunRequest', r.tenantId);
  },
  BundleWriteRequest(r: svc.BundleWriteRequest): void {
    tenant('BundleWriteRequest', r.tenantId);
  },
  BundleReadRequest(r: svc.BundleReadRequest): void {
    tenant('BundleReadRequest', r.tenantId);
  },
  BundleDeleteRequest(r: svc.BundleDeleteRequest): void {
    tenant('BundleDeleteRequest', r.tenantId);
  },
  TenantCreateRequest(r: svc.TenantCreateRequest): void {
    const m = 'TenantCreateRequest';
    checkString(m, 'Id', r.id, 64, P_TENANT_NEW, P_TENANT_NEW_TEXT);
    if (byteLength(r.name) > 64) fail(m, 'Name', 'value length must be at most 64 bytes');
  },
  TenantDeleteRequest(_r: svc.TenantDeleteRequest): void {},
  TenantListRequest(r: svc.TenantListRequest): void {
    pageSize('TenantListRequest', r.pageSize);
  },
} as const;

export type ValidatedMessage = keyof typeof V;

/**
 * Validates `request` as a `<type>` message.
 * @throws PermifyError ERROR_CODE_VALIDATION (INVALID_ARGUMENT) with the protoc-gen-validate style text.
 */
export function validateRequest<K extends ValidatedMessage>(type: K, request: Parameters<(typeof V)[K]>[0]): void {
  try {
    (V[type] as (r: typeof request) => void)(request);
  } catch (e) {
    if (e instanceof Violation) throw new PermifyError('ERROR_CODE_VALIDATION', e.text);
    throw e;
  }
}
