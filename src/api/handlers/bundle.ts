/** base.v1.Bundle: Write (upsert), Read, Delete (api-and-operations §3.4). */
import { create } from '@bufbuild/protobuf';
import { PermifyError } from '../../errors.js';
import * as s from '../gen/base/v1/service_pb.js';
import { bundleFromProto, bundleToProto } from '../convert/data.js';
import { unary, type HandlerEnv } from './deps.js';
import type { ServiceHandlers } from './types.js';

function hasDuplicate(values: readonly string[]): boolean {
  return new Set(values).size !== values.length;
}

export function createBundleHandlers(env: HandlerEnv): ServiceHandlers<typeof s.Bundle> {
  return {
    Write: unary(async (r, ctx) => {
      const bundles = r.bundles.map(bundleFromProto);
      for (const b of bundles) {
        for (const op of b.operations) {
          if (
            hasDuplicate(op.relationshipsWrite) ||
            hasDuplicate(op.relationshipsDelete) ||
            hasDuplicate(op.attributesWrite) ||
            hasDuplicate(op.attributesDelete)
          ) {
            throw new PermifyError('ERROR_CODE_ALREADY_EXIST');
          }
        }
      }
      const names = await env.store.bundles.writeBundles(r.tenantId, bundles, ctx.signal);
      return create(s.BundleWriteResponseSchema, { names: [...names] });
    }),

    Read: unary(async (r, ctx) => {
      const bundle = await env.store.bundles.readBundle(r.tenantId, r.name, ctx.signal);
      return create(s.BundleReadResponseSchema, { bundle: bundleToProto(bundle) });
    }),

    Delete: unary(async (r, ctx) => {
      await env.store.bundles.deleteBundle(r.tenantId, r.name, ctx.signal);
      return create(s.BundleDeleteResponseSchema, { name: r.name });
    }),
  };
}
