/**
 * Tenants of the memory store. The default tenant `t1` ("example tenant") exists from creation, like the
 * PostgreSQL migrations seed it. Deleting a tenant drops all of its data at once (tuples, attributes,
 * history, schema versions, bundles) and ends its Watch streams.
 */
import { PermifyError, throwIfAborted } from '../../errors.js';
import type { Tenant, TenantEvent, TenantStore } from '../contract.js';
import { checkPageSize, decodePageToken, encodePageToken } from '../page-token.js';
import { type MemoryState, wakeDataWaiters } from './tables.js';

export function createMemoryTenantStore(state: MemoryState): TenantStore {
  // One process holds the data, so deletions are reported locally (the PostgreSQL store uses NOTIFY).
  const listeners = new Set<(event: TenantEvent) => void>();
  /** Tenant ids in order, kept between list pages; dropped whenever a tenant is created or deleted. */
  let sortedIds: string[] | undefined;
  const ordered = (): string[] => {
    if (sortedIds === undefined || sortedIds.length !== state.tenants.size) {
      sortedIds = [...state.tenants.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    }
    return sortedIds;
  };
  return {
    async createTenant(id, name, signal) {
      throwIfAborted(signal);
      if (typeof id !== 'string' || id === '' || typeof name !== 'string') {
        throw new PermifyError('ERROR_CODE_INVALID_ARGUMENT', 'invalid tenant: id must be a non-empty string');
      }
      if (state.tenants.has(id)) {
        throw new PermifyError('ERROR_CODE_UNIQUE_CONSTRAINT', `tenant ${JSON.stringify(id)} already exists`);
      }
      const tenant: Tenant = Object.freeze({ id, name, createdAt: new Date(state.now()) });
      state.tenants.set(id, tenant);
      sortedIds = undefined;
      return tenant;
    },

    async deleteTenant(id, signal) {
      throwIfAborted(signal);
      if (!state.tenants.has(id))
        throw new PermifyError('ERROR_CODE_NOT_FOUND', `tenant ${JSON.stringify(id)} not found`);
      state.tenants.delete(id);
      sortedIds = undefined;
      wakeDataWaiters(state, id, true);
      const data = state.tenantData.get(id);
      if (data !== undefined) {
        state.tenantData.delete(id);
        data.dropped = true;
        data.wake();
      }
      const event: TenantEvent = { kind: 'deleted', tenantId: id };
      for (const listener of [...listeners]) listener(event);
    },

    subscribe(listener) {
      const own = (event: TenantEvent): void => listener(event);
      listeners.add(own);
      return () => listeners.delete(own);
    },

    async listTenants(page, signal) {
      throwIfAborted(signal);
      checkPageSize(page.size);
      const ids = ordered();
      let start = 0;
      if (page.token !== undefined && page.token !== '') {
        const from = decodePageToken(page.token, 'tenants', '');
        let hi = ids.length;
        while (start < hi) {
          const mid = (start + hi) >>> 1;
          if ((ids[mid] as string) < from) start = mid + 1;
          else hi = mid;
        }
      }
      const end = Math.min(ids.length, start + page.size);
      const items = ids.slice(start, end).map((id) => state.tenants.get(id) as Tenant);
      const continuousToken = end < ids.length ? encodePageToken('tenants', ids[end] as string, '') : '';
      return { items, continuousToken };
    },
  };
}
