/**
 * The playground's only way to the server: its public REST API on the same origin. A bearer token, when set,
 * is sent as `Authorization: Bearer <token>` on every call. Rate-limited calls (429) are retried briefly, so a
 * scenario run on a server with the default `server.rate_limit` slows down instead of failing.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    /** gRPC status code from the error body (5 = NOT_FOUND, 12 = UNIMPLEMENTED, 16 = UNAUTHENTICATED...). */
    readonly code: number,
    message: string,
    /** The token the request was sent with ('' = none). */
    readonly token = '',
  ) {
    super(message);
  }
}

export type Json = Record<string, unknown>;

export interface ApiClient {
  /** POST (or `method`) `/v1/...` with a JSON body; resolves to the JSON answer or rejects with ApiError. */
  call<T = Json>(path: string, body?: unknown, method?: string): Promise<T>;
}

const RETRIES = 8;

export function createApiClient(getToken: () => string, fetchImpl: typeof fetch = (...a) => fetch(...a)): ApiClient {
  return {
    async call<T>(path: string, body: unknown = {}, method = 'POST'): Promise<T> {
      for (let attempt = 0; ; attempt++) {
        const headers: Record<string, string> = { 'Content-Type': 'application/json' };
        const token = getToken().trim();
        if (token !== '') headers['Authorization'] = `Bearer ${token}`;
        const res = await fetchImpl(path, {
          method,
          headers,
          body: method === 'DELETE' ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        let json: unknown;
        try {
          json = text === '' ? {} : JSON.parse(text);
        } catch {
          json = undefined;
        }
        if (res.ok) return json as T;
        if (res.status === 429 && attempt < RETRIES) {
          await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
          continue;
        }
        const err = (json ?? {}) as { code?: number; message?: string };
        throw new ApiError(
          res.status,
          typeof err.code === 'number' ? err.code : 0,
          err.message ?? (text || res.statusText),
          token,
        );
      }
    },
  };
}

export const tenantPath = (tenant: string, rest: string): string => `/v1/tenants/${encodeURIComponent(tenant)}/${rest}`;

/** A schema compile error located by the server (`L:C: message`; columns are byte offset + 2, as Permify's). */
export interface SchemaDiagnostic {
  line: number;
  column: number;
  message: string;
}

export function parseSchemaError(message: string): SchemaDiagnostic | undefined {
  const m = /^(\d+):(\d+):\s*([\s\S]*)$/.exec(message);
  if (!m) return undefined;
  return { line: Number(m[1]), column: Number(m[2]), message: m[3] ?? '' };
}

/**
 * The character offset in `text` (the whole schema, `\n`-separated as the editor holds it) of a server
 * position. Columns count bytes of the line's UTF-8 from 2, so non-ASCII characters before the error are
 * converted back to characters.
 */
export function offsetOf(text: string, line: number, column: number): number {
  const lines = text.split('\n');
  const l = Math.min(Math.max(line, 1), lines.length);
  let start = 0;
  for (let i = 0; i < l - 1; i++) start += (lines[i] as string).length + 1;
  const content = lines[l - 1] ?? '';
  const bytes = Math.max(0, column - 2);
  const enc = new TextEncoder();
  let chars = 0;
  let used = 0;
  for (const ch of content) {
    if (used >= bytes) break;
    used += enc.encode(ch).length;
    chars += ch.length;
  }
  return start + chars;
}
