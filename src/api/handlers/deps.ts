/**
 * What the handlers need from the rest of the system, and the small helpers they share.
 */
import { PermifyError, errorCodeNumbers, toPermifyError } from '../../errors.js';
import type { PermissionEngine } from '../../engine/types.js';
import type { SchemaResolver } from '../../engine/schema-resolver.js';
import type { Store } from '../../storage/contract.js';
import { unknownFieldsNote } from '../validation/unknown-fields.js';
import { validateRequest, type ValidatedMessage } from '../validation/validate.js';
import type { HandlerContext } from './types.js';

/** Named, configurable limits of the API (each enforced with an error that names it). */
export interface ApiLimits {
  /** `database.max_data_per_write`: tuples + attributes (after de-duplication) per Data/Write. */
  readonly maxDataPerWrite: number;
  /** BulkCheck items; the wire rule caps it at 100 and a smaller value tightens it. */
  readonly bulkCheckMaxItems?: number;
  /** Page size of ReadRelationships/ReadAttributes when the request sends 0 (Permify: 50). */
  readonly defaultReadPageSize?: number;
  /**
   * Page size of Schema/List and Tenancy/List when the request sends 0. Permify applies no default there
   * (it answers an empty page); we use this value instead (README, compatibility).
   */
  readonly defaultListPageSize?: number;
  /** Compiled schema versions kept for Schema/Read (when no `schemaResolver` is shared). */
  readonly schemaCacheSize?: number;
  /** Estimated bytes of those compiled versions (when no `schemaResolver` is shared). Default 64 MiB. */
  readonly schemaCacheMaxBytes?: number;
  /**
   * `service.schema.max_size`: bytes of schema text a Schema/Write or PartialWrite may store (the request's
   * text, and the resulting schema). Default {@link defaultMaxSchemaBytes}.
   */
  readonly maxSchemaBytes?: number;
  /** `service.data.max_import_batch`: items per permifyts.v1.Data/Import message (one transaction). */
  readonly maxImportBatch?: number;
  /** `service.data.import_concurrency`: batches of one Import stream applied at once. */
  readonly importConcurrency?: number;
  /** `service.data.max_export_page_size`: items per permifyts.v1.Data/Export page. */
  readonly maxExportPageSize?: number;
}

/** Default `service.schema.max_size`: 1 MiB (a compiled schema retains about 24× its text). */
export const defaultMaxSchemaBytes = 1024 * 1024;

export interface HandlerDeps {
  readonly engine: PermissionEngine;
  readonly store: Store;
  readonly limits: ApiLimits;
  /** `service.watch.enabled`; when false a Watch stream ends at once with OK (as Permify). Default false. */
  readonly watchEnabled?: boolean;
  /** The engine's schema resolver, shared so that each version is compiled and kept once. */
  readonly schemaResolver?: SchemaResolver;
}

/** Internal wiring shared by the service modules. */
export interface HandlerEnv extends HandlerDeps {
  readonly schemas: SchemaResolver;
}

/**
 * Validates a request by its message type name (`$typeName`), throwing the protoc-gen-validate style
 * PermifyError. Exported so that transports can validate before admission control (spec §1.2).
 */
export function validateMessage(request: { readonly $typeName: string }): void {
  const name = request.$typeName.startsWith('base.v1.') ? request.$typeName.slice('base.v1.'.length) : '';
  if (name === '') return;
  try {
    validateRequest(name as ValidatedMessage, request as never);
  } catch (e) {
    const note = unknownFieldsNote(request);
    if (note === '' || !(e instanceof PermifyError)) throw e;
    throw new PermifyError(e.code, `${e.message}${note}`, { cause: e.cause ?? e, details: e.details });
  }
}

/**
 * True when the call pipeline already validated this call's request (its validation interceptor runs before
 * admission and marks the context); direct callers of the handlers are validated by the wrappers. A flag on
 * the per-call context, not a WeakSet of requests: no ephemeron per call for the garbage collector.
 */
function requestValidated(ctx: HandlerContext): boolean {
  return (ctx as { readonly requestValidated?: boolean }).requestValidated === true;
}

/**
 * Normalises an error for the wire. Permify answers with the `ErrorCode` enum name as the status message, so
 * descriptive store/engine messages are replaced by the name; validation texts, schema diagnostics
 * (`L:C: ...`), rule evaluation errors (details.rule: the caller needs the text to fix its data) and internal
 * messages keep their text.
 */
export function toWireError(e: unknown): PermifyError {
  const err = withTokenField(toPermifyError(e));
  if (
    err.code in errorCodeNumbers &&
    err.code !== 'ERROR_CODE_VALIDATION' &&
    err.code !== 'ERROR_CODE_INTERNAL' &&
    err.details.rule === undefined &&
    err.message !== err.code &&
    !/^\d+:\d+:/.test(err.message)
  ) {
    return new PermifyError(err.code, err.code, { cause: err, details: err.details });
  }
  return err;
}

/**
 * Names the request field of an invalid token in the error details. Every RPC calls its continuation token
 * `continuous_token` and its snap token `metadata.snap_token`, and the stores that reject them do not know
 * the request, so the field is added here.
 */
function withTokenField(err: PermifyError): PermifyError {
  if (err.details.field !== undefined) return err;
  const field =
    err.code === 'ERROR_CODE_INVALID_CONTINUOUS_TOKEN'
      ? 'continuous_token'
      : /^invalid snap token/.test(err.message)
        ? 'metadata.snap_token'
        : undefined;
  if (field === undefined) return err;
  return new PermifyError(err.code, err.message, { cause: err.cause ?? err, details: { ...err.details, field } });
}

/** Wraps a unary handler: validation first, then only PermifyErrors escape. */
export function unary<Req extends { readonly $typeName: string }, Res>(
  fn: (request: Req, ctx: HandlerContext) => Promise<Res>,
): (request: Req, ctx: HandlerContext) => Promise<Res> {
  return async (request, ctx) => {
    try {
      if (ctx.signal.aborted) throw new PermifyError('ERROR_CODE_CANCELLED');
      if (!requestValidated(ctx)) validateMessage(request);
      return await fn(request, ctx);
    } catch (e) {
      throw toWireError(e);
    }
  };
}

/** Wraps a server-streaming handler the same way. */
export function streaming<Req extends { readonly $typeName: string }, Res>(
  fn: (request: Req, ctx: HandlerContext) => AsyncIterable<Res>,
): (request: Req, ctx: HandlerContext) => AsyncIterable<Res> {
  return async function* (request, ctx) {
    try {
      validateMessage(request);
      yield* fn(request, ctx);
    } catch (e) {
      throw toWireError(e);
    }
  };
}
