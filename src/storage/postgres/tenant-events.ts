/**
 * Tenant deletions across processes: `deleteTenant` sends `NOTIFY permify_tenant_deleted, '<id>'` inside its
 * transaction (PostgreSQL delivers it at commit, never on rollback), and every store that has subscribers holds
 * one dedicated connection that LISTENs on the channel and re-emits each notification.
 *
 * The connection is opened with the first subscriber and closed with the last. When it fails (or cannot be
 * opened) it is reopened with a doubling delay (1 s to 30 s); every time LISTEN is (re)established the
 * subscribers get `missed`, because deletions committed while nobody listened were not delivered.
 *
 * Every subscriber gets one `missed` when LISTEN is established for it: when the connection comes up, or at once
 * (in a microtask) if it already listens when the subscriber joins. So a subscriber always learns the point
 * from which deletions are delivered, whether or not another subscriber (the store's own reader cache, for
 * one) opened the connection first.
 */
import pg from 'pg';
import type { TenantEvent } from '../contract.js';
import type { StoreLogger } from './database.js';

/** The NOTIFY channel of tenant deletions (payload: the tenant id). */
export const tenantDeletedChannel = 'permify_tenant_deleted';

export interface TenantEventChannel {
  subscribe(listener: (event: TenantEvent) => void): () => void;
}

export interface TenantEventChannelOptions {
  readonly uri: string;
  readonly logger: StoreLogger;
  readonly connectionTimeoutMs: number;
  /** First reconnect delay (default 1 000 ms); doubles up to 30 s. */
  readonly reconnectMs?: number;
}

export function createTenantEventChannel(options: TenantEventChannelOptions): TenantEventChannel {
  const listeners = new Set<(event: TenantEvent) => void>();
  const firstDelayMs = options.reconnectMs ?? 1_000;
  let client: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  let delayMs = firstDelayMs;
  // Bumped by every stop and every lost connection: callbacks of an older connection do nothing.
  let epoch = 0;

  const emit = (event: TenantEvent): void => {
    for (const listener of [...listeners]) {
      try {
        listener(event);
      } catch (e) {
        options.logger.error({ err: (e as Error).message }, 'tenant event listener failed');
      }
    }
  };

  const scheduleReconnect = (): void => {
    if (listeners.size === 0 || timer !== undefined) return;
    const wait = delayMs;
    delayMs = Math.min(30_000, delayMs * 2);
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, wait);
  };

  const lost = (mine: number, c: pg.Client, reason: string): void => {
    if (mine !== epoch) return;
    epoch++;
    client = undefined;
    c.removeAllListeners('notification');
    void c.end().catch(() => undefined);
    options.logger.warn({ reason }, 'tenant event connection lost; caches are purged and it reconnects');
    emit({ kind: 'missed' });
    scheduleReconnect();
  };

  async function connect(): Promise<void> {
    const mine = ++epoch;
    const c = new pg.Client({
      connectionString: options.uri,
      application_name: 'permify-ts-tenant-events',
      connectionTimeoutMillis: options.connectionTimeoutMs,
      keepAlive: true,
    });
    // Errors of a connection we gave up on must not crash the process.
    c.on('error', (err) => lost(mine, c, err.message));
    c.on('end', () => lost(mine, c, 'connection ended'));
    c.on('notification', (n) => {
      if (mine === epoch && n.channel === tenantDeletedChannel && n.payload !== undefined) {
        emit({ kind: 'deleted', tenantId: n.payload });
      }
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${tenantDeletedChannel}`);
    } catch (e) {
      if (mine === epoch) {
        epoch++;
        options.logger.warn({ err: (e as Error).message }, 'tenant event connection failed; retrying');
        scheduleReconnect();
      }
      void c.end().catch(() => undefined);
      return;
    }
    if (mine !== epoch) {
      // Stopped (or superseded) while connecting.
      void c.end().catch(() => undefined);
      return;
    }
    client = c;
    delayMs = firstDelayMs;
    emit({ kind: 'missed' });
  }

  const stop = (): void => {
    epoch++;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const c = client;
    client = undefined;
    if (c !== undefined) {
      c.removeAllListeners('notification');
      void c.end().catch(() => undefined);
    }
  };

  return {
    subscribe(listener) {
      const own = (event: TenantEvent): void => listener(event);
      listeners.add(own);
      if (listeners.size === 1) {
        delayMs = firstDelayMs;
        void connect();
      } else if (client !== undefined) {
        const joined = client;
        queueMicrotask(() => {
          // Only if it is still subscribed and the connection it joined still listens (else `lost` told it).
          if (listeners.has(own) && client === joined) own({ kind: 'missed' });
        });
      }
      return () => {
        if (listeners.delete(own) && listeners.size === 0) stop();
      };
    },
  };
}
