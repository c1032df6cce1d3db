/** Shared set-up of the engine suites: a real memory store, one schema, data written through the contract. */
import { parseAttribute, parseEntity, parseSubject, parseTuple } from '../../src/data/notation.js';
import type { JsonValue, RequestContext } from '../../src/data/types.js';
import { isPermifyError } from '../../src/errors.js';
import { createEngine, type EngineOptions } from '../../src/engine/index.js';
import type { CheckResult, PermissionEngine } from '../../src/engine/types.js';
import { createMemoryStore } from '../../src/storage/memory/index.js';
import type { Store } from '../../src/storage/contract.js';

export const TENANT = 't1';

export interface Fixture {
  readonly store: Store;
  readonly engine: PermissionEngine;
  readonly version: string;
  /** Snap token of the initial data write. */
  readonly token: string;
  write(tuples: readonly string[], attributes?: readonly string[]): Promise<string>;
  remove(tuples: readonly string[]): Promise<string>;
  check(entity: string, permission: string, subject: string, opts?: CallOptions): Promise<CheckResult>;
  /** `check` that returns the error code instead of throwing. */
  outcome(entity: string, permission: string, subject: string, opts?: CallOptions): Promise<string>;
  lookupEntity(type: string, permission: string, subject: string, opts?: CallOptions): Promise<string[]>;
  lookupSubject(entity: string, permission: string, reference: string, opts?: CallOptions): Promise<string[]>;
}

export interface CallOptions {
  readonly depth?: number;
  readonly context?: ContextSpec;
  readonly snapToken?: string;
  readonly arguments?: readonly string[];
}

export interface ContextSpec {
  readonly tuples?: readonly string[];
  readonly attributes?: readonly string[];
  readonly data?: { readonly [k: string]: JsonValue };
}

export function ctx(spec: ContextSpec | undefined): RequestContext | undefined {
  if (spec === undefined) return undefined;
  return {
    tuples: (spec.tuples ?? []).map(parseTuple),
    attributes: (spec.attributes ?? []).map(parseAttribute),
    data: spec.data ?? {},
  };
}

export async function fixture(
  schema: string,
  tuples: readonly string[],
  attributes: readonly string[] = [],
  options: Partial<EngineOptions> = {},
): Promise<Fixture> {
  const store = createMemoryStore();
  const version = await store.schemas.writeSchema(TENANT, [{ name: 'schema', definition: schema }]);
  const write = (ts: readonly string[], as: readonly string[] = []): Promise<string> =>
    store.writer.write(TENANT, [{ writeTuples: ts.map(parseTuple), writeAttributes: as.map(parseAttribute) }]);
  const token = await write(tuples, attributes);
  const engine = createEngine({ reader: store.reader, schemas: store.schemas, checkCacheSize: 0, ...options });
  const check = async (
    entity: string,
    permission: string,
    subject: string,
    opts: CallOptions = {},
  ): Promise<CheckResult> => {
    const r = await engine.check({
      tenantId: TENANT,
      metadata: { depth: opts.depth ?? 20, snapToken: opts.snapToken ?? '' },
      entity: parseEntity(entity),
      permission,
      subject: parseSubject(subject),
      context: ctx(opts.context),
      arguments: opts.arguments,
    });
    return r.can;
  };
  return {
    store,
    engine,
    version,
    token,
    write,
    remove: (ts) => store.writer.write(TENANT, [{ deleteTuples: ts.map(parseTuple) }]),
    check,
    async outcome(entity, permission, subject, opts) {
      try {
        return await check(entity, permission, subject, opts);
      } catch (e) {
        if (isPermifyError(e)) return e.code;
        throw e;
      }
    },
    async lookupEntity(type, permission, subject, opts = {}) {
      const ids: string[] = [];
      let token = '';
      for (let i = 0; i < 1000; i++) {
        const r = await engine.lookupEntity({
          tenantId: TENANT,
          metadata: { depth: opts.depth ?? 20 },
          entityType: type,
          permission,
          subject: parseSubject(subject),
          context: ctx(opts.context),
          continuousToken: token,
        });
        ids.push(...r.entityIds);
        token = r.continuousToken;
        if (token === '') return ids;
      }
      throw new Error('lookupEntity did not terminate');
    },
    async lookupSubject(entity, permission, reference, opts = {}) {
      const [type, relation] = reference.split('#');
      const r = await engine.lookupSubject({
        tenantId: TENANT,
        metadata: { depth: opts.depth ?? 20 },
        entity: parseEntity(entity),
        permission,
        subjectReference: { type: type as string, relation: relation ?? '' },
        context: ctx(opts.context),
      });
      return [...r.subjectIds];
    },
  };
}
