/**
 * base.v1.Schema: Write, PartialWrite, Read, List.
 *
 * Deliberate fix (README, compatibility): schema parse and compile errors answer INVALID_ARGUMENT with the
 * `L:C: message` text, where Permify answers INTERNAL.
 */
import { create } from '@bufbuild/protobuf';
import { PermifyError, isPermifyError } from '../../errors.js';
import { applyPartialWrite } from '../../schema/partial-write.js';
import { versionIdTime } from '../../storage/version-id.js';
import * as s from '../gen/base/v1/service_pb.js';
import { SchemaDefinitionSchema } from '../gen/base/v1/base_pb.js';
import { schemaToProto } from '../convert/schema.js';
import { defaultMaxSchemaBytes, unary, type HandlerEnv } from './deps.js';
import { compileDefinitions } from './schema-compile.js';
import type { ServiceHandlers } from './types.js';

/** Go's default time text (`2006-01-02 15:04:05 +0000 UTC`), as Permify renders SchemaList.created_at. */
export function goTimeText(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return (
    `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000 UTC`
  );
}

/**
 * Rejects schema text longer than `service.schema.max_size` before compiling it: compilation is synchronous
 * and a compiled schema retains about 24× its text in every cache that keeps it.
 */
function checkSchemaSize(text: string, maxBytes: number): void {
  // Characters bound bytes from below: only texts that might be too long are measured.
  if (text.length * 3 < maxBytes) return;
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) {
    throw new PermifyError(
      'ERROR_CODE_VALIDATION',
      `schema of ${bytes} bytes exceeds the limit service.schema.max_size=${maxBytes}`,
      { details: { limit: 'service.schema.max_size' } },
    );
  }
}

async function headOrNotFound(env: HandlerEnv, tenantId: string, signal: AbortSignal): Promise<string> {
  const head = await env.store.schemas.headVersion(tenantId, signal);
  if (head === undefined) throw new PermifyError('ERROR_CODE_SCHEMA_NOT_FOUND');
  return head;
}

export function createSchemaHandlers(env: HandlerEnv): ServiceHandlers<typeof s.Schema> {
  const listPageSize = env.limits.defaultListPageSize ?? 50;
  const maxSchemaBytes = env.limits.maxSchemaBytes ?? defaultMaxSchemaBytes;
  return {
    Write: unary(async (r, ctx) => {
      checkSchemaSize(r.schema, maxSchemaBytes);
      const definitions = await compileDefinitions(r.schema, ctx.signal);
      if (definitions.length === 0) {
        throw new PermifyError('ERROR_CODE_SCHEMA_COMPILE', 'schema must contain at least one entity or rule');
      }
      const version = await env.store.schemas.writeSchema(r.tenantId, definitions, ctx.signal);
      return create(s.SchemaWriteResponseSchema, { schemaVersion: version });
    }),

    PartialWrite: unary(async (r, ctx) => {
      const base = r.metadata?.schemaVersion || (await headOrNotFound(env, r.tenantId, ctx.signal));
      const records = await env.store.schemas.readSchema(r.tenantId, base, ctx.signal);
      if (records === undefined || records.length === 0) throw new PermifyError('ERROR_CODE_SCHEMA_NOT_FOUND');
      const partials = new Map(
        Object.entries(r.partials).map(([entity, p]) => [
          entity,
          { write: [...p.write], update: [...p.update], delete: [...p.delete] },
        ]),
      );
      const text = applyPartialWrite(
        records.map((d) => ({ name: d.name, definition: d.definition })),
        partials,
      );
      checkSchemaSize(text, maxSchemaBytes);
      const definitions = await compileDefinitions(text, ctx.signal);
      const version = await env.store.schemas.writeSchema(r.tenantId, definitions, ctx.signal);
      return create(s.SchemaPartialWriteResponseSchema, { schemaVersion: version });
    }),

    Read: unary(async (r, ctx) => {
      const explicit = r.metadata?.schemaVersion ?? '';
      const version = explicit || (await headOrNotFound(env, r.tenantId, ctx.signal));
      try {
        const { schema } = await env.schemas.resolve(r.tenantId, version, ctx.signal);
        return create(s.SchemaReadResponseSchema, { schema: schemaToProto(schema) });
      } catch (e) {
        // Permify answers an explicit but unknown version with empty maps.
        if (explicit !== '' && isPermifyError(e) && e.code === 'ERROR_CODE_SCHEMA_NOT_FOUND') {
          return create(s.SchemaReadResponseSchema, { schema: create(SchemaDefinitionSchema, {}) });
        }
        throw e;
      }
    }),

    List: unary(async (r, ctx) => {
      const head = await headOrNotFound(env, r.tenantId, ctx.signal);
      const page = await env.store.schemas.listVersions(
        r.tenantId,
        { size: r.pageSize || listPageSize, token: r.continuousToken },
        ctx.signal,
      );
      return create(s.SchemaListResponseSchema, {
        head,
        schemas: page.items.map((v) =>
          create(s.SchemaListSchema, {
            version: v.version,
            createdAt: goTimeText(versionIdTime(v.version) ?? v.createdAt),
          }),
        ),
        continuousToken: page.continuousToken,
      });
    }),
  };
}
