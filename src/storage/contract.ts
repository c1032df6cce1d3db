/**
 * The storage contract: what every store (memory, PostgreSQL) provides to the engine, the API handlers
 * and the tooling. Nothing above this file knows which backend it talks to; only `server.ts` and `cli/`
 * pick one.
 *
 * Consistency model (both stores):
 * - Every data write (tuples, attributes, deletes, bundle runs) is one atomic transaction that yields a new
 *   snap token. Tokens are opaque strings; each store defines its encoding.
 * - Every read takes a snap token and sees exactly the data committed up to it (MVCC): later writes,
 *   deletes and overwrites are invisible to it until garbage collection removes history older than the
 *   configured window. An empty token is not accepted by readers: callers resolve "head" first with
 *   {@link DataReader.headSnapToken} so that the token can key caches.
 * - Results come in a stable, documented order (ascending storage insertion order for tuples and
 *   attributes) so that pagination with continuation tokens is deterministic.
 *
 * Errors: stores throw only {@link PermifyError} (datastore failures as ERROR_CODE_DATASTORE or
 * ERROR_CODE_INTERNAL with the driver error as `cause`, bad tokens as ERROR_CODE_INVALID_CONTINUOUS_TOKEN /
 * ERROR_CODE_INTERNAL, cancellation as ERROR_CODE_CANCELLED).
 */
import type { Attribute, Entity, Tuple } from '../data/types.js';

/** Opaque snapshot token. */
export type SnapToken = string;

/** Entity filter: empty `type` = any type; empty `ids` = any id, otherwise "id IN ids". */
export interface EntityFilter {
  readonly type?: string;
  readonly ids?: readonly string[];
}

/** Subject filter: empty fields match anything; an empty `relation` matches any subject relation (or none). */
export interface SubjectFilter {
  readonly type?: string;
  readonly ids?: readonly string[];
  readonly relation?: string;
}

export interface TupleFilter {
  readonly entity?: EntityFilter;
  /** Empty = any relation. */
  readonly relation?: string;
  readonly subject?: SubjectFilter;
}

export interface AttributeFilter {
  readonly entity?: EntityFilter;
  /** Attribute names; empty = any. */
  readonly attributes?: readonly string[];
}

/** A page request: `size` ≥ 1; `token` is a continuation token returned by a previous page ("" = first). */
export interface PageRequest {
  readonly size: number;
  readonly token?: string;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** "" when there is nothing after this page. */
  readonly continuousToken: string;
}

/** Options of unpaged engine queries. */
export interface QueryOptions {
  readonly signal?: AbortSignal;
  /** Only rows whose entity id is ≥ this value (byte-wise string order); used by lookup cursors. */
  readonly entityIdFrom?: string;
}

/** Read side of relationship and attribute data. Every method is pinned to a snap token. */
export interface DataReader {
  /** Token of the newest committed state of the tenant (a tenant with no writes still has one). */
  headSnapToken(tenantId: string, signal?: AbortSignal): Promise<SnapToken>;

  /**
   * Every live tuple at `snapToken` matching the filter, in ascending insertion order. Served from indexes
   * for the engine's access patterns (entity+relation, subject, entity type+relation), never a full scan
   * when the filter names an entity type or a subject.
   */
  queryRelationships(
    tenantId: string,
    filter: TupleFilter,
    snapToken: SnapToken,
    options?: QueryOptions,
  ): Promise<readonly Tuple[]>;

  /** Paginated variant of {@link queryRelationships} for ReadRelationships. */
  readRelationships(
    tenantId: string,
    filter: TupleFilter,
    snapToken: SnapToken,
    page: PageRequest,
    signal?: AbortSignal,
  ): Promise<Page<Tuple>>;

  /** The live value of one attribute of one entity at `snapToken`, if any. */
  querySingleAttribute(
    tenantId: string,
    entity: Entity,
    attribute: string,
    snapToken: SnapToken,
    signal?: AbortSignal,
  ): Promise<Attribute | undefined>;

  /** Every live attribute at `snapToken` matching the filter, in ascending insertion order. */
  queryAttributes(
    tenantId: string,
    filter: AttributeFilter,
    snapToken: SnapToken,
    options?: QueryOptions,
  ): Promise<readonly Attribute[]>;

  /** Paginated variant of {@link queryAttributes} for ReadAttributes. */
  readAttributes(
    tenantId: string,
    filter: AttributeFilter,
    snapToken: SnapToken,
    page: PageRequest,
    signal?: AbortSignal,
  ): Promise<Page<Attribute>>;

  /**
   * Distinct subject ids, ascending (byte-wise), of live tuples whose subject type is `subjectType` and whose
   * subject relation equals `subjectRelation` exactly ("" = plain subjects only). Used by LookupSubject's
   * "all subjects" answer.
   */
  queryUniqueSubjectIds(
    tenantId: string,
    subjectType: string,
    subjectRelation: string,
    snapToken: SnapToken,
    signal?: AbortSignal,
  ): Promise<readonly string[]>;
}

/** One step of an atomic write. Within a step the order is: tuple writes, attribute writes, tuple deletes, attribute deletes. */
export interface WriteStep {
  /** Idempotent: a tuple identical to a live one is a no-op. */
  readonly writeTuples?: readonly Tuple[];
  /** Replaces the live value of the same (entity, attribute), if any. */
  readonly writeAttributes?: readonly Attribute[];
  /** Exact tuples to delete (subject relation "" means exactly a plain subject). */
  readonly deleteTuples?: readonly Tuple[];
  /** Exact (entity, attribute) pairs to delete. */
  readonly deleteAttributes?: readonly { readonly entity: Entity; readonly attribute: string }[];
  /** Delete every live tuple matching each filter. A filter without any criterion deletes nothing. */
  readonly deleteTupleFilters?: readonly TupleFilter[];
  /** Delete every live attribute matching each filter. A filter without any criterion deletes nothing. */
  readonly deleteAttributeFilters?: readonly AttributeFilter[];
}

/** Write side of relationship and attribute data. */
export interface DataWriter {
  /**
   * Applies the steps in order as ONE transaction and returns its snap token. Concurrent writers are
   * serialised (or retried) so that no write is lost or duplicated. Subject relation "..." is normalised
   * to "" before storing. Does not validate against a schema (callers do).
   */
  write(tenantId: string, steps: readonly WriteStep[], signal?: AbortSignal): Promise<SnapToken>;
}

/** One stored schema statement (an entity or a rule) as normalised schema text. */
export interface SchemaDefinitionRecord {
  readonly name: string;
  readonly definition: string;
}

export interface SchemaVersionInfo {
  readonly version: string;
  readonly createdAt: Date;
}

/** Schema versions per tenant. Versions are immutable, 20-char `[0-9a-v]` ids, time-sortable. */
export interface SchemaStore {
  /** Stores the statements under a new version, which becomes head; returns the version id. */
  writeSchema(
    tenantId: string,
    definitions: readonly SchemaDefinitionRecord[],
    signal?: AbortSignal,
  ): Promise<string>;
  /** The statements of a version in stored order, or undefined if the tenant has no such version. */
  readSchema(
    tenantId: string,
    version: string,
    signal?: AbortSignal,
  ): Promise<readonly SchemaDefinitionRecord[] | undefined>;
  /** The tenant's newest version, or undefined if it has none. */
  headVersion(tenantId: string, signal?: AbortSignal): Promise<string | undefined>;
  /** Versions newest first. */
  listVersions(tenantId: string, page: PageRequest, signal?: AbortSignal): Promise<Page<SchemaVersionInfo>>;
}

export interface Tenant {
  readonly id: string;
  readonly name: string;
  readonly createdAt: Date;
}

export interface TenantStore {
  /** @throws PermifyError ERROR_CODE_UNIQUE_CONSTRAINT when the id exists. */
  createTenant(id: string, name: string, signal?: AbortSignal): Promise<Tenant>;
  /** Removes the tenant and ALL of its data. @throws PermifyError ERROR_CODE_NOT_FOUND when unknown. */
  deleteTenant(id: string, signal?: AbortSignal): Promise<void>;
  /** Ascending by id. */
  listTenants(page: PageRequest, signal?: AbortSignal): Promise<Page<Tenant>>;
  /**
   * Reports tenant deletions committed through ANY store sharing this data (with PostgreSQL, every process on
   * the database), this one included, after they commit, so that caches drop the tenant's entries. `missed`
   * means deletions may have gone unreported (the notification channel was down): drop everything. Returns
   * the unsubscribe function; a store keeps no listening connection once the last listener is gone.
   */
  subscribe(listener: (event: TenantEvent) => void): () => void;
}

/** A notification of {@link TenantStore.subscribe}. */
export type TenantEvent = { readonly kind: 'deleted'; readonly tenantId: string } | { readonly kind: 'missed' };

/** A stored bundle operation: four lists of templated strings (`{{.arg}}` placeholders). */
export interface BundleOperation {
  readonly relationshipsWrite: readonly string[];
  readonly relationshipsDelete: readonly string[];
  readonly attributesWrite: readonly string[];
  readonly attributesDelete: readonly string[];
}

export interface DataBundle {
  readonly name: string;
  readonly arguments: readonly string[];
  readonly operations: readonly BundleOperation[];
}

export interface BundleStore {
  /** Upserts each bundle by (tenant, name); returns the names in request order. */
  writeBundles(tenantId: string, bundles: readonly DataBundle[], signal?: AbortSignal): Promise<readonly string[]>;
  /** @throws PermifyError ERROR_CODE_BUNDLE_NOT_FOUND */
  readBundle(tenantId: string, name: string, signal?: AbortSignal): Promise<DataBundle>;
  /** @throws PermifyError ERROR_CODE_BUNDLE_NOT_FOUND */
  deleteBundle(tenantId: string, name: string, signal?: AbortSignal): Promise<void>;
}

export interface DataChange {
  readonly operation: 'create' | 'delete';
  readonly tuple?: Tuple;
  readonly attribute?: Attribute;
}

/** Everything one committed write transaction changed. */
export interface DataChanges {
  readonly snapToken: SnapToken;
  readonly changes: readonly DataChange[];
}

export interface Watcher {
  /**
   * Committed changes of the tenant after `snapToken` ("" = from now on), one element per write
   * transaction, in commit order, without gaps or duplicates; resumable from any delivered token.
   * Ends when `signal` aborts.
   */
  watch(tenantId: string, snapToken: SnapToken, signal: AbortSignal): AsyncIterable<DataChanges>;
}

/** One batch of a bulk import. */
export interface ImportBatch {
  readonly tuples: readonly Tuple[];
  readonly attributes: readonly Attribute[];
}

/** One page of a bulk export: tuples first (ascending insertion order), then attributes (same order). */
export interface ExportPage {
  readonly tuples: readonly Tuple[];
  readonly attributes: readonly Attribute[];
  /** Position after this page ("" when the export is complete); opaque, only valid for the same snap token. */
  readonly cursor: string;
}

/**
 * Bulk import and export (issue 15). Same MVCC semantics as {@link DataWriter.write}: a batch is ONE
 * transaction with one snap token, and Watch reports it as one change set.
 */
export interface BulkStore {
  /**
   * Applies a batch as one transaction: a tuple identical to a live one is a no-op (so re-applying a batch
   * changes nothing: imports are resumable), an attribute replaces the live value of its (entity,
   * attribute) and the last of several in one batch wins. Does not validate against a schema (callers do).
   */
  importBatch(tenantId: string, batch: ImportBatch, signal?: AbortSignal): Promise<SnapToken>;
  /**
   * At most `size` live items at `snapToken` after `cursor` ("" = from the start); following the cursors
   * yields every live tuple and attribute exactly once. Work per page is bounded by the page, not the data.
   * @throws PermifyError ERROR_CODE_INVALID_CONTINUOUS_TOKEN for a malformed cursor.
   */
  exportPage(
    tenantId: string,
    snapToken: SnapToken,
    cursor: string,
    size: number,
    signal?: AbortSignal,
  ): Promise<ExportPage>;
}

/** Garbage collection of history older than a window. */
export interface GarbageCollector {
  /** Removes history (expired rows, transaction records) older than `windowMs`; never live data. */
  collect(windowMs: number, signal?: AbortSignal): Promise<{ readonly removedRows: number }>;
}

/** A whole store, as composed by `server.ts`. */
export interface Store {
  readonly kind: 'memory' | 'postgres';
  readonly reader: DataReader;
  readonly writer: DataWriter;
  readonly bulk: BulkStore;
  readonly schemas: SchemaStore;
  readonly tenants: TenantStore;
  readonly bundles: BundleStore;
  readonly watcher: Watcher;
  readonly gc: GarbageCollector;
  /** True when the store can serve requests (the database is reachable). */
  isReady(signal?: AbortSignal): Promise<boolean>;
  close(): Promise<void>;
}
