/**
 * The plain-HTTP side listeners of the process (the `/metrics` scrape port, the profiler), apart from the API
 * ports: bind, report the port, and stop. Their requests are short and nothing they answer can be half-done,
 * so closing does not drain: open connections are dropped at once.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SideListener {
  /** The bound port (meaningful when port 0 was asked for). */
  readonly port: number;
  close(): Promise<void>;
}

/** Binds `server` to `host:port` (an empty host: every interface); `onClose` runs as it stops. */
export async function listenSide(server: http.Server, host: string, port: number, onClose?: () => void): Promise<SideListener> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host === '' ? undefined : host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        onClose?.();
      }),
  };
}
