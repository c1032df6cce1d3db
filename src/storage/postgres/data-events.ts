/**
 * Data-change events across processes: after a data or schema write commits, its process sends
 * `NOTIFY permify_data_changed, '<tenant>'`; listeners use one dedicated connection. The read model runs a
 * tailing cycle soon (its polling is the safety net, so a lost connection costs latency, never
 * correctness); the head cache (head-cache.ts) forgets the tenant's head token and schema head, and caches
 * nothing while the connection is down. The connection is reopened with a doubling delay (1 s to 30 s).
 */
import pg from 'pg';
import { query, type Database, type StoreLogger } from './database.js';

export const dataChangedChannel = 'permify_data_changed';

/** Tells other processes that these tenants changed, in one statement (best effort: they poll anyway). */
export async function notifyDataChanged(db: Database, tenantIds: readonly string[]): Promise<void> {
  if (tenantIds.length === 0) return;
  await query(db.writer, 'SELECT pg_notify($1, t) FROM unnest($2::text[]) AS t', [dataChangedChannel, tenantIds]);
}

export interface DataEventListener {
  /** True while LISTEN is established (notifications are being received). */
  readonly connected: boolean;
  close(): void;
}

export function listenDataChanged(
  uri: string,
  logger: StoreLogger,
  onChange: (tenantId: string) => void,
  /** Called whenever LISTEN is (re)established: events sent while it was down were missed. */
  onConnected?: () => void,
): DataEventListener {
  let client: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  let delayMs = 1_000;
  let epoch = 0;
  let closed = false;

  const retry = (): void => {
    if (closed || timer !== undefined) return;
    const wait = delayMs;
    delayMs = Math.min(30_000, delayMs * 2);
    timer = setTimeout(() => {
      timer = undefined;
      void open();
    }, wait);
    timer.unref();
  };

  const lost = (mine: number, c: pg.Client, reason: string): void => {
    if (mine !== epoch) return;
    epoch += 1;
    client = undefined;
    c.removeAllListeners('notification');
    void c.end().catch(() => undefined);
    logger.warn({ reason }, 'data event connection lost; reconnecting (read model polls, head cache off meanwhile)');
    retry();
  };

  async function open(): Promise<void> {
    const mine = ++epoch;
    const c = new pg.Client({ connectionString: uri, application_name: 'permify-ts-events', keepAlive: true });
    c.on('error', (err) => lost(mine, c, err.message));
    c.on('end', () => lost(mine, c, 'connection ended'));
    c.on('notification', (n) => {
      if (mine === epoch && n.channel === dataChangedChannel && n.payload !== undefined) onChange(n.payload);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${dataChangedChannel}`);
    } catch (e) {
      if (mine === epoch) {
        epoch += 1;
        logger.warn({ err: (e as Error).message }, 'data event connection failed; retrying');
        retry();
      }
      void c.end().catch(() => undefined);
      return;
    }
    if (mine !== epoch || closed) {
      void c.end().catch(() => undefined);
      return;
    }
    client = c;
    delayMs = 1_000;
    onConnected?.();
  }

  void open();
  return {
    get connected() {
      return client !== undefined;
    },
    close() {
      closed = true;
      epoch += 1;
      if (timer !== undefined) clearTimeout(timer);
      const c = client;
      client = undefined;
      if (c !== undefined) {
        c.removeAllListeners('notification');
        void c.end().catch(() => undefined);
      }
    },
  };
}
