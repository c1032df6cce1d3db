/** base.v1.Tenancy: Create, Delete, List (api-and-operations §3.5, §6). */
import { create } from '@bufbuild/protobuf';
import * as s from '../gen/base/v1/service_pb.js';
import { tenantToProto } from '../convert/data.js';
import { unary, type HandlerEnv } from './deps.js';
import type { ServiceHandlers } from './types.js';

export function createTenancyHandlers(env: HandlerEnv): ServiceHandlers<typeof s.Tenancy> {
  const listPageSize = env.limits.defaultListPageSize ?? 50;
  return {
    Create: unary(async (r, ctx) => {
      const tenant = await env.store.tenants.createTenant(r.id, r.name, ctx.signal);
      return create(s.TenantCreateResponseSchema, { tenant: tenantToProto(tenant) });
    }),

    Delete: unary(async (r, ctx) => {
      await env.store.tenants.deleteTenant(r.id, ctx.signal);
      // Other instances purge on the store's tenant-deleted event; this one must not wait for it.
      env.engine.purgeTenant(r.id);
      env.schemas.purgeTenant(r.id);
      return create(s.TenantDeleteResponseSchema, { tenantId: r.id });
    }),

    List: unary(async (r, ctx) => {
      const page = await env.store.tenants.listTenants(
        { size: r.pageSize || listPageSize, token: r.continuousToken },
        ctx.signal,
      );
      return create(s.TenantListResponseSchema, {
        tenants: page.items.map(tenantToProto),
        continuousToken: page.continuousToken,
      });
    }),
  };
}
