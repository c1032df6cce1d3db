/**
 * Server-side TLS on the gRPC listener: the official client connects with the server's self-signed
 * certificate as root; a plaintext client is refused. The certificate is made in the test with openssl.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as permify from '@permify/permify-node';
import { describe, expect, it } from 'vitest';
import { createGrpcServer, createHealthReporter } from '../../src/api/grpc/index.js';
import { createHandlers } from '../../src/api/handlers/index.js';
import { createEngine } from '../../src/engine/index.js';
import { createMemoryStore } from '../../src/storage/memory/index.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function selfSigned(): { cert: Buffer; key: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'permify-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'pipe' },
    );
    return { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('gRPC over TLS', () => {
  it('serves the official client over TLS and refuses plaintext', async () => {
    const tls = selfSigned();
    const store = createMemoryStore();
    const engine = createEngine({ reader: store.reader, schemas: store.schemas });
    const server = createGrpcServer({
      handlers: createHandlers({ engine, store, limits: { maxDataPerWrite: 100 } }),
      health: createHealthReporter(),
      logger: silent,
      tls,
    });
    const port = await server.listen('127.0.0.1', 0);
    try {
      const secure = permify.grpc.newClient({
        endpoint: `localhost:${port}`,
        cert: tls.cert,
        pk: null,
        certChain: null,
        insecure: false,
      });
      const res = await secure.tenancy.list({ pageSize: 10 });
      expect(res.tenants.map((t) => t.id)).toEqual(['t1']);
      const plain = permify.grpc.newClient({
        endpoint: `127.0.0.1:${port}`,
        cert: null,
        pk: null,
        certChain: null,
        insecure: true,
      });
      let code: number | undefined;
      try {
        await plain.tenancy.list({ pageSize: 10 });
      } catch (e) {
        code = (e as { code: number }).code;
      }
      expect(code).toBe(14); // UNAVAILABLE
    } finally {
      await server.close(1000);
      await store.close();
    }
  });
});
