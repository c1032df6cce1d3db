/** base.v1.Watch: one WatchResponse per committed write transaction of the tenant (api-and-operations §8). */
import { create } from '@bufbuild/protobuf';
import * as s from '../gen/base/v1/service_pb.js';
import { dataChangesToProto } from '../convert/data.js';
import { streaming, type HandlerEnv } from './deps.js';
import type { ServiceHandlers } from './types.js';

export function createWatchHandlers(env: HandlerEnv): ServiceHandlers<typeof s.Watch> {
  return {
    Watch: streaming(async function* (r, ctx) {
      // With watch disabled the stream completes at once with OK, as Permify does.
      if (env.watchEnabled !== true) return;
      for await (const changes of env.store.watcher.watch(r.tenantId, r.snapToken, ctx.signal)) {
        yield create(s.WatchResponseSchema, { changes: dataChangesToProto(changes) });
      }
    }),
  };
}
