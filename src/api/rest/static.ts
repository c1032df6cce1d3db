/**
 * Static files of the browser playground (`server.http.playground`), served by the REST gateway under
 * `/playground/`. The files are the output of `npm run build` (Vite, `playground/` -> `dist/playground/`);
 * they hold no secret and are served without authentication or rate limiting, while every API call the page
 * makes goes through the gateway's normal admission (a bearer token when `authn.enabled`).
 *
 * Paths are resolved inside the build directory only (no `..`, no encoded separators, no dot files); a path
 * without a file extension that names no file is the single-page app's own route and gets `index.html`.
 */
import { readFile, stat } from 'node:fs/promises';
import type * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** URL prefix of the playground. */
export const PLAYGROUND_PREFIX = '/playground';

/**
 * Where `npm run build` writes the playground: `<package root>/dist/playground`. This module sits at
 * `src/api/rest/` (under tsx/vitest) or `dist/api/rest/` (built), three levels below the package root either way.
 */
export const DEFAULT_PLAYGROUND_DIR = path.join(
  fileURLToPath(new URL('../../../', import.meta.url)),
  'dist',
  'playground',
);

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.yaml': 'text/yaml; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The page only talks to this server: scripts and connections from its own origin; inline styles are
 * allowed because CodeMirror and Cytoscape set element styles at run time.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'";

export interface PlaygroundRouteOptions {
  /** Build directory (default {@link DEFAULT_PLAYGROUND_DIR}). */
  readonly dir?: string;
}

/**
 * Answers requests under `/playground` and returns true, or returns false for any other path (so the caller
 * goes on routing). GET and HEAD only; another method is 405. A missing build answers 404 saying how to
 * build it.
 */
export type PlaygroundRoute = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  pathname: string,
) => Promise<boolean>;

function plain(res: http.ServerResponse, status: number, text: string, extra: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ...extra,
  });
  res.end(text);
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

export function createPlaygroundRoute(options: PlaygroundRouteOptions = {}): PlaygroundRoute {
  const root = path.resolve(options.dir ?? DEFAULT_PLAYGROUND_DIR);
  const index = path.join(root, 'index.html');

  /** The file a request path names, `index` for app routes, or undefined when it must be refused (404). */
  async function resolve(rel: string): Promise<string | undefined> {
    if (rel === '' || rel === '/') return index;
    let decoded: string;
    try {
      decoded = decodeURIComponent(rel);
    } catch {
      return undefined;
    }
    const parts = decoded.split('/').filter((p) => p !== '');
    // Refuse anything that could step outside the build or name a hidden file; `\` and NUL never occur in
    // the build's own names.
    if (parts.some((p) => p.startsWith('.') || p.includes('\\') || p.includes('\0'))) return undefined;
    const file = path.join(root, ...parts);
    if (!file.startsWith(root + path.sep)) return undefined;
    if (await isFile(file)) return file;
    // No extension and no such file: a client-side route of the single-page app.
    return path.extname(parts[parts.length - 1] ?? '') === '' ? index : undefined;
  }

  return async (req, res, pathname) => {
    if (pathname !== PLAYGROUND_PREFIX && !pathname.startsWith(PLAYGROUND_PREFIX + '/')) return false;
    req.resume();
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      plain(res, 405, 'Method Not Allowed\n', { Allow: 'GET, HEAD' });
      return true;
    }
    // `/playground` -> `/playground/` so that the page's relative URLs resolve under the prefix.
    if (pathname === PLAYGROUND_PREFIX) {
      res.writeHead(308, { Location: PLAYGROUND_PREFIX + '/', 'Content-Length': '0' });
      res.end();
      return true;
    }
    const file = await resolve(pathname.slice(PLAYGROUND_PREFIX.length));
    if (file === undefined) {
      plain(res, 404, 'Not Found\n');
      return true;
    }
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch {
      plain(res, 404, file === index ? 'playground not built: run `npm run build`\n' : 'Not Found\n');
      return true;
    }
    const ext = path.extname(file);
    // Vite puts content-hashed names under assets/: they never change, so they may be cached for good;
    // index.html must be revalidated to pick up a new build.
    const immutable = file.startsWith(path.join(root, 'assets') + path.sep);
    res.writeHead(200, {
      'Content-Type': CONTENT_TYPES[ext] ?? 'application/octet-stream',
      'Content-Length': body.length,
      'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      ...(ext === '.html'
        ? { 'Content-Security-Policy': CONTENT_SECURITY_POLICY, 'Referrer-Policy': 'no-referrer' }
        : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
