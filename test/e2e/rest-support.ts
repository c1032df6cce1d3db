/**
 * Shared helpers of the REST/serve/auth/fuzz end-to-end suites: start the real server on port 0 with the
 * memory store, call REST routes over node:http, and validate bodies against Permify's OpenAPI document.
 */
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer, type RunningServer, type StartServerOptions } from '../../src/server.js';

export async function startTestServer(flags: Record<string, unknown> = {}, options: StartServerOptions = {}): Promise<RunningServer> {
  const { config } = loadConfig({
    env: {},
    cwd: '/nonexistent',
    flags: { 'server.grpc.port': 0, 'server.http.port': 0, 'server.rate_limit': 0, 'server.shutdown_timeout': '2s', ...flags },
  });
  return startServer(config, { logger: createLogger({ level: 'silent', output: 'json' }), ...options });
}

export interface HttpResult {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
  readonly json: unknown;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** One HTTP request; `body` is sent as-is when a string, JSON-encoded otherwise. */
export function request(
  port: number,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        // Explicit framing: node does not frame bodies of GET/DELETE by default.
        headers: { 'content-type': 'application/json', ...(payload !== undefined ? { 'content-length': String(Buffer.byteLength(payload)) } : {}), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text === '' ? undefined : JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

type Json = Record<string, unknown>;
const openapi = JSON.parse(readFileSync('/work/shared/spec/openapi.json', 'utf8')) as {
  paths: Record<string, Record<string, { responses: Record<string, { content?: { 'application/json'?: { schema: Json } } }> }>>;
  components: { schemas: Record<string, Json> };
};

/**
 * OpenAPI 3.0 -> JSON schema: message-typed properties become "that message or null" (the gateway emits
 * unset singular messages as null, which Permify's generated document does not declare).
 */
function convert(node: unknown, inProperties = false): unknown {
  if (Array.isArray(node)) return node.map((n) => convert(n));
  if (node === null || typeof node !== 'object') return node;
  const o = node as Json;
  const out: Json = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === 'properties' && v && typeof v === 'object') {
      const props: Json = {};
      for (const [pk, pv] of Object.entries(v as Json)) props[pk] = convert(pv, true);
      out[k] = props;
    } else out[k] = convert(v);
  }
  if (typeof out.$ref === 'string') out.$ref = `openapi${out.$ref}`;
  if (inProperties && typeof out.$ref === 'string') return { anyOf: [{ $ref: out.$ref }, { type: 'null' }] };
  return out;
}

const ajv = new Ajv({ strict: false, allErrors: true, logger: false });
(addFormatsModule as unknown as (a: Ajv) => void)(ajv);
ajv.addSchema({ $id: 'openapi', components: { schemas: convert(openapi.components.schemas) } });
const cache = new Map<string, ValidateFunction>();

/** Validator of the 200 (or `default`) response of `method path` (OpenAPI path template). */
export function responseValidator(template: string, method: string, status: '200' | 'default'): ValidateFunction {
  const key = `${method} ${template} ${status}`;
  let v = cache.get(key);
  if (!v) {
    const schema = openapi.paths[template]?.[method.toLowerCase()]?.responses[status]?.content?.['application/json']?.schema;
    if (!schema) throw new Error(`no OpenAPI schema for ${key}`);
    v = ajv.compile(convert(schema) as Json);
    cache.set(key, v);
  }
  return v;
}

/** Throws with ajv's errors when `body` does not match the OpenAPI schema. */
export function assertMatchesOpenApi(template: string, method: string, status: number, body: unknown): void {
  const v = responseValidator(template, method, status === 200 ? '200' : 'default');
  if (!v(body)) throw new Error(`${method} ${template} (${status}) body does not match OpenAPI: ${ajv.errorsText(v.errors)}\n${JSON.stringify(body)}`);
}
