/**
 * Request and response shapes of the permission engine, independent of any transport. The API handlers
 * convert protobuf messages to these; the tooling (validate, coverage) and the tests call them directly.
 */
import type { AttributeValue, Entity, RequestContext, Subject } from '../data/types.js';
import type { TraceNode } from './explain-trace.js';

/** Schema version and snapshot; both resolved to head when empty. */
export interface ConsistencyMetadata {
  /** Schema version id; "" or undefined = the tenant's head version. */
  readonly schemaVersion?: string;
  /** Snap token; "" or undefined = the tenant's newest state. */
  readonly snapToken?: string;
}

/** Metadata of operations that recurse: `depth` is the recursion budget (the API requires ≥ 3). */
export interface DepthMetadata extends ConsistencyMetadata {
  readonly depth: number;
}

export type CheckResult = 'allowed' | 'denied';

export interface CheckRequest {
  readonly tenantId: string;
  readonly metadata: DepthMetadata;
  readonly entity: Entity;
  /** A permission, relation, attribute or rule name of the entity type. */
  readonly permission: string;
  readonly subject: Subject;
  readonly context?: RequestContext;
  /** Attribute names bound when `permission` names a rule. */
  readonly arguments?: readonly string[];
}

export interface CheckResponse {
  readonly can: CheckResult;
  readonly metadata: { readonly checkCount: number };
}

export interface BulkCheckItem {
  readonly entity: Entity;
  readonly permission: string;
  readonly subject: Subject;
}

export interface BulkCheckRequest {
  readonly tenantId: string;
  readonly metadata: DepthMetadata;
  readonly context?: RequestContext;
  readonly arguments?: readonly string[];
  readonly items: readonly BulkCheckItem[];
}

export interface BulkCheckResponse {
  /** `results[i]` answers `items[i]`; an item whose check failed is DENIED. */
  readonly results: readonly CheckResponse[];
}

export interface ExpandRequest {
  readonly tenantId: string;
  readonly metadata: ConsistencyMetadata;
  readonly entity: Entity;
  readonly permission: string;
  readonly context?: RequestContext;
  readonly arguments?: readonly string[];
}

export type ExpandLeaf =
  | { readonly kind: 'subjects'; readonly subjects: readonly Subject[] }
  | { readonly kind: 'values'; readonly values: ReadonlyMap<string, AttributeValue> }
  | { readonly kind: 'value'; readonly value: AttributeValue };

export interface ExpandNode {
  readonly entity: Entity;
  readonly permission: string;
  /** Argument (attribute) names; non-empty only on rule nodes. */
  readonly arguments: readonly string[];
  readonly expand?: {
    readonly operation: 'union' | 'intersection' | 'exclusion';
    readonly children: readonly ExpandNode[];
  };
  readonly leaf?: ExpandLeaf;
}

export interface ExpandResponse {
  readonly tree: ExpandNode;
}

export interface LookupEntityRequest {
  readonly tenantId: string;
  readonly metadata: DepthMetadata;
  readonly entityType: string;
  readonly permission: string;
  readonly subject: Subject;
  readonly context?: RequestContext;
  /** Entity type -> allowed ids; restricts candidates of those types. */
  readonly scope?: ReadonlyMap<string, readonly string[]>;
  /** ≥ 1; undefined or 0 = 1000. */
  readonly pageSize?: number;
  readonly continuousToken?: string;
}

export interface LookupEntityResponse {
  /** Ascending (byte-wise). */
  readonly entityIds: readonly string[];
  readonly continuousToken: string;
}

export interface LookupEntityStreamItem {
  readonly entityId: string;
  readonly continuousToken: string;
}

export interface LookupSubjectRequest {
  readonly tenantId: string;
  readonly metadata: DepthMetadata;
  readonly entity: Entity;
  readonly permission: string;
  readonly subjectReference: { readonly type: string; readonly relation: string };
  readonly context?: RequestContext;
  readonly pageSize?: number;
  readonly continuousToken?: string;
}

export interface LookupSubjectResponse {
  readonly subjectIds: readonly string[];
  readonly continuousToken: string;
}

export interface SubjectPermissionRequest {
  readonly tenantId: string;
  readonly metadata: DepthMetadata & { readonly onlyPermission?: boolean };
  readonly entity: Entity;
  readonly subject: Subject;
  readonly context?: RequestContext;
}

export interface SubjectPermissionResponse {
  /** Name -> result, in the entity's declaration order. */
  readonly results: ReadonlyMap<string, CheckResult>;
}

/** Explain's answer: Check's answer plus the proof tree of the evaluation that produced it (explain.ts). */
export interface ExplainResponse {
  /** Check's answer; undefined when Check would have failed with {@link error}. */
  readonly can: CheckResult | undefined;
  readonly error: { readonly code: string; readonly message: string } | undefined;
  readonly metadata: {
    readonly snapToken: string;
    readonly schemaVersion: string;
    readonly checkCount: number;
    readonly depth: number;
  };
  readonly root: TraceNode;
}

/**
 * The permission engine. Every method resolves empty schema version / snap token to head first, evaluates
 * against exactly that snapshot, and throws only PermifyError. Methods honour `signal` (CANCELLED).
 */
export interface PermissionEngine {
  check(request: CheckRequest, signal?: AbortSignal): Promise<CheckResponse>;
  bulkCheck(request: BulkCheckRequest, signal?: AbortSignal): Promise<BulkCheckResponse>;
  expand(request: ExpandRequest, signal?: AbortSignal): Promise<ExpandResponse>;
  lookupEntity(request: LookupEntityRequest, signal?: AbortSignal): Promise<LookupEntityResponse>;
  lookupEntityStream(request: LookupEntityRequest, signal?: AbortSignal): AsyncIterable<LookupEntityStreamItem>;
  lookupSubject(request: LookupSubjectRequest, signal?: AbortSignal): Promise<LookupSubjectResponse>;
  subjectPermission(request: SubjectPermissionRequest, signal?: AbortSignal): Promise<SubjectPermissionResponse>;
  /** A Check with the proof tree of its evaluation (explain.ts); same validation and resolution as check. */
  explain(request: CheckRequest, signal?: AbortSignal): Promise<ExplainResponse>;
  /**
   * Drops every cached entry (compiled schemas, check results, lookup candidate sets) of a deleted tenant;
   * requests in flight across the purge do not put their results back. Cheap when nothing is cached.
   */
  purgeTenant(tenantId: string): void;
  /** Drops every cached entry (tenant deletions may have been missed, e.g. while events were lost). */
  purgeAll(): void;
}
