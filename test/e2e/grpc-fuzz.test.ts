/**
 * Robustness: random and mutated request bytes sent to every gRPC method never crash or hang the server; every
 * call ends with OK or a well-formed status whose message carries no stack trace or path.
 */
import * as grpc from '@grpc/grpc-js';
import { toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { services } from '../../src/api/handlers/index.js';
import { startTestServer, type TestServer } from '../api/support/grpc-harness.js';
import { create } from '@bufbuild/protobuf';
import { PermissionCheckRequestSchema } from '../../src/api/gen/base/v1/service_pb.js';

const identity = (b: Buffer): Buffer => b;

describe('gRPC robustness against malformed input', () => {
  let server: TestServer;
  let ch: grpc.Client;
  beforeAll(async () => {
    server = await startTestServer();
    await server.client.schema.write({
      tenantId: 't1',
      schema: 'entity user {}\nentity doc {\n relation owner @user\n}',
    });
    ch = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    ch.close();
    await server.close();
  });

  const methods = Object.values(services).flatMap((svc) =>
    svc.methods.map((m) => ({ path: `/${svc.typeName}/${m.name}`, streaming: m.methodKind === 'server_streaming' })),
  );

  function call(path: string, streaming: boolean, body: Buffer): Promise<{ code: number; details: string }> {
    return new Promise((resolve) => {
      if (!streaming) {
        ch.makeUnaryRequest(path, identity, identity, body, { deadline: Date.now() + 5000 }, (err) =>
          resolve({ code: err?.code ?? 0, details: err?.details ?? '' }),
        );
        return;
      }
      const stream = ch.makeServerStreamRequest(path, identity, identity, body, { deadline: Date.now() + 300 });
      stream.on('data', () => {});
      stream.on('error', (err: grpc.ServiceError) => resolve({ code: err.code, details: err.details }));
      stream.on('end', () => resolve({ code: 0, details: '' }));
    });
  }

  // A valid request to mutate, so that many mutants decode and reach the handlers.
  const seed = Buffer.from(
    toBinary(
      PermissionCheckRequestSchema,
      create(PermissionCheckRequestSchema, {
        tenantId: 't1',
        metadata: { depth: 10 },
        entity: { type: 'doc', id: '1' },
        permission: 'owner',
        subject: { type: 'user', id: 'u' },
      }),
    ),
  );

  it('answers every mutated or random body with a clean status and stays up', async () => {
    const bodies = fc.sample(
      fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        fc.tuple(fc.nat(seed.length - 1), fc.integer({ min: 0, max: 255 })).map(([i, v]) => {
          const b = Buffer.from(seed);
          b[i] = v;
          return new Uint8Array(b);
        }),
      ),
      { numRuns: 40, seed: 4242 },
    );
    let answered = 0;
    for (const m of methods) {
      for (const body of bodies) {
        const res = await call(m.path, m.streaming, Buffer.from(body));
        // DEADLINE_EXCEEDED is the client ending an open Watch stream.
        expect([0, 1, 3, 4, 5, 6, 9, 13, 16]).toContain(res.code);
        expect(res.details).not.toMatch(/\n\s+at |\/work\/|node_modules/);
        answered++;
      }
    }
    expect(answered).toBe(methods.length * 40);
    const health = await server.client.tenancy.list({ pageSize: 1 });
    // Mutants of the seed may delete tenant t1 (field 1 is an id everywhere); the server must still answer.
    expect(Array.isArray(health.tenants)).toBe(true);
  });
});
