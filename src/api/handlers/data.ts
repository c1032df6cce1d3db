/**
 * base.v1.Data: Write, WriteRelationships, ReadRelationships, ReadAttributes, Delete, DeleteRelationships,
 * RunBundle (api-and-operations §3.3, §7.2).
 */
import { create } from '@bufbuild/protobuf';
import { PermifyError, isPermifyError } from '../../errors.js';
import { renderOperation } from '../../data/bundle-template.js';
import { attributeKeyToString, tupleToString } from '../../data/notation.js';
import type { Attribute, Tuple } from '../../data/types.js';
import { validateAttribute, validateTuple } from '../../schema/validate-data.js';
import type { WriteStep } from '../../storage/contract.js';
import type * as pb from '../gen/base/v1/base_pb.js';
import * as s from '../gen/base/v1/service_pb.js';
import {
  attributeFilterFromProto,
  attributeFilterHasCriterion,
  attributeFromProto,
  attributeToProto,
  tupleFilterFromProto,
  tupleFilterHasCriterion,
  tupleFromProto,
  tupleToProto,
} from '../convert/data.js';
import { unary, type HandlerEnv } from './deps.js';
import type { ServiceHandlers } from './types.js';

export function createDataHandlers(env: HandlerEnv): ServiceHandlers<typeof s.Data> {
  const readPageSize = env.limits.defaultReadPageSize ?? 50;

  /** Steps 1-6 of Data/Write: resolve schema, de-duplicate, validate, size guard, one atomic write. */
  async function write(
    tenantId: string,
    schemaVersion: string,
    tuples: readonly pb.Tuple[],
    attributes: readonly pb.Attribute[],
    signal: AbortSignal,
  ): Promise<string> {
    const { schema } = await env.schemas.resolve(tenantId, schemaVersion, signal);
    const seenTuples = new Set<string>();
    const writeTuples: Tuple[] = [];
    for (const t of tuples) {
      const tuple = tupleFromProto(t);
      const key = tupleToString(tuple);
      if (seenTuples.has(key)) continue;
      seenTuples.add(key);
      writeTuples.push(tuple);
    }
    const seenAttributes = new Set<string>();
    const rawAttributes: pb.Attribute[] = [];
    for (const a of attributes) {
      const key = attributeKeyToString({ type: a.entity?.type ?? '', id: a.entity?.id ?? '' }, a.attribute);
      if (seenAttributes.has(key)) continue;
      seenAttributes.add(key);
      rawAttributes.push(a);
    }
    for (const t of writeTuples) validateTuple(schema, t);
    const writeAttributes: Attribute[] = [];
    for (const a of rawAttributes) {
      let attribute: Attribute;
      try {
        attribute = attributeFromProto(a);
      } catch (e) {
        // An undefined attribute is reported before a value problem, as in Permify.
        const definition = schema.entities.get(a.entity?.type ?? '')?.attributes.get(a.attribute);
        if (definition === undefined && isPermifyError(e) && e.code === 'ERROR_CODE_ATTRIBUTE_TYPE_MISMATCH') {
          throw new PermifyError('ERROR_CODE_ATTRIBUTE_DEFINITION_NOT_FOUND');
        }
        throw e;
      }
      validateAttribute(schema, attribute);
      writeAttributes.push(attribute);
    }
    const count = writeTuples.length + writeAttributes.length;
    if (count > env.limits.maxDataPerWrite) {
      throw new PermifyError('ERROR_CODE_MAX_DATA_PER_WRITE_EXCEEDED', 'ERROR_CODE_MAX_DATA_PER_WRITE_EXCEEDED', {
        details: { limit: 'maxDataPerWrite' },
      });
    }
    return env.store.writer.write(tenantId, [{ writeTuples, writeAttributes }], signal);
  }

  async function snapOrHead(tenantId: string, snapToken: string | undefined, signal: AbortSignal): Promise<string> {
    return snapToken || env.store.reader.headSnapToken(tenantId, signal);
  }

  return {
    Write: unary(async (r, ctx) => {
      const snapToken = await write(r.tenantId, r.metadata?.schemaVersion ?? '', r.tuples, r.attributes, ctx.signal);
      return create(s.DataWriteResponseSchema, { snapToken });
    }),

    WriteRelationships: unary(async (r, ctx) => {
      const snapToken = await write(r.tenantId, r.metadata?.schemaVersion ?? '', r.tuples, [], ctx.signal);
      return create(s.RelationshipWriteResponseSchema, { snapToken });
    }),

    ReadRelationships: unary(async (r, ctx) => {
      const snap = await snapOrHead(r.tenantId, r.metadata?.snapToken, ctx.signal);
      const page = await env.store.reader.readRelationships(
        r.tenantId,
        tupleFilterFromProto(r.filter),
        snap,
        { size: r.pageSize || readPageSize, token: r.continuousToken },
        ctx.signal,
      );
      return create(s.RelationshipReadResponseSchema, {
        tuples: page.items.map(tupleToProto),
        continuousToken: page.continuousToken,
      });
    }),

    ReadAttributes: unary(async (r, ctx) => {
      const snap = await snapOrHead(r.tenantId, r.metadata?.snapToken, ctx.signal);
      const page = await env.store.reader.readAttributes(
        r.tenantId,
        attributeFilterFromProto(r.filter),
        snap,
        { size: r.pageSize || readPageSize, token: r.continuousToken },
        ctx.signal,
      );
      return create(s.AttributeReadResponseSchema, {
        attributes: page.items.map(attributeToProto),
        continuousToken: page.continuousToken,
      });
    }),

    Delete: unary(async (r, ctx) => {
      const tupleFilter = tupleFilterFromProto(r.tupleFilter);
      const attributeFilter = attributeFilterFromProto(r.attributeFilter);
      const tuples = tupleFilterHasCriterion(tupleFilter);
      const attributes = attributeFilterHasCriterion(attributeFilter);
      // Permify: two empty filters are a silent no-op answered with an empty token.
      if (!tuples && !attributes) return create(s.DataDeleteResponseSchema, { snapToken: '' });
      const step: WriteStep = {
        ...(tuples ? { deleteTupleFilters: [tupleFilter] } : {}),
        ...(attributes ? { deleteAttributeFilters: [attributeFilter] } : {}),
      };
      const snapToken = await env.store.writer.write(r.tenantId, [step], ctx.signal);
      return create(s.DataDeleteResponseSchema, { snapToken });
    }),

    DeleteRelationships: unary(async (r, ctx) => {
      const filter = tupleFilterFromProto(r.filter);
      if (!tupleFilterHasCriterion(filter)) return create(s.RelationshipDeleteResponseSchema, { snapToken: '' });
      const snapToken = await env.store.writer.write(r.tenantId, [{ deleteTupleFilters: [filter] }], ctx.signal);
      return create(s.RelationshipDeleteResponseSchema, { snapToken });
    }),

    RunBundle: unary(async (r, ctx) => {
      const bundle = await env.store.bundles.readBundle(r.tenantId, r.name, ctx.signal);
      for (const arg of bundle.arguments) {
        if (!Object.hasOwn(r.arguments, arg)) {
          throw new PermifyError('ERROR_CODE_MISSING_ARGUMENT', 'ERROR_CODE_MISSING_ARGUMENT');
        }
      }
      // Arguments are values, never notation: each template is split into fields before substitution, and the
      // rendered writes pass the same schema validation as Data/Write.
      const steps: WriteStep[] = bundle.operations.map((op) => renderOperation(op, r.arguments));
      const { schema } = await env.schemas.resolve(r.tenantId, '', ctx.signal);
      for (const step of steps) {
        for (const t of step.writeTuples ?? []) validateTuple(schema, t);
        for (const a of step.writeAttributes ?? []) validateAttribute(schema, a);
      }
      const snapToken = await env.store.writer.write(r.tenantId, steps, ctx.signal);
      return create(s.BundleRunResponseSchema, { snapToken });
    }),
  };
}
