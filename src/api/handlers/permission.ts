/**
 * base.v1.Permission: Check, BulkCheck, Expand, LookupEntity, LookupEntityStream, LookupSubject,
 * SubjectPermission. Requests are converted to the engine's transport-free shapes; the engine resolves
 * schema version and snapshot (empty = head) and throws only PermifyError.
 */
import { create } from '@bufbuild/protobuf';
import { PermifyError } from '../../errors.js';
import type { CheckResponse } from '../../engine/types.js';
import { CheckResult } from '../gen/base/v1/base_pb.js';
import * as s from '../gen/base/v1/service_pb.js';
import { argumentsFromProto, contextFromProto, entityFromProto, subjectFromProto } from '../convert/data.js';
import { expandToProto } from '../convert/schema.js';
import { streaming, unary, type HandlerEnv } from './deps.js';
import type { ServiceHandlers } from './types.js';

function checkResult(can: 'allowed' | 'denied'): CheckResult {
  return can === 'allowed' ? CheckResult.ALLOWED : CheckResult.DENIED;
}

function checkResponse(r: CheckResponse): s.PermissionCheckResponse {
  return create(s.PermissionCheckResponseSchema, {
    can: checkResult(r.can),
    metadata: create(s.PermissionCheckResponseMetadataSchema, { checkCount: r.metadata.checkCount }),
  });
}

function metadata(md: { schemaVersion: string; snapToken: string } | undefined): {
  schemaVersion: string;
  snapToken: string;
} {
  return { schemaVersion: md?.schemaVersion ?? '', snapToken: md?.snapToken ?? '' };
}

export function createPermissionHandlers(env: HandlerEnv): ServiceHandlers<typeof s.Permission> {
  const { engine } = env;
  const lookupEntityRequest = (r: s.PermissionLookupEntityRequest) => ({
    tenantId: r.tenantId,
    metadata: { ...metadata(r.metadata), depth: r.metadata?.depth ?? 0 },
    entityType: r.entityType,
    permission: r.permission,
    subject: subjectFromProto(r.subject),
    context: contextFromProto(r.context),
    scope: new Map(Object.entries(r.scope).map(([type, ids]) => [type, [...ids.data]] as const)),
    pageSize: r.pageSize,
    continuousToken: r.continuousToken,
  });

  return {
    Check: unary(async (r, ctx) =>
      checkResponse(
        await engine.check(
          {
            tenantId: r.tenantId,
            metadata: { ...metadata(r.metadata), depth: r.metadata?.depth ?? 0 },
            entity: entityFromProto(r.entity),
            permission: r.permission,
            subject: subjectFromProto(r.subject),
            context: contextFromProto(r.context),
            arguments: argumentsFromProto(r.arguments),
          },
          ctx.signal,
        ),
      ),
    ),

    BulkCheck: unary(async (r, ctx) => {
      const max = env.limits.bulkCheckMaxItems;
      if (max !== undefined && r.items.length > max) {
        throw new PermifyError(
          'ERROR_CODE_VALIDATION',
          `invalid PermissionBulkCheckRequest.Items: value must contain no more than ${max} item(s)`,
          { details: { limit: 'bulkCheckMaxItems' } },
        );
      }
      const res = await engine.bulkCheck(
        {
          tenantId: r.tenantId,
          metadata: { ...metadata(r.metadata), depth: r.metadata?.depth ?? 0 },
          context: contextFromProto(r.context),
          arguments: argumentsFromProto(r.arguments),
          items: r.items.map((i) => ({
            entity: entityFromProto(i.entity),
            permission: i.permission,
            subject: subjectFromProto(i.subject),
          })),
        },
        ctx.signal,
      );
      return create(s.PermissionBulkCheckResponseSchema, { results: res.results.map(checkResponse) });
    }),

    Expand: unary(async (r, ctx) => {
      const res = await engine.expand(
        {
          tenantId: r.tenantId,
          metadata: metadata(r.metadata),
          entity: entityFromProto(r.entity),
          permission: r.permission,
          context: contextFromProto(r.context),
          arguments: argumentsFromProto(r.arguments),
        },
        ctx.signal,
      );
      return create(s.PermissionExpandResponseSchema, { tree: expandToProto(res.tree) });
    }),

    LookupEntity: unary(async (r, ctx) => {
      const res = await engine.lookupEntity(lookupEntityRequest(r), ctx.signal);
      return create(s.PermissionLookupEntityResponseSchema, {
        entityIds: [...res.entityIds],
        continuousToken: res.continuousToken,
      });
    }),

    LookupEntityStream: streaming(async function* (r, ctx) {
      for await (const item of engine.lookupEntityStream(lookupEntityRequest(r), ctx.signal)) {
        yield create(s.PermissionLookupEntityStreamResponseSchema, {
          entityId: item.entityId,
          continuousToken: item.continuousToken,
        });
      }
    }),

    LookupSubject: unary(async (r, ctx) => {
      const res = await engine.lookupSubject(
        {
          tenantId: r.tenantId,
          metadata: { ...metadata(r.metadata), depth: r.metadata?.depth ?? 0 },
          entity: entityFromProto(r.entity),
          permission: r.permission,
          subjectReference: { type: r.subjectReference?.type ?? '', relation: r.subjectReference?.relation ?? '' },
          context: contextFromProto(r.context),
          pageSize: r.pageSize,
          continuousToken: r.continuousToken,
        },
        ctx.signal,
      );
      return create(s.PermissionLookupSubjectResponseSchema, {
        subjectIds: [...res.subjectIds],
        continuousToken: res.continuousToken,
      });
    }),

    SubjectPermission: unary(async (r, ctx) => {
      const res = await engine.subjectPermission(
        {
          tenantId: r.tenantId,
          metadata: {
            ...metadata(r.metadata),
            depth: r.metadata?.depth ?? 0,
            onlyPermission: r.metadata?.onlyPermission ?? false,
          },
          entity: entityFromProto(r.entity),
          subject: subjectFromProto(r.subject),
          context: contextFromProto(r.context),
        },
        ctx.signal,
      );
      const out = create(s.PermissionSubjectPermissionResponseSchema, {});
      for (const [name, can] of res.results) out.results[name] = checkResult(can);
      return out;
    }),
  };
}
