/**
 * The permission engine: `createEngine(options)` implements {@link PermissionEngine} over the storage
 * contract (a DataReader and a SchemaStore), independent of any transport or backend.
 *
 * The factory only wires: the state every operation shares (options, caches, purge log, request
 * preparation) lives in engine-state.ts, and each operation is a module of its own under operations/
 * (check, bulk-check, expand, lookup-entity, lookup-subject, subject-permission, explain). Everything thrown
 * is a PermifyError. The caches (compiled schemas, check results, lookup candidate sets) are bounded by
 * entries and estimated bytes, and {@link PermissionEngine.purgeTenant} empties a deleted tenant's entries.
 */
import { createEngineState, type EngineOptions, purgeAll, purgeTenant } from './engine-state.js';
import { bulkCheck } from './operations/bulk-check.js';
import { check } from './operations/check.js';
import { expand } from './operations/expand.js';
import { explain } from './operations/explain.js';
import { lookupEntity, lookupEntityStream } from './operations/lookup-entity.js';
import { lookupSubject } from './operations/lookup-subject.js';
import { subjectPermission } from './operations/subject-permission.js';
import type { PermissionEngine } from './types.js';

export type * from './types.js';
export { engineDefaults, type EngineOptions } from './engine-state.js';

/** Creates the engine. Options are validated eagerly (ERROR_CODE_VALIDATION naming the option). */
export function createEngine(options: EngineOptions): PermissionEngine {
  const es = createEngineState(options);
  return {
    check: (req, signal) => check(es, req, signal),
    explain: (req, signal) => explain(es, req, signal),
    bulkCheck: (req, signal) => bulkCheck(es, req, signal),
    expand: (req, signal) => expand(es, req, signal),
    lookupEntity: (req, signal) => lookupEntity(es, req, signal),
    lookupEntityStream: (req, signal) => lookupEntityStream(es, req, signal),
    lookupSubject: (req, signal) => lookupSubject(es, req, signal),
    subjectPermission: (req, signal) => subjectPermission(es, req, signal),
    purgeTenant: (tenantId) => purgeTenant(es, tenantId),
    purgeAll: () => purgeAll(es),
  };
}
