/**
 * The one error type of permify-ts and its code table.
 *
 * Every failure that can reach a client is a {@link PermifyError} carrying one of Permify's
 * `ERROR_CODE_*` names. The table below maps each code to its wire number, gRPC status and HTTP status,
 * so that both transports answer the same failure the same way. Anything else thrown is normalised at
 * the edge by {@link toPermifyError}; its cause is logged, never sent.
 */

/** gRPC status codes used by the table (values as in the gRPC specification). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

/** HTTP status the REST gateway answers for each gRPC status. */
export const httpStatusOfGrpc: Readonly<Record<GrpcStatusCode, number>> = {
  0: 200,
  1: 499,
  2: 500,
  3: 400,
  4: 504,
  5: 404,
  6: 409,
  7: 403,
  8: 429,
  9: 400,
  10: 409,
  11: 400,
  12: 501,
  13: 500,
  14: 503,
  15: 500,
  16: 401,
};

/** Permify's `base.v1.ErrorCode` enum: name -> wire number. */
export const errorCodeNumbers = {
  ERROR_CODE_UNSPECIFIED: 0,
  ERROR_CODE_MISSING_BEARER_TOKEN: 1001,
  ERROR_CODE_UNAUTHENTICATED: 1002,
  ERROR_CODE_MISSING_TENANT_ID: 1003,
  ERROR_CODE_INVALID_AUDIENCE: 1004,
  ERROR_CODE_INVALID_CLAIMS: 1005,
  ERROR_CODE_INVALID_ISSUER: 1006,
  ERROR_CODE_INVALID_BEARER_TOKEN: 1007,
  ERROR_CODE_VALIDATION: 2000,
  ERROR_CODE_UNDEFINED_CHILD_TYPE: 2002,
  ERROR_CODE_UNDEFINED_CHILD_KIND: 2003,
  ERROR_CODE_UNDEFINED_RELATION_REFERENCE: 2006,
  ERROR_CODE_NOT_SUPPORTED_RELATION_WALK: 2007,
  ERROR_CODE_ENTITY_AND_SUBJECT_CANNOT_BE_EQUAL: 2008,
  ERROR_CODE_DEPTH_NOT_ENOUGH: 2009,
  ERROR_CODE_RELATION_REFERENCE_NOT_FOUND_IN_ENTITY_REFERENCES: 2010,
  ERROR_CODE_RELATION_REFERENCE_MUST_HAVE_ONE_ENTITY_REFERENCE: 2011,
  ERROR_CODE_DUPLICATED_ENTITY_REFERENCE: 2012,
  ERROR_CODE_DUPLICATED_RELATION_REFERENCE: 2013,
  ERROR_CODE_DUPLICATED_PERMISSION_REFERENCE: 2014,
  ERROR_CODE_SCHEMA_PARSE: 2015,
  ERROR_CODE_SCHEMA_COMPILE: 2016,
  ERROR_CODE_SUBJECT_RELATION_MUST_BE_EMPTY: 2017,
  ERROR_CODE_SUBJECT_RELATION_CANNOT_BE_EMPTY: 2018,
  ERROR_CODE_SCHEMA_MUST_HAVE_USER_ENTITY_DEFINITION: 2019,
  ERROR_CODE_UNIQUE_CONSTRAINT: 2020,
  ERROR_CODE_INVALID_CONTINUOUS_TOKEN: 2021,
  ERROR_CODE_INVALID_KEY: 2022,
  ERROR_CODE_ENTITY_TYPE_REQUIRED: 2023,
  ERROR_CODE_NO_ENTITY_REFERENCES_FOUND_IN_SCHEMA: 2024,
  ERROR_CODE_INVALID_ARGUMENT: 2025,
  ERROR_CODE_INVALID_RULE_REFERENCE: 2026,
  ERROR_CODE_NOT_SUPPORTED_WALK: 2027,
  ERROR_CODE_MISSING_ARGUMENT: 2028,
  ERROR_CODE_ALREADY_EXIST: 2029,
  ERROR_CODE_MAX_DATA_PER_WRITE_EXCEEDED: 2030,
  ERROR_CODE_NOT_FOUND: 4000,
  ERROR_CODE_ENTITY_TYPE_NOT_FOUND: 4001,
  ERROR_CODE_PERMISSION_NOT_FOUND: 4002,
  ERROR_CODE_SCHEMA_NOT_FOUND: 4003,
  ERROR_CODE_SUBJECT_TYPE_NOT_FOUND: 4004,
  ERROR_CODE_ENTITY_DEFINITION_NOT_FOUND: 4005,
  ERROR_CODE_PERMISSION_DEFINITION_NOT_FOUND: 4006,
  ERROR_CODE_RELATION_DEFINITION_NOT_FOUND: 4007,
  ERROR_CODE_RECORD_NOT_FOUND: 4008,
  ERROR_CODE_TENANT_NOT_FOUND: 4009,
  ERROR_CODE_ATTRIBUTE_DEFINITION_NOT_FOUND: 4010,
  ERROR_CODE_ATTRIBUTE_TYPE_MISMATCH: 4011,
  ERROR_CODE_BUNDLE_NOT_FOUND: 4012,
  ERROR_CODE_RULE_DEFINITION_NOT_FOUND: 4013,
  ERROR_CODE_ENTITY_STATEMENT_NOT_FOUND: 4014,
  ERROR_CODE_REFERENCE_NOT_FOUND: 4015,
  ERROR_CODE_INTERNAL: 5000,
  ERROR_CODE_CANCELLED: 5001,
  ERROR_CODE_SQL_BUILDER: 5002,
  ERROR_CODE_CIRCUIT_BREAKER: 5003,
  ERROR_CODE_EXECUTION: 5005,
  ERROR_CODE_SCAN: 5006,
  ERROR_CODE_MIGRATION: 5007,
  ERROR_CODE_TYPE_CONVERSATION: 5008,
  ERROR_CODE_ERROR_MAX_RETRIES: 5009,
  ERROR_CODE_ROLLBACK: 5010,
  ERROR_CODE_EXCLUSION_REQUIRES_MORE_THAN_ONE_FUNCTION: 5011,
  ERROR_CODE_NOT_IMPLEMENTED: 5012,
  ERROR_CODE_DATASTORE: 5013,
  ERROR_CODE_UNKNOWN_STATEMENT_TYPE: 5014,
  ERROR_CODE_UNKNOWN_REFERENCE_TYPE: 5015,
  ERROR_CODE_CANNOT_CONVERT_TO_ENTITY_STATEMENT: 5016,
  ERROR_CODE_CANNOT_CONVERT_TO_RELATION_STATEMENT: 5017,
  ERROR_CODE_CANNOT_CONVERT_TO_ATTRIBUTE_STATEMENT: 5018,
  ERROR_CODE_SERIALIZATION: 5019,
} as const;

/** The closed set of error codes. */
export type ErrorCode = keyof typeof errorCodeNumbers;

/**
 * Codes that exist only in permify-ts (never a Permify enum value). They still map to a Permify number for
 * the wire (`wireCode`) but carry their own gRPC status.
 */
export const localCodes = {
  /** Token bucket exhausted. */
  RATE_LIMITED: { wireCode: 'ERROR_CODE_UNSPECIFIED', grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  /** The request's deadline passed before an answer was ready. */
  DEADLINE_EXCEEDED: { wireCode: 'ERROR_CODE_CANCELLED', grpc: GrpcStatus.DEADLINE_EXCEEDED },
  /** The service (or its database) is not ready to serve. */
  UNAVAILABLE: { wireCode: 'ERROR_CODE_DATASTORE', grpc: GrpcStatus.UNAVAILABLE },
} as const satisfies Record<string, { wireCode: ErrorCode; grpc: GrpcStatusCode }>;
export type LocalCode = keyof typeof localCodes;

/** gRPC status of a Permify code, by the numeric-range rule of the API specification (section 4.1). */
export function grpcStatusOf(code: ErrorCode | LocalCode): GrpcStatusCode {
  if (code in localCodes) return localCodes[code as LocalCode].grpc;
  switch (code) {
    case 'ERROR_CODE_CANCELLED':
      return GrpcStatus.CANCELLED;
    case 'ERROR_CODE_NOT_IMPLEMENTED':
      return GrpcStatus.UNIMPLEMENTED;
    case 'ERROR_CODE_SERIALIZATION':
      return GrpcStatus.ABORTED;
    // Permify answers these with UNKNOWN through a side path; we answer UNAUTHENTICATED deliberately
    // (README, compatibility section).
    case 'ERROR_CODE_INVALID_KEY':
      return GrpcStatus.UNAUTHENTICATED;
  }
  const n = errorCodeNumbers[code as ErrorCode];
  if (n >= 1000 && n < 2000) return GrpcStatus.UNAUTHENTICATED;
  if (n >= 2000 && n < 3000) return GrpcStatus.INVALID_ARGUMENT;
  if (n >= 4000 && n < 5000) return GrpcStatus.NOT_FOUND;
  return GrpcStatus.INTERNAL;
}

/** Optional structured facts attached to an error (never secrets, SQL or paths). */
export interface PermifyErrorDetails {
  /** 1-based line of a schema diagnostic. */
  readonly line?: number;
  /** Column of a schema diagnostic (Permify's convention: byte offset in the line + 2). */
  readonly column?: number;
  /** Name of the violated limit, for limit errors. */
  readonly limit?: string;
  // What the server knows about a "not found" or invalid input (sent as google.rpc.ErrorInfo metadata, logged
  // at debug): Permify answers several different cases with one bare code, e.g. ERROR_CODE_SCHEMA_NOT_FOUND.
  readonly tenantId?: string;
  readonly schemaVersion?: string;
  readonly entityType?: string;
  /** A permission, relation, attribute or rule name that the entity type does not define. */
  readonly permission?: string;
  readonly relation?: string;
  /** The request field an invalid value came in (`metadata.snap_token`, `continuous_token`). */
  readonly field?: string;
  /**
   * The rule whose evaluation failed (a missing `context.data` key, a value of another type, a pattern
   * `matches()` refuses): such errors are the caller's to fix, so their message is sent as is.
   */
  readonly rule?: string;
}

/** google.rpc.ErrorInfo of an error: reason = its wire code, metadata = its details as strings (none: undefined). */
export interface ErrorInfo {
  readonly reason: string;
  readonly domain: string;
  readonly metadata: Readonly<Record<string, string>>;
}

// line/column/limit are already part of their errors' messages; these are not.
const errorInfoKeys = ['tenantId', 'schemaVersion', 'entityType', 'permission', 'relation', 'field', 'rule'] as const;

// Values are echoed from the request into the grpc-status-details-bin trailer; an unbounded one (an 80 KB schema
// version) overflows the HTTP/2 header-list limit and the call hangs until its deadline. With seven keys of at most
// this many characters (plus the marker) the details stay under 2 KB.
export const MAX_ERROR_INFO_VALUE_CHARS = 256;
const truncatedMarker = '…';

function capValue(v: string): string {
  return v.length <= MAX_ERROR_INFO_VALUE_CHARS ? v : v.slice(0, MAX_ERROR_INFO_VALUE_CHARS) + truncatedMarker;
}

/** The {@link ErrorInfo} the transports attach to an error that carries details (snake_case keys, as on the wire). */
export function errorInfoOf(err: PermifyError): ErrorInfo | undefined {
  const metadata: Record<string, string> = {};
  for (const k of errorInfoKeys) {
    const v = err.details[k];
    if (v !== undefined) metadata[k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = capValue(v);
  }
  if (Object.keys(metadata).length === 0) return undefined;
  return { reason: err.wireCode, domain: 'permify.co', metadata };
}

/**
 * The one error type. `message` is what a client sees; `cause` is for logs only.
 */
export class PermifyError extends Error {
  readonly code: ErrorCode | LocalCode;
  readonly details: PermifyErrorDetails;

  constructor(
    code: ErrorCode | LocalCode,
    message?: string,
    options?: { cause?: unknown; details?: PermifyErrorDetails },
  ) {
    super(message ?? code, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PermifyError';
    this.code = code;
    this.details = options?.details ?? {};
  }

  /** The gRPC status this error is answered with. */
  get grpcStatus(): GrpcStatusCode {
    return grpcStatusOf(this.code);
  }

  /** The HTTP status the REST gateway answers with. */
  get httpStatus(): number {
    return httpStatusOfGrpc[this.grpcStatus];
  }

  /** The Permify `ErrorCode` name used on the wire. */
  get wireCode(): ErrorCode {
    return this.code in localCodes ? localCodes[this.code as LocalCode].wireCode : (this.code as ErrorCode);
  }
}

/** True when `e` is a {@link PermifyError}. */
export function isPermifyError(e: unknown): e is PermifyError {
  return e instanceof PermifyError;
}

/**
 * Normalises anything thrown into a {@link PermifyError}. Abort signals become CANCELLED; anything unknown
 * becomes ERROR_CODE_INTERNAL with the original kept as `cause` (logged, never sent).
 */
export function toPermifyError(e: unknown): PermifyError {
  if (e instanceof PermifyError) return e;
  if (e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError')) {
    return new PermifyError(e.name === 'TimeoutError' ? 'DEADLINE_EXCEEDED' : 'ERROR_CODE_CANCELLED', undefined, {
      cause: e,
    });
  }
  return new PermifyError('ERROR_CODE_INTERNAL', undefined, { cause: e });
}

/** Throws the signal's reason as a CANCELLED / DEADLINE_EXCEEDED error if it has been aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw toPermifyError(signal.reason ?? new DOMException('aborted', 'AbortError'));
}
