/**
 * A PostgreSQL store with the read model in front of its readers (a decorator composed in `server.ts`; the
 * engine sees the same `DataReader`/`SchemaStore` contract). Reads of a loaded tenant at a token the model
 * covers are answered from memory; everything else (tenants still loading or over the budget, tokens older
 * than the model's base, tokens the model has not reached within `waitTimeoutMs`, paginated reads whose
 * continuation tokens are PostgreSQL row ids) goes to the PostgreSQL reader, which answers them exactly.
 */
import { LRUCache } from 'lru-cache';
import type { Attribute, Tuple } from '../../data/types.js';
import type { AttributeFilter, DataReader, SchemaDefinitionRecord, SchemaStore, TupleFilter } from '../contract.js';
import {
  attributeAt,
  matchAttributeRows,
  matchTupleRows,
  queryEntityRelation,
  singleAttribute,
  tupleAt,
  uniqueSubjectIds,
} from '../memory/data-reader.js';
import { A_ID, T_ID } from '../memory/tables.js';
import type { PostgresStore } from '../postgres/index.js';
import { checkAttributeFilter, checkTupleFilter } from '../postgres/validate.js';
import { normaliseRelation } from '../postgres/values.js';
import { EMPTY_VIEW, ReadModel, type ModelTenant, type ModelView, type ReadModelOptions } from './read-model.js';

export interface ReadModelStore extends PostgresStore {
  readonly readModel: ReadModel;
  /** The store the model decorates (direct PostgreSQL reads). */
  readonly direct: PostgresStore;
}

export const READ_MODEL_DEFAULTS = {
  maxTuples: 10_000_000,
  maxBytes: 4 * 1024 * 1024 * 1024,
  waitTimeoutMs: 10,
  pollIntervalMs: 50,
  staleAfterMs: 5_000,
} as const;

function normaliseTupleFilter(f: TupleFilter): TupleFilter {
  const rel = f.subject?.relation;
  if (rel !== '...') return f;
  return { ...f, subject: { ...f.subject, relation: normaliseRelation(rel) } };
}

function sortById(rows: number[], ids: Int32Array): number[] {
  return rows.sort((a, b) => (ids[a] as number) - (ids[b] as number));
}

export function createReadModelReader(model: ReadModel, direct: DataReader): DataReader {
  /** The loaded tenant and the token's view, or undefined to fall through. */
  async function resolve(
    tenantId: string,
    token: string,
    signal?: AbortSignal,
  ): Promise<{ t: ModelTenant | undefined; v: ModelView } | undefined> {
    const v = await model.view(tenantId, token, signal);
    if (v === undefined) {
      model.stats.fallbacks += 1;
      return undefined;
    }
    if (v === EMPTY_VIEW) return { t: undefined, v };
    const t = model.loadedTenant(tenantId);
    if (t === undefined) {
      model.stats.fallbacks += 1;
      return undefined;
    }
    model.stats.modelReads += 1;
    return { t, v };
  }

  function tuples(t: ModelTenant, filter: TupleFilter, v: ModelView, from: string | undefined): Tuple[] {
    const d = t.data;
    if (!t.disordered) {
      const fast = queryEntityRelation(d, filter, v.tx, from, v.hidden);
      if (fast !== undefined) return fast;
      return matchTupleRows(d, filter, v.tx, from, v.hidden).map((row) => tupleAt(d, row));
    }
    const rows = matchTupleRows(d, filter, v.tx, from, v.hidden);
    return sortById(rows, d.tuples.col(T_ID)).map((row) => tupleAt(d, row));
  }

  function attributes(t: ModelTenant, filter: AttributeFilter, v: ModelView, from: string | undefined): Attribute[] {
    const d = t.data;
    const rows = matchAttributeRows(d, filter, v.tx, from, v.hidden);
    if (t.disordered) sortById(rows, d.attributes.col(A_ID));
    return rows.map((row) => attributeAt(d, row));
  }

  return {
    async headSnapToken(tenantId, signal) {
      return (
        model.headTokenNow(tenantId) ??
        (await model.headToken(tenantId, signal)) ??
        direct.headSnapToken(tenantId, signal)
      );
    },

    async queryRelationships(tenantId, filter, snapToken, options) {
      checkTupleFilter(filter);
      // The common case first, without an await: a loaded tenant and a token whose view is known.
      const t = model.loadedTenant(tenantId);
      const v = t?.views.get(snapToken);
      if (t !== undefined && v !== undefined) {
        model.stats.modelReads += 1;
        return tuples(t, normaliseTupleFilter(filter), v, options?.entityIdFrom);
      }
      const r = await resolve(tenantId, snapToken, options?.signal);
      if (r === undefined) return direct.queryRelationships(tenantId, filter, snapToken, options);
      if (r.t === undefined) return [];
      return tuples(r.t, normaliseTupleFilter(filter), r.v, options?.entityIdFrom);
    },

    readRelationships(tenantId, filter, snapToken, page, signal) {
      return direct.readRelationships(tenantId, filter, snapToken, page, signal);
    },

    async querySingleAttribute(tenantId, entity, attribute, snapToken, signal) {
      const t = model.loadedTenant(tenantId);
      const v = t?.views.get(snapToken);
      if (t !== undefined && v !== undefined) {
        model.stats.modelReads += 1;
        return singleAttribute(t.data, entity, attribute, v.tx, v.hidden);
      }
      const r = await resolve(tenantId, snapToken, signal);
      if (r === undefined) return direct.querySingleAttribute(tenantId, entity, attribute, snapToken, signal);
      if (r.t === undefined) return undefined;
      return singleAttribute(r.t.data, entity, attribute, r.v.tx, r.v.hidden);
    },

    async queryAttributes(tenantId, filter, snapToken, options) {
      checkAttributeFilter(filter);
      const r = await resolve(tenantId, snapToken, options?.signal);
      if (r === undefined) return direct.queryAttributes(tenantId, filter, snapToken, options);
      if (r.t === undefined) return [];
      return attributes(r.t, filter, r.v, options?.entityIdFrom);
    },

    readAttributes(tenantId, filter, snapToken, page, signal) {
      return direct.readAttributes(tenantId, filter, snapToken, page, signal);
    },

    async queryUniqueSubjectIds(tenantId, subjectType, subjectRelation, snapToken, signal) {
      const r = await resolve(tenantId, snapToken, signal);
      if (r === undefined) {
        return direct.queryUniqueSubjectIds(tenantId, subjectType, subjectRelation, snapToken, signal);
      }
      if (r.t === undefined) return [];
      return uniqueSubjectIds(r.t.data, subjectType, normaliseRelation(subjectRelation), r.v.tx, r.v.hidden);
    },
  };
}

/**
 * Schema reads: the head version comes from the model (refreshed by every tailing cycle and by this
 * process's own schema writes); versions are immutable, so their statements are cached.
 */
export function createReadModelSchemaStore(model: ReadModel, direct: SchemaStore): SchemaStore {
  const versions = new LRUCache<string, readonly SchemaDefinitionRecord[]>({ max: 1_000 });
  // A deleted (maybe re-created) tenant's versions are gone: forget them with the tenant.
  model.dropListeners.add((tenantId) => {
    for (const key of [...versions.keys()]) if (key.startsWith(`${tenantId}\u0000`)) versions.delete(key);
  });
  return {
    async writeSchema(tenantId, definitions, signal) {
      const version = await direct.writeSchema(tenantId, definitions, signal);
      model.noteSchemaVersion(tenantId, version);
      return version;
    },
    async readSchema(tenantId, version, signal) {
      const key = `${tenantId}\u0000${version}`;
      const hit = versions.get(key);
      if (hit !== undefined) return hit;
      const found = await direct.readSchema(tenantId, version, signal);
      if (found !== undefined) versions.set(key, found);
      return found;
    },
    async headVersion(tenantId, signal) {
      const t = model.tenant(tenantId);
      if (t !== undefined && model.fresh) return model.schemaHead(t, tenantId);
      return direct.headVersion(tenantId, signal);
    },
    listVersions(tenantId, page, signal) {
      return direct.listVersions(tenantId, page, signal);
    },
  };
}

export interface ReadModelStoreOptions extends Partial<ReadModelOptions> {
  readonly logger: ReadModelOptions['logger'];
}

/** Wraps `direct` with a read model and starts tailing. */
export function createReadModelStore(direct: PostgresStore, options: ReadModelStoreOptions): ReadModelStore {
  const model = new ReadModel(direct.database, { ...READ_MODEL_DEFAULTS, ...options });
  model.start();
  // Other processes' writes wake the model (the store LISTENs; its writes NOTIFY after commit).
  const stopEvents = direct.onDataChanged((tenantId) => {
    if (tenantId === undefined || model.loadedTenant(tenantId) !== undefined) model.kick();
  });
  // Our own write: a cycle at once when the tenant is loaded here. A tenant this process does not hold needs
  // none (a read of it loads it at a newer snapshot); kicking anyway ran two empty cycles back to back, a
  // round trip each, for as long as the writes went on.
  const written = (tenantId: string, token: string): void => {
    model.noteWrite(tenantId, token);
    if (model.loadedTenant(tenantId) !== undefined) model.kick();
  };
  // Deletions drop the tenant at once; a `missed` (the channel was down) needs nothing here: every tailing
  // cycle compares each tenant's `tenants.created_at` with the one it loaded, in the cycle's own snapshot.
  const unsubscribe = direct.tenants.subscribe((event) => {
    if (event.kind === 'deleted') model.drop(event.tenantId);
  });
  return {
    kind: 'postgres',
    readModel: model,
    direct,
    database: direct.database,
    ready: () => direct.ready(),
    reader: createReadModelReader(model, direct.reader),
    writer: {
      async write(tenantId, steps, signal) {
        const token = await direct.writer.write(tenantId, steps, signal);
        written(tenantId, token);
        return token;
      },
    },
    bulk: {
      async importBatch(tenantId, batch, signal) {
        const token = await direct.bulk.importBatch(tenantId, batch, signal);
        written(tenantId, token);
        return token;
      },
      exportPage: (tenantId, snapToken, cursor, size, signal) =>
        direct.bulk.exportPage(tenantId, snapToken, cursor, size, signal),
    },
    schemas: createReadModelSchemaStore(model, direct.schemas),
    tenants: {
      createTenant: (id, name, signal) => direct.tenants.createTenant(id, name, signal),
      async deleteTenant(id, signal) {
        await direct.tenants.deleteTenant(id, signal);
        model.drop(id);
      },
      listTenants: (page, signal) => direct.tenants.listTenants(page, signal),
      subscribe: (listener) => direct.tenants.subscribe(listener),
    },
    bundles: direct.bundles,
    onDataChanged: (listener) => direct.onDataChanged(listener),
    watcher: direct.watcher,
    gc: direct.gc,
    /** Ready once the database is and the model has caught up (one tailing cycle done). */
    async isReady(signal) {
      return model.fresh && (await direct.isReady(signal));
    },
    async close() {
      unsubscribe();
      stopEvents();
      await model.close();
      await direct.close();
    },
  };
}
