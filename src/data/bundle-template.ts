/**
 * Rendering of bundle operations for RunBundle (api-and-operations §3.3, §7.2). Each template is split into its
 * notation fields first and `{{.name}}` placeholders are substituted inside one field at a time, so an argument is
 * always a value and never notation: with `document:{{.doc}}#viewer@user:alice`, `doc="1#owner"` is an invalid
 * entity id, not an owner tuple. An argument value must use the characters of the field it lands in (Permify's
 * request validation: ids `[a-zA-Z0-9_\-@.:+]`, names `[a-zA-Z_]`), and the rendered field must be a valid value of
 * that field. Every failure is ERROR_CODE_VALIDATION (INVALID_ARGUMENT) naming the argument or the template.
 *
 * Attribute values are the exception that keeps the notation's list form: in an array-typed value an argument may
 * hold `,`-separated items (the value text is split as in the notation), but it can never change the entity, the
 * attribute or the value type.
 */
import { PermifyError, isPermifyError } from '../errors.js';
import { parseAttributeValue, parseTuple, splitAttribute } from './notation.js';
import type { Attribute, Entity, Subject, Tuple } from './types.js';

/** The data one bundle operation writes and deletes, rendered and parsed. */
export interface RenderedOperation {
  readonly writeTuples: readonly Tuple[];
  readonly writeAttributes: readonly Attribute[];
  readonly deleteTuples: readonly Tuple[];
  readonly deleteAttributes: readonly { readonly entity: Entity; readonly attribute: string }[];
}

/** A stored bundle operation: four lists of templates. */
export interface OperationTemplates {
  readonly relationshipsWrite: readonly string[];
  readonly relationshipsDelete: readonly string[];
  readonly attributesWrite: readonly string[];
  readonly attributesDelete: readonly string[];
}

const placeholder = /\{\{\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

interface FieldKind {
  readonly name: string;
  /** Characters an argument may contain in this field. */
  readonly argument: RegExp;
  /** The whole rendered field. */
  readonly field: RegExp;
}

const idChars = /^[a-zA-Z0-9_\-@.:+]*$/;
const nameChars = /^[a-zA-Z_]*$/;
const id = /^([a-zA-Z0-9_\-@.:+]{1,128}|\*)$/;
const name = /^[a-zA-Z_]{1,64}$/;

const kinds = {
  entityType: { name: 'entity type', argument: nameChars, field: name },
  entityId: { name: 'entity id', argument: idChars, field: id },
  relation: { name: 'relation', argument: nameChars, field: name },
  subjectType: { name: 'subject type', argument: nameChars, field: name },
  subjectId: { name: 'subject id', argument: idChars, field: id },
  subjectRelation: { name: 'subject relation', argument: nameChars, field: /^([a-zA-Z_]{1,64}|\.\.\.)?$/ },
  attribute: { name: 'attribute', argument: nameChars, field: name },
} as const satisfies Readonly<Record<string, FieldKind>>;

/** ERROR_CODE_VALIDATION (gRPC INVALID_ARGUMENT, HTTP 400) keeps its text on the wire, so the client sees why. */
function invalid(message: string): never {
  throw new PermifyError('ERROR_CODE_VALIDATION', message);
}

/** Substitutes placeholders in one field's text; `kind` undefined means any argument text is accepted. */
function renderField(
  text: string,
  kind: FieldKind | undefined,
  args: Readonly<Record<string, string>>,
  template: string,
): string {
  const rendered = text.replace(placeholder, (_m, arg: string) => {
    const value = Object.hasOwn(args, arg) ? (args[arg] as string) : '';
    if (kind !== undefined && !kind.argument.test(value)) {
      invalid(
        `invalid BundleRunRequest.Arguments[${JSON.stringify(arg)}]: ${JSON.stringify(value)} is not a valid ${kind.name}`,
      );
    }
    return value;
  });
  if (kind !== undefined && !kind.field.test(rendered)) {
    invalid(
      `invalid bundle template ${JSON.stringify(template)}: ${kind.name} ${JSON.stringify(rendered)} is not valid`,
    );
  }
  return rendered;
}

/** Runs a notation parser on a stored template; its failures are the bundle's fault, not the server's. */
function parseTemplate<T>(template: string, parse: (text: string) => T): T {
  try {
    return parse(template);
  } catch (e) {
    if (isPermifyError(e)) invalid(`invalid bundle template ${JSON.stringify(template)}: ${e.message}`);
    throw e;
  }
}

function renderEntity(e: Entity, args: Readonly<Record<string, string>>, template: string): Entity {
  return {
    type: renderField(e.type, kinds.entityType, args, template),
    id: renderField(e.id, kinds.entityId, args, template),
  };
}

function renderSubject(s: Subject, args: Readonly<Record<string, string>>, template: string): Subject {
  return {
    type: renderField(s.type, kinds.subjectType, args, template),
    id: renderField(s.id, kinds.subjectId, args, template),
    relation: renderField(s.relation, kinds.subjectRelation, args, template),
  };
}

function renderTuple(template: string, args: Readonly<Record<string, string>>): Tuple {
  const t = parseTemplate(template, parseTuple);
  return {
    entity: renderEntity(t.entity, args, template),
    relation: renderField(t.relation, kinds.relation, args, template),
    subject: renderSubject(t.subject, args, template),
  };
}

function renderAttributeFields(
  template: string,
  args: Readonly<Record<string, string>>,
): { readonly entity: Entity; readonly attribute: string; readonly type: string; readonly value: string } {
  const a = parseTemplate(template, splitAttribute);
  return {
    entity: renderEntity(a.entity, args, template),
    attribute: renderField(a.attribute, kinds.attribute, args, template),
    type: a.type,
    value: renderField(a.value, undefined, args, template),
  };
}

function renderAttribute(template: string, args: Readonly<Record<string, string>>): Attribute {
  const a = renderAttributeFields(template, args);
  try {
    return { entity: a.entity, attribute: a.attribute, value: parseAttributeValue(a.type, a.value) };
  } catch (e) {
    if (isPermifyError(e)) {
      invalid(`invalid bundle template ${JSON.stringify(template)}: ${e.message}`);
    }
    throw e;
  }
}

/**
 * Renders one bundle operation with `args` (values by argument name; a placeholder without an argument renders
 * as empty text, which then fails its field). Checks notation and field syntax only; the caller validates the
 * writes against the schema.
 * @throws PermifyError ERROR_CODE_VALIDATION for a bad argument value or template.
 */
export function renderOperation(op: OperationTemplates, args: Readonly<Record<string, string>>): RenderedOperation {
  return {
    writeTuples: op.relationshipsWrite.map((t) => renderTuple(t, args)),
    writeAttributes: op.attributesWrite.map((t) => renderAttribute(t, args)),
    deleteTuples: op.relationshipsDelete.map((t) => renderTuple(t, args)),
    // A delete carries a value too (it must parse, as in Permify), but only the entity and attribute select.
    deleteAttributes: op.attributesDelete.map((t) => {
      const a = renderAttribute(t, args);
      return { entity: a.entity, attribute: a.attribute };
    }),
  };
}
