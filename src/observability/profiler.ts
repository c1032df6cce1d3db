/**
 * The profiler listener (`profiler.enabled`, `profiler.port`): CPU and heap profiles on demand in pprof
 * format (gzipped protobuf, what `go tool pprof` and Pyroscope/Parca read), on its own port, never on the
 * API ports. The paths follow Go's net/http/pprof, so the usual commands work unchanged:
 *
 * - `GET /debug/pprof/profile?seconds=N`: a CPU (wall-time sampling) profile of the next N seconds
 *   (default 30, at most {@link MAX_CPU_SECONDS}); one at a time (409 while another runs);
 * - `GET /debug/pprof/heap`: the sampled live heap (sampling runs from start, every ~512 KiB allocated);
 * - `GET /debug/pprof/`: the list.
 *
 * No authentication: like Go's, the listener is meant for a private interface (it binds `server.host`).
 */
import * as http from 'node:http';
import * as pprof from '@datadog/pprof';
import { listenSide, type SideListener } from './side-listener.js';

/** Longest CPU profile one request may ask for. */
export const MAX_CPU_SECONDS = 300;
const HEAP_SAMPLE_BYTES = 512 * 1024;
const HEAP_STACK_DEPTH = 64;

export type ProfilerListener = SideListener;

const INDEX = `permify-ts profiler (pprof format)
/debug/pprof/profile?seconds=30  CPU profile of the next N seconds
/debug/pprof/heap                 sampled live heap
`;

export async function listenProfiler(host: string, port: number): Promise<ProfilerListener> {
  pprof.heap.start(HEAP_SAMPLE_BYTES, HEAP_STACK_DEPTH);
  let cpuBusy = false;
  const send = (res: http.ServerResponse, status: number, text: string): void => {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(text);
  };
  const sendProfile = (res: http.ServerResponse, name: string, body: Buffer): void => {
    res
      .writeHead(200, {
        'Content-Type': 'application/octet-stream',
        'Content-Disposition': `attachment; filename="${name}"`,
        'X-Content-Type-Options': 'nosniff',
      })
      .end(body);
  };
  const server = http.createServer((req, res) => {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://profiler');
    if (req.method !== 'GET') return send(res, 405, 'method not allowed\n');
    switch (url.pathname) {
      case '/debug/pprof':
      case '/debug/pprof/':
        return send(res, 200, INDEX);
      case '/debug/pprof/heap':
        pprof.encode(pprof.heap.profile()).then(
          (body) => sendProfile(res, 'heap.pb.gz', body),
          (e: unknown) => send(res, 500, `heap profile failed: ${(e as Error).message}\n`),
        );
        return;
      case '/debug/pprof/profile': {
        const raw = url.searchParams.get('seconds') ?? '30';
        const seconds = Number(raw);
        if (!/^\d+$/.test(raw) || seconds < 1 || seconds > MAX_CPU_SECONDS) {
          return send(res, 400, `seconds must be an integer from 1 to ${MAX_CPU_SECONDS}\n`);
        }
        if (cpuBusy) return send(res, 409, 'a CPU profile is already being taken\n');
        cpuBusy = true;
        pprof.time
          .profile({ durationMillis: seconds * 1000 })
          .then((p) => pprof.encode(p))
          .then(
            (body) => sendProfile(res, 'profile.pb.gz', body),
            (e: unknown) => send(res, 500, `CPU profile failed: ${(e as Error).message}\n`),
          )
          .finally(() => {
            cpuBusy = false;
          });
        return;
      }
      default:
        return send(res, 404, 'not found\n');
    }
  });
  return listenSide(server, host, port, () => pprof.heap.stop());
}
