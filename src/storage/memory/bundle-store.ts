/** Bundles of the memory store: upserted by (tenant, name), stored as frozen copies. */
import { PermifyError, throwIfAborted } from '../../errors.js';
import type { BundleStore, DataBundle } from '../contract.js';
import { type MemoryState, tenantData } from './tables.js';

function strings(v: unknown): v is readonly string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

function copyBundle(b: DataBundle): DataBundle {
  if (typeof b !== 'object' || b === null || typeof b.name !== 'string' || b.name === '' || !strings(b.arguments)) {
    throw new PermifyError(
      'ERROR_CODE_INVALID_ARGUMENT',
      'invalid bundle: a name and a list of arguments are required',
    );
  }
  if (!Array.isArray(b.operations)) throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', 'invalid bundle operations');
  return Object.freeze({
    name: b.name,
    arguments: Object.freeze([...b.arguments]),
    operations: Object.freeze(
      b.operations.map((op) => {
        const lists = [op?.relationshipsWrite, op?.relationshipsDelete, op?.attributesWrite, op?.attributesDelete];
        if (!lists.every((l) => l === undefined || strings(l))) {
          throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', 'invalid bundle operation');
        }
        return Object.freeze({
          relationshipsWrite: Object.freeze([...(op.relationshipsWrite ?? [])]),
          relationshipsDelete: Object.freeze([...(op.relationshipsDelete ?? [])]),
          attributesWrite: Object.freeze([...(op.attributesWrite ?? [])]),
          attributesDelete: Object.freeze([...(op.attributesDelete ?? [])]),
        });
      }),
    ),
  });
}

function notFound(name: string): never {
  throw new PermifyError('ERROR_CODE_BUNDLE_NOT_FOUND', `bundle ${JSON.stringify(name)} not found`);
}

export function createMemoryBundleStore(state: MemoryState): BundleStore {
  return {
    async writeBundles(tenantId, bundles, signal) {
      throwIfAborted(signal);
      if (!Array.isArray(bundles)) throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', 'invalid bundles');
      const copies = bundles.map(copyBundle); // validate all before storing any
      const data = tenantData(state, tenantId);
      for (const b of copies) data.bundles.set(b.name, b);
      return copies.map((b) => b.name);
    },

    async readBundle(tenantId, name, signal) {
      throwIfAborted(signal);
      return state.tenantData.get(tenantId)?.bundles.get(name) ?? notFound(name);
    },

    async deleteBundle(tenantId, name, signal) {
      throwIfAborted(signal);
      const bundles = state.tenantData.get(tenantId)?.bundles;
      if (bundles === undefined || !bundles.delete(name)) notFound(name);
    },
  };
}
