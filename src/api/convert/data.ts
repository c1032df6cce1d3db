/**
 * Conversions between the protobuf-es messages of base.v1 and the transport-free data types of
 * src/data/types.ts and the storage contract. Inputs are assumed validated (src/api/validation), so
 * required sub-messages are present; absent optional parts become empty values.
 */
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { Attribute, Entity, JsonValue, RequestContext, Subject, Tuple } from '../../data/types.js';
import type * as store from '../../storage/contract.js';
import * as pb from '../gen/base/v1/base_pb.js';
import { anyToAttributeValue, attributeValueToAny } from './attribute-value.js';

export function entityFromProto(e: pb.Entity | undefined): Entity {
  return { type: e?.type ?? '', id: e?.id ?? '' };
}

export function subjectFromProto(s: pb.Subject | undefined): Subject {
  return { type: s?.type ?? '', id: s?.id ?? '', relation: s?.relation ?? '' };
}

export function tupleFromProto(t: pb.Tuple): Tuple {
  return { entity: entityFromProto(t.entity), relation: t.relation, subject: subjectFromProto(t.subject) };
}

/** @throws PermifyError ERROR_CODE_ATTRIBUTE_TYPE_MISMATCH / ERROR_CODE_INTERNAL for a bad value. */
export function attributeFromProto(a: pb.Attribute): Attribute {
  return { entity: entityFromProto(a.entity), attribute: a.attribute, value: anyToAttributeValue(a.value) };
}

export function entityToProto(e: Entity): pb.Entity {
  return create(pb.EntitySchema, { type: e.type, id: e.id });
}

export function subjectToProto(s: Subject): pb.Subject {
  return create(pb.SubjectSchema, { type: s.type, id: s.id, relation: s.relation });
}

export function tupleToProto(t: Tuple): pb.Tuple {
  return create(pb.TupleSchema, {
    entity: entityToProto(t.entity),
    relation: t.relation,
    subject: subjectToProto(t.subject),
  });
}

export function attributeToProto(a: Attribute): pb.Attribute {
  return create(pb.AttributeSchema, {
    entity: entityToProto(a.entity),
    attribute: a.attribute,
    value: attributeValueToAny(a.value),
  });
}

/** Request context: contextual tuples/attributes and `context.data`. */
export function contextFromProto(c: pb.Context | undefined): RequestContext {
  return {
    tuples: (c?.tuples ?? []).map(tupleFromProto),
    attributes: (c?.attributes ?? []).map(attributeFromProto),
    data: (c?.data ?? {}) as { readonly [k: string]: JsonValue },
  };
}

/** Names of the attributes passed as rule arguments. */
export function argumentsFromProto(args: readonly pb.Argument[]): string[] {
  const names: string[] = [];
  for (const a of args) if (a.type.case === 'computedAttribute') names.push(a.type.value.name);
  return names;
}

function entityFilterFromProto(f: pb.EntityFilter | undefined): store.EntityFilter {
  return { type: f?.type ?? '', ids: [...(f?.ids ?? [])] };
}

export function tupleFilterFromProto(f: pb.TupleFilter | undefined): store.TupleFilter {
  return {
    entity: entityFilterFromProto(f?.entity),
    relation: f?.relation ?? '',
    subject: { type: f?.subject?.type ?? '', ids: [...(f?.subject?.ids ?? [])], relation: f?.subject?.relation ?? '' },
  };
}

export function attributeFilterFromProto(f: pb.AttributeFilter | undefined): store.AttributeFilter {
  return { entity: entityFilterFromProto(f?.entity), attributes: [...(f?.attributes ?? [])] };
}

/** True when a tuple filter names at least one criterion (an empty filter must delete nothing). */
export function tupleFilterHasCriterion(f: store.TupleFilter): boolean {
  return Boolean(
    f.entity?.type ||
    f.entity?.ids?.length ||
    f.relation ||
    f.subject?.type ||
    f.subject?.ids?.length ||
    f.subject?.relation,
  );
}

/** True when an attribute filter names at least one criterion. */
export function attributeFilterHasCriterion(f: store.AttributeFilter): boolean {
  return Boolean(f.entity?.type || f.entity?.ids?.length || f.attributes?.length);
}

export function tenantToProto(t: store.Tenant): pb.Tenant {
  return create(pb.TenantSchema, { id: t.id, name: t.name, createdAt: timestampFromDate(t.createdAt) });
}

export function dataChangesToProto(c: store.DataChanges): pb.DataChanges {
  return create(pb.DataChangesSchema, {
    snapToken: c.snapToken,
    dataChanges: c.changes.map((ch) =>
      create(pb.DataChangeSchema, {
        operation: ch.operation === 'create' ? pb.DataChange_Operation.CREATE : pb.DataChange_Operation.DELETE,
        type: ch.tuple
          ? { case: 'tuple', value: tupleToProto(ch.tuple) }
          : ch.attribute
            ? { case: 'attribute', value: attributeToProto(ch.attribute) }
            : { case: undefined },
      }),
    ),
  });
}

export function bundleFromProto(b: pb.DataBundle): store.DataBundle {
  return {
    name: b.name,
    arguments: [...b.arguments],
    operations: b.operations.map((o) => ({
      relationshipsWrite: [...o.relationshipsWrite],
      relationshipsDelete: [...o.relationshipsDelete],
      attributesWrite: [...o.attributesWrite],
      attributesDelete: [...o.attributesDelete],
    })),
  };
}

export function bundleToProto(b: store.DataBundle): pb.DataBundle {
  return create(pb.DataBundleSchema, {
    name: b.name,
    arguments: [...b.arguments],
    operations: b.operations.map((o) =>
      create(pb.OperationSchema, {
        relationshipsWrite: [...o.relationshipsWrite],
        relationshipsDelete: [...o.relationshipsDelete],
        attributesWrite: [...o.attributesWrite],
        attributesDelete: [...o.attributesDelete],
      }),
    ),
  });
}
