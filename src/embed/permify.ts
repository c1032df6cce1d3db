/**
 * The embedding facade: `const authz = await permify({ schema, store })` gives an application the engine
 * in-process, with Permify's semantics and none of the transports.
 *
 * ```ts
 * const authz = await permify({ schema: 'entity user {}\nentity doc { relation owner @user permission edit = owner }' });
 * await authz.write({ tuples: ['doc:1#owner@user:alice'] });
 * await authz.check('doc:1', 'edit', 'user:alice'); // true
 * await authz.lookupEntity('doc', 'edit', 'user:alice'); // ['1']
 * await authz.close();
 * ```
 *
 * Entities, subjects, tuples and attributes are accepted in Permify's text notation (`doc:1`, `user:1#member`,
 * `doc:1#owner@user:alice`, `doc:1$public|boolean:true`) or as objects. Writes are validated against the
 * schema exactly as Data/Write does (undefined relations, subject types, attribute types are refused with
 * Permify's error codes). Reads without a snap token see everything written before; every method throws
 * only {@link PermifyError}.
 */
import {
  parseAttribute,
  parseEntity,
  parseRelationReference,
  parseSubject,
  parseTuple,
  tupleToString,
  attributeKeyToString,
} from '../data/notation.js';
import type { Attribute, Entity, RequestContext, Subject, Tuple } from '../data/types.js';
import { createEngine, type EngineOptions, type PermissionEngine } from '../engine/index.js';
import { PermifyError, toPermifyError } from '../errors.js';
import { compileSchema, printDefinitions } from '../language/index.js';
import type { Schema } from '../schema/model.js';
import { validateAttribute, validateTuple } from '../schema/validate-data.js';
import type { Store, TupleFilter } from '../storage/contract.js';
import { createMemoryStore } from '../storage/memory/index.js';

export interface PermifyOptions {
  /**
   * Schema source text. Written as a new version of the tenant's schema unless it prints to exactly the
   * tenant's head version (so restarting the application does not pile up identical versions).
   */
  readonly schema?: string;
  /** Where data lives (default: a fresh in-memory store, closed by {@link Permify.close}). */
  readonly store?: Store;
  /** Tenant of every call that does not name one (default `t1`, Permify's default tenant). */
  readonly tenantId?: string;
  /** Depth budget of checks and lookups that do not pass one (default 50). */
  readonly depth?: number;
  /** Engine tuning (caches, concurrency, lookup limits). */
  readonly engine?: Omit<EngineOptions, 'reader' | 'schemas'>;
  /** Close `store` on {@link Permify.close} even though it was passed in (default: only the store made here). */
  readonly closeStore?: boolean;
}

/** Per-call options: tenant, consistency and request context. */
export interface CallOptions {
  readonly tenantId?: string;
  /** Evaluate at this snap token (default: the newest data). */
  readonly snapToken?: string;
  /** Evaluate with this schema version (default: the tenant's head). */
  readonly schemaVersion?: string;
  readonly depth?: number;
  /** Contextual tuples, attributes and data (never stored). */
  readonly context?: {
    readonly tuples?: readonly (string | Tuple)[];
    readonly attributes?: readonly (string | Attribute)[];
    readonly data?: RequestContext['data'];
  };
  readonly signal?: AbortSignal;
}

export interface WriteData {
  readonly tuples?: readonly (string | Tuple)[];
  readonly attributes?: readonly (string | Attribute)[];
  /** Exact tuples to delete. */
  readonly deleteTuples?: readonly (string | Tuple)[];
  /** Delete every live tuple matching each filter. */
  readonly deleteTupleFilters?: readonly TupleFilter[];
}

export interface Permify {
  /** True when `subject` has `permission` (or relation, attribute, rule) on `entity`. */
  check(
    entity: string | Entity,
    permission: string,
    subject: string | Subject,
    options?: CallOptions,
  ): Promise<boolean>;
  /** Ids of the entities of `entityType` on which `subject` has `permission`, ascending, all pages. */
  lookupEntity(
    entityType: string,
    permission: string,
    subject: string | Subject,
    options?: CallOptions,
  ): Promise<string[]>;
  /** Ids of the subjects (`user` or `group#member`) that have `permission` on `entity`, ascending, all pages. */
  lookupSubject(
    entity: string | Entity,
    permission: string,
    subjectReference: string,
    options?: CallOptions,
  ): Promise<string[]>;
  /** Validates against the schema and writes atomically; returns the snap token of the write. */
  write(data: WriteData, options?: { readonly tenantId?: string; readonly signal?: AbortSignal }): Promise<string>;
  /** Compiles and stores a new schema version; returns it. */
  writeSchema(schema: string, options?: { readonly tenantId?: string; readonly signal?: AbortSignal }): Promise<string>;
  /** The underlying engine and store, for everything the facade does not cover. */
  readonly engine: PermissionEngine;
  readonly store: Store;
  /** Releases the store when the facade created it (or `closeStore` was set). Idempotent. */
  close(): Promise<void>;
}

const asTuple = (t: string | Tuple): Tuple => (typeof t === 'string' ? parseTuple(t) : t);
const asAttribute = (a: string | Attribute): Attribute => (typeof a === 'string' ? parseAttribute(a) : a);
const asEntity = (e: string | Entity): Entity => (typeof e === 'string' ? parseEntity(e) : e);
const asSubject = (s: string | Subject): Subject =>
  typeof s === 'string' ? parseSubject(s) : { type: s.type, id: s.id, relation: s.relation ?? '' };

/** Every failure as a PermifyError (the notation parsers and the stores already throw one). */
async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toPermifyError(e);
  }
}

/** Creates the facade; writes `options.schema` first when given. */
export async function permify(options: PermifyOptions = {}): Promise<Permify> {
  const ownsStore = options.store === undefined || options.closeStore === true;
  const store = options.store ?? createMemoryStore();
  const engine = createEngine({ ...options.engine, reader: store.reader, schemas: store.schemas });
  const defaultTenant = options.tenantId ?? 't1';
  const defaultDepth = options.depth ?? 50;
  // Compiled schemas by tenant and version, for write validation (versions are immutable).
  const compiled = new Map<string, Schema>();
  let closed = false;

  async function schemaFor(tenantId: string, signal: AbortSignal | undefined): Promise<Schema> {
    const version = await store.schemas.headVersion(tenantId, signal);
    if (version === undefined) {
      throw new PermifyError('ERROR_CODE_SCHEMA_NOT_FOUND', `no schema has been written for tenant "${tenantId}"`);
    }
    const key = `${tenantId}\u0000${version}`;
    const hit = compiled.get(key);
    if (hit) return hit;
    const records = (await store.schemas.readSchema(tenantId, version, signal)) ?? [];
    const schema = compileSchema(records.map((r) => r.definition).join('\n'), { validateReferences: false });
    compiled.set(key, schema);
    return schema;
  }

  function contextOf(o: CallOptions | undefined): RequestContext | undefined {
    if (o?.context === undefined) return undefined;
    return {
      tuples: (o.context.tuples ?? []).map(asTuple),
      attributes: (o.context.attributes ?? []).map(asAttribute),
      data: o.context.data ?? {},
    };
  }

  function metadataOf(o: CallOptions | undefined): { depth: number; snapToken?: string; schemaVersion?: string } {
    return {
      depth: o?.depth ?? defaultDepth,
      ...(o?.snapToken ? { snapToken: o.snapToken } : {}),
      ...(o?.schemaVersion ? { schemaVersion: o.schemaVersion } : {}),
    };
  }

  async function writeSchema(
    text: string,
    o: { readonly tenantId?: string; readonly signal?: AbortSignal } = {},
  ): Promise<string> {
    return guarded(async () => {
      const definitions = printDefinitions(compileSchema(text));
      if (definitions.length === 0) {
        throw new PermifyError('ERROR_CODE_SCHEMA_COMPILE', 'schema must contain at least one entity or rule');
      }
      return store.schemas.writeSchema(o.tenantId ?? defaultTenant, definitions, o.signal);
    });
  }

  const facade: Permify = {
    engine,
    store,

    async check(entity, permission, subject, o) {
      return guarded(async () => {
        const context = contextOf(o);
        const r = await engine.check(
          {
            tenantId: o?.tenantId ?? defaultTenant,
            metadata: metadataOf(o),
            entity: asEntity(entity),
            permission,
            subject: asSubject(subject),
            ...(context ? { context } : {}),
          },
          o?.signal,
        );
        return r.can === 'allowed';
      });
    },

    async lookupEntity(entityType, permission, subject, o) {
      return guarded(async () => {
        const context = contextOf(o);
        const ids: string[] = [];
        let token = '';
        do {
          const page = await engine.lookupEntity(
            {
              tenantId: o?.tenantId ?? defaultTenant,
              metadata: metadataOf(o),
              entityType,
              permission,
              subject: asSubject(subject),
              ...(context ? { context } : {}),
              continuousToken: token,
            },
            o?.signal,
          );
          ids.push(...page.entityIds);
          token = page.continuousToken;
        } while (token !== '');
        return ids;
      });
    },

    async lookupSubject(entity, permission, subjectReference, o) {
      return guarded(async () => {
        const context = contextOf(o);
        const ids: string[] = [];
        let token = '';
        do {
          const page = await engine.lookupSubject(
            {
              tenantId: o?.tenantId ?? defaultTenant,
              metadata: metadataOf(o),
              entity: asEntity(entity),
              permission,
              subjectReference: parseRelationReference(subjectReference),
              ...(context ? { context } : {}),
              continuousToken: token,
            },
            o?.signal,
          );
          ids.push(...page.subjectIds);
          token = page.continuousToken;
        } while (token !== '');
        return ids;
      });
    },

    async write(data, o = {}) {
      return guarded(async () => {
        const tenantId = o.tenantId ?? defaultTenant;
        const schema = await schemaFor(tenantId, o.signal);
        // De-duplicated as Data/Write does: the first copy of a tuple, the last value of an attribute.
        const tuples = new Map<string, Tuple>();
        for (const t of (data.tuples ?? []).map(asTuple)) {
          validateTuple(schema, t);
          const key = tupleToString(t);
          if (!tuples.has(key)) tuples.set(key, t);
        }
        const attributes = new Map<string, Attribute>();
        for (const a of (data.attributes ?? []).map(asAttribute)) {
          validateAttribute(schema, a);
          attributes.set(attributeKeyToString(a.entity, a.attribute), a);
        }
        return store.writer.write(
          tenantId,
          [
            {
              writeTuples: [...tuples.values()],
              writeAttributes: [...attributes.values()],
              deleteTuples: (data.deleteTuples ?? []).map(asTuple),
              deleteTupleFilters: data.deleteTupleFilters ?? [],
            },
          ],
          o.signal,
        );
      });
    },

    writeSchema,

    async close() {
      if (closed) return;
      closed = true;
      if (ownsStore) await store.close();
    },
  };

  // A PostgreSQL store resolves before its database is reachable and migrated; wait for that here so that
  // the first call does not fail (stores without `ready` are ready when created).
  const ready = (store as { ready?: () => Promise<void> }).ready;
  if (typeof ready === 'function') await ready.call(store);
  if (options.schema !== undefined) {
    const tenantId = defaultTenant;
    const wanted = printDefinitions(compileSchema(options.schema));
    const head = await store.schemas.headVersion(tenantId);
    const current = head === undefined ? undefined : await store.schemas.readSchema(tenantId, head);
    const same =
      current !== undefined &&
      current.length === wanted.length &&
      current.every((r, i) => r.name === wanted[i]?.name && r.definition === wanted[i]?.definition);
    if (!same) await writeSchema(options.schema, { tenantId });
  }
  return facade;
}
