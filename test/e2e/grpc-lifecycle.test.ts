/**
 * gRPC end to end, second part: schema partial writes and versions, rule definitions decoded by the client,
 * deadlines, limits, health watch, and graceful shutdown (in-flight calls finish, streams end with OK).
 */
import * as grpc from '@grpc/grpc-js';
import * as permify from '@permify/permify-node';
import { describe, expect, it } from 'vitest';
import { create as make, fromBinary, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import * as r from '../../src/api/gen/grpc/reflection/v1/reflection_pb.js';
import { PermifyError } from '../../src/errors.js';
import { startTestServer } from '../api/support/grpc-harness.js';

const CheckResult = permify.grpc.base.CheckResult;
const md = { schemaVersion: '', snapToken: '', depth: 20 };
const user = (id: string) => ({ type: 'user', id, relation: '' });

async function statusOf(p: Promise<unknown>): Promise<{ code: number; details: string } | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e as { code: number; details: string };
  }
}

const schema = `
entity user {}
entity account {
    relation owner @user
    attribute balance integer
    permission withdraw = owner and check_balance(balance)
}
rule check_balance(balance integer) {
    balance >= context.data.amount && balance > 10
}
`;

describe('schema versions and partial writes', () => {
  it('partial write creates a new head; the old version stays usable', async () => {
    const s = await startTestServer();
    try {
      const c = s.client;
      const v1 = (await c.schema.write({ tenantId: 't1', schema })).schemaVersion;
      const v2 = (
        await c.schema.partialWrite({
          tenantId: 't1',
          metadata: { schemaVersion: '' },
          partials: { account: { write: ['relation viewer @user'], update: [], delete: [] } },
        })
      ).schemaVersion;
      expect(v2 > v1).toBe(true);
      const list = await c.schema.list({ tenantId: 't1', pageSize: 10 });
      expect(list.head).toBe(v2);
      expect(list.schemas.map((x) => x.version)).toEqual([v2, v1]);
      const head = await c.schema.read({ tenantId: 't1', metadata: {} });
      expect(Object.keys(head.schema?.entityDefinitions['account']?.relations ?? {}).sort()).toEqual([
        'owner',
        'viewer',
      ]);
      const old = await c.schema.read({ tenantId: 't1', metadata: { schemaVersion: v1 } });
      expect(Object.keys(old.schema?.entityDefinitions['account']?.relations ?? {})).toEqual(['owner']);

      // Writing a viewer tuple against v1 fails; against head it succeeds.
      const tuple = { entity: { type: 'account', id: '1' }, relation: 'viewer', subject: user('u') };
      const e = await statusOf(c.data.write({ tenantId: 't1', metadata: { schemaVersion: v1 }, tuples: [tuple] }));
      expect(e?.code).toBe(5);
      expect(e?.details).toBe('ERROR_CODE_RELATION_DEFINITION_NOT_FOUND');
      await c.data.write({ tenantId: 't1', metadata: { schemaVersion: '' }, tuples: [tuple] });

      // Errors: unknown entity, existing name, missing name.
      const unknown = await statusOf(
        c.schema.partialWrite({
          tenantId: 't1',
          metadata: {},
          partials: { nope: { write: ['relation a @user'], update: [], delete: [] } },
        }),
      );
      expect(unknown?.code).toBe(5);
      expect(unknown?.details).toBe('ERROR_CODE_ENTITY_STATEMENT_NOT_FOUND');
      const exists = await statusOf(
        c.schema.partialWrite({
          tenantId: 't1',
          metadata: {},
          partials: { account: { write: ['relation owner @user'], update: [], delete: [] } },
        }),
      );
      expect(exists?.code).toBe(3);
      expect(exists?.details).toBe('ERROR_CODE_ALREADY_EXIST');
      const missing = await statusOf(
        c.schema.partialWrite({
          tenantId: 't1',
          metadata: {},
          partials: { account: { write: [], update: [], delete: ['ghost'] } },
        }),
      );
      expect(missing?.code).toBe(5);
      expect(missing?.details).toBe('ERROR_CODE_REFERENCE_NOT_FOUND');
      // Deleting a relation still used by a permission fails compilation: INVALID_ARGUMENT (deliberate fix).
      const broken = await statusOf(
        c.schema.partialWrite({
          tenantId: 't1',
          metadata: {},
          partials: { account: { write: [], update: [], delete: ['owner'] } },
        }),
      );
      expect(broken?.code).toBe(3);
    } finally {
      await s.close();
    }
  });

  it('returns rule definitions with a CheckedExpr the client decodes', async () => {
    const s = await startTestServer();
    try {
      await s.client.schema.write({ tenantId: 't1', schema });
      const res = await s.client.schema.read({ tenantId: 't1', metadata: {} });
      const rule = res.schema?.ruleDefinitions['check_balance'];
      expect(rule?.arguments).toEqual({ balance: permify.grpc.base.AttributeType.ATTRIBUTE_TYPE_INTEGER });
      const root = rule?.expression?.expr;
      expect(root?.exprKind?.$case).toBe('callExpr');
      if (root?.exprKind?.$case === 'callExpr') {
        expect(root.exprKind.callExpr.function).toBe('_&&_');
        expect(root.exprKind.callExpr.args).toHaveLength(2);
      }
      expect(res.schema?.references).toEqual({
        user: permify.grpc.base.SchemaDefinition_Reference.REFERENCE_ENTITY,
        account: permify.grpc.base.SchemaDefinition_Reference.REFERENCE_ENTITY,
        check_balance: permify.grpc.base.SchemaDefinition_Reference.REFERENCE_RULE,
      });

      // The rule evaluates with context data sent as a Struct.
      await s.client.data.write({
        tenantId: 't1',
        metadata: {},
        tuples: [{ entity: { type: 'account', id: '1' }, relation: 'owner', subject: user('ann') }],
        attributes: [
          {
            entity: { type: 'account', id: '1' },
            attribute: 'balance',
            value: {
              typeUrl: 'type.googleapis.com/base.v1.IntegerValue',
              value: Buffer.from(permify.grpc.base.IntegerValue.encode({ data: 100 }).finish()),
            },
          },
        ],
      });
      const check = (amount: number) =>
        s.client.permission.check({
          tenantId: 't1',
          metadata: md,
          entity: { type: 'account', id: '1' },
          permission: 'withdraw',
          subject: user('ann'),
          context: { tuples: [], attributes: [], data: { amount } },
        });
      expect((await check(50)).can).toBe(CheckResult.CHECK_RESULT_ALLOWED);
      expect((await check(500)).can).toBe(CheckResult.CHECK_RESULT_DENIED);
    } finally {
      await s.close();
    }
  });
});

describe('limits', () => {
  it('enforces max_data_per_write after de-duplication', async () => {
    const s = await startTestServer({ limits: { maxDataPerWrite: 2 } });
    try {
      await s.client.schema.write({ tenantId: 't1', schema });
      const t = (id: string) => ({ entity: { type: 'account', id }, relation: 'owner', subject: user('u') });
      await s.client.data.write({ tenantId: 't1', metadata: {}, tuples: [t('1'), t('1'), t('2')] });
      const e = await statusOf(s.client.data.write({ tenantId: 't1', metadata: {}, tuples: [t('1'), t('2'), t('3')] }));
      expect(e?.code).toBe(3);
      expect(e?.details).toBe('ERROR_CODE_MAX_DATA_PER_WRITE_EXCEEDED');
    } finally {
      await s.close();
    }
  });

  it('a configured bulk limit below 100 tightens the item cap', async () => {
    const s = await startTestServer({ limits: { bulkCheckMaxItems: 2 } });
    try {
      await s.client.schema.write({ tenantId: 't1', schema });
      const item = { entity: { type: 'account', id: '1' }, permission: 'owner', subject: user('u') };
      const e = await statusOf(
        s.client.permission.bulkCheck({ tenantId: 't1', metadata: md, items: [item, item, item] }),
      );
      expect(e?.code).toBe(3);
      expect(e?.details).toBe('invalid PermissionBulkCheckRequest.Items: value must contain no more than 2 item(s)');
    } finally {
      await s.close();
    }
  });
});

describe('deadlines, cancellation and shutdown', () => {
  it('a deadline aborts a slow call with DEADLINE_EXCEEDED', async () => {
    let release: (() => void) | undefined;
    const s = await startTestServer({
      beforeCall: async (call) => {
        if (call.method === 'List') await new Promise<void>((r) => (release = r));
      },
    });
    try {
      const ch = new grpc.Client(`127.0.0.1:${s.port}`, grpc.credentials.createInsecure());
      const e = await new Promise<grpc.ServiceError | null>((resolve) => {
        ch.makeUnaryRequest(
          '/base.v1.Tenancy/List',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from([0x08, 0x01]),
          { deadline: Date.now() + 150 },
          (err) => resolve(err),
        );
      });
      ch.close();
      expect(e?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    } finally {
      release?.();
      await s.close();
    }
  });

  it('close() lets in-flight unary calls finish and ends open Watch streams with OK', async () => {
    let release: (() => void) | undefined;
    let entered: (() => void) | undefined;
    const inside = new Promise<void>((r) => (entered = r));
    const s = await startTestServer({
      beforeCall: async (call) => {
        if (call.method === 'List') {
          entered?.();
          await new Promise<void>((r) => (release = r));
        }
      },
    });
    const watch = (async () => {
      const got: unknown[] = [];
      for await (const m of s.client.watch.watch({ tenantId: 't1', snapToken: '' })) got.push(m);
      return got;
    })();
    const inflight = s.client.tenancy.list({ pageSize: 10 });
    await inside;
    await new Promise((r) => setTimeout(r, 50));
    const closing = s.close();
    setTimeout(() => release?.(), 100);
    const listed = await inflight;
    expect(listed.tenants.map((t) => t.id)).toContain('t1');
    await expect(watch).resolves.toEqual([]);
    await closing;
  });

  it('health Watch streams the status and its changes', async () => {
    const s = await startTestServer();
    const ch = new grpc.Client(`127.0.0.1:${s.port}`, grpc.credentials.createInsecure());
    try {
      const call = ch.makeServerStreamRequest(
        '/grpc.health.v1.Health/Watch',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(0),
      );
      call.on('error', () => {});
      const statuses: number[] = [];
      const done = new Promise<void>((resolve) => {
        call.on('data', (b: Buffer) => {
          statuses.push(b.length === 0 ? 0 : (b[1] as number));
          if (statuses.length === 1) s.health.set('NOT_SERVING');
          if (statuses.length === 2) resolve();
        });
      });
      await done;
      call.cancel();
      expect(statuses).toEqual([1, 2]);
    } finally {
      ch.close();
      await s.close();
    }
  });

  it('beforeCall errors that are not PermifyErrors answer INTERNAL without details leaking', async () => {
    const s = await startTestServer({
      beforeCall: () => {
        throw new Error('secret /etc/passwd');
      },
    });
    try {
      const e = await statusOf(s.client.tenancy.list({ pageSize: 1 }));
      expect(e?.code).toBe(13);
      expect(e?.details).toBe('ERROR_CODE_INTERNAL');
      expect(new PermifyError('ERROR_CODE_INTERNAL').grpcStatus).toBe(13);
    } finally {
      await s.close();
    }
  });
});

describe('server reflection', () => {
  it('lists services and returns file descriptors with their dependencies (v1 and v1alpha)', async () => {
    const s = await startTestServer();
    const ch = new grpc.Client(`127.0.0.1:${s.port}`, grpc.credentials.createInsecure());
    try {
      for (const pkg of ['grpc.reflection.v1', 'grpc.reflection.v1alpha']) {
        const call = ch.makeBidiStreamRequest(
          `/${pkg}.ServerReflection/ServerReflectionInfo`,
          (b: Buffer) => b,
          (b: Buffer) => b,
        );
        const responses: r.ServerReflectionResponse[] = [];
        const done = new Promise<void>((resolve, reject) => {
          call.on('data', (b: Buffer) => responses.push(fromBinary(r.ServerReflectionResponseSchema, b)));
          call.on('end', () => resolve());
          call.on('error', reject);
        });
        const send = (messageRequest: r.ServerReflectionRequest['messageRequest']) =>
          call.write(
            Buffer.from(
              toBinary(r.ServerReflectionRequestSchema, make(r.ServerReflectionRequestSchema, { messageRequest })),
            ),
          );
        send({ case: 'listServices', value: '' });
        send({ case: 'fileContainingSymbol', value: 'base.v1.Permission.Check' });
        send({ case: 'fileByFilename', value: 'nope.proto' });
        call.end();
        await done;
        const [list, file, missing] = responses;
        expect(list?.messageResponse.case).toBe('listServicesResponse');
        if (list?.messageResponse.case === 'listServicesResponse') {
          expect(list.messageResponse.value.service.map((x) => x.name)).toEqual(
            expect.arrayContaining(['base.v1.Permission', 'base.v1.Watch', 'grpc.health.v1.Health']),
          );
        }
        expect(file?.messageResponse.case).toBe('fileDescriptorResponse');
        if (file?.messageResponse.case === 'fileDescriptorResponse') {
          const names = file.messageResponse.value.fileDescriptorProto.map(
            (b) => fromBinary(FileDescriptorProtoSchema, b).name,
          );
          expect(names[0]).toBe('base/v1/service.proto');
          expect(names).toEqual(
            expect.arrayContaining(['base/v1/base.proto', 'google/api/expr/v1alpha1/checked.proto']),
          );
        }
        expect(missing?.messageResponse.case).toBe('errorResponse');
      }
    } finally {
      ch.close();
      await s.close();
    }
  });
});
