/**
 * Transport-free handler tests: the handler map called directly with a HandlerContext (memory store, real
 * engine).
 */
import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { createHandlers, type Handlers } from '../../src/api/handlers/index.js';
import * as s from '../../src/api/gen/base/v1/service_pb.js';
import { AttributeSchema, DataBundleSchema, OperationSchema } from '../../src/api/gen/base/v1/base_pb.js';
import { createEngine } from '../../src/engine/index.js';
import { PermifyError } from '../../src/errors.js';
import { createMemoryStore } from '../../src/storage/memory/index.js';
import { attributeValueToAny } from '../../src/api/convert/attribute-value.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const ctx = (signal: AbortSignal = new AbortController().signal) => ({ signal, requestId: 'r1', logger: silent });

function setup(watchEnabled = false): Handlers {
  const store = createMemoryStore();
  const engine = createEngine({ reader: store.reader, schemas: store.schemas });
  return createHandlers({ engine, store, limits: { maxDataPerWrite: 100 }, watchEnabled });
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(PermifyError);
    return (e as PermifyError).code;
  }
}

const schema = 'entity user {}\nentity doc {\n  relation owner @user\n  attribute public boolean\n}';

describe('handlers called directly', () => {
  it('Watch with watch disabled ends at once without messages', async () => {
    const h = setup(false);
    const got: unknown[] = [];
    for await (const m of h['base.v1.Watch'].Watch(create(s.WatchRequestSchema, { tenantId: 't1' }), ctx()))
      got.push(m);
    expect(got).toEqual([]);
  });

  it('an already aborted signal answers CANCELLED', async () => {
    const h = setup();
    const c = new AbortController();
    c.abort();
    expect(
      await codeOf(h['base.v1.Tenancy'].List(create(s.TenantListRequestSchema, { pageSize: 1 }), ctx(c.signal))),
    ).toBe('ERROR_CODE_CANCELLED');
  });

  it('an empty schema is rejected as INVALID_ARGUMENT', async () => {
    const h = setup();
    let err: unknown;
    try {
      await h['base.v1.Schema'].Write(create(s.SchemaWriteRequestSchema, { tenantId: 't1', schema: '' }), ctx());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PermifyError);
    expect((err as PermifyError).grpcStatus).toBe(3);
  });

  it('an undefined attribute with an unknown value type is ATTRIBUTE_DEFINITION_NOT_FOUND', async () => {
    const h = setup();
    await h['base.v1.Schema'].Write(create(s.SchemaWriteRequestSchema, { tenantId: 't1', schema }), ctx());
    const write = (attribute: string, typeUrl: string) =>
      h['base.v1.Data'].Write(
        create(s.DataWriteRequestSchema, {
          tenantId: 't1',
          metadata: {},
          attributes: [
            create(AttributeSchema, {
              entity: { type: 'doc', id: '1' },
              attribute,
              value: { typeUrl, value: new Uint8Array() },
            }),
          ],
        }),
        ctx(),
      );
    expect(await codeOf(write('nope', 'type.googleapis.com/x.Y'))).toBe('ERROR_CODE_ATTRIBUTE_DEFINITION_NOT_FOUND');
    expect(await codeOf(write('public', 'type.googleapis.com/x.Y'))).toBe('ERROR_CODE_ATTRIBUTE_TYPE_MISMATCH');
    expect(await codeOf(write('public', 'type.googleapis.com/base.v1.StringValue'))).toBe(
      'ERROR_CODE_ATTRIBUTE_TYPE_MISMATCH',
    );
  });

  it('RunBundle is one write: a tuple written and deleted in the same run ends deleted', async () => {
    const h = setup();
    await h['base.v1.Schema'].Write(create(s.SchemaWriteRequestSchema, { tenantId: 't1', schema }), ctx());
    await h['base.v1.Bundle'].Write(
      create(s.BundleWriteRequestSchema, {
        tenantId: 't1',
        bundles: [
          create(DataBundleSchema, {
            name: 'b',
            arguments: ['id'],
            operations: [
              create(OperationSchema, { relationshipsWrite: ['doc:{{.id}}#owner@user:a', 'doc:{{.id}}#owner@user:b'] }),
              create(OperationSchema, { relationshipsDelete: ['doc:{{.id}}#owner@user:a'] }),
            ],
          }),
        ],
      }),
      ctx(),
    );
    const run = await h['base.v1.Data'].RunBundle(
      create(s.BundleRunRequestSchema, { tenantId: 't1', name: 'b', arguments: { id: '7' } }),
      ctx(),
    );
    const read = await h['base.v1.Data'].ReadRelationships(
      create(s.RelationshipReadRequestSchema, {
        tenantId: 't1',
        metadata: { snapToken: run.snapToken },
        filter: { entity: { type: 'doc', ids: ['7'] } },
      }),
      ctx(),
    );
    expect(read.tuples.map((t) => t.subject?.id)).toEqual(['b']);
  });

  it('a rendered string that is not a tuple fails the run (nothing written)', async () => {
    const h = setup();
    await h['base.v1.Bundle'].Write(
      create(s.BundleWriteRequestSchema, {
        tenantId: 't1',
        bundles: [
          create(DataBundleSchema, {
            name: 'bad',
            operations: [create(OperationSchema, { relationshipsWrite: ['{{.x}}'] })],
          }),
        ],
      }),
      ctx(),
    );
    expect(
      await codeOf(
        h['base.v1.Data'].RunBundle(create(s.BundleRunRequestSchema, { tenantId: 't1', name: 'bad' }), ctx()),
      ),
    ).toBe('ERROR_CODE_VALIDATION'); // INVALID_ARGUMENT: a bad bundle template is not a server fault
  });

  it('attributes written are read back with identical Any bytes', async () => {
    const h = setup();
    await h['base.v1.Schema'].Write(create(s.SchemaWriteRequestSchema, { tenantId: 't1', schema }), ctx());
    const value = attributeValueToAny({ type: 'boolean', value: true });
    await h['base.v1.Data'].Write(
      create(s.DataWriteRequestSchema, {
        tenantId: 't1',
        metadata: {},
        attributes: [create(AttributeSchema, { entity: { type: 'doc', id: '1' }, attribute: 'public', value })],
      }),
      ctx(),
    );
    const res = await h['base.v1.Data'].ReadAttributes(
      create(s.AttributeReadRequestSchema, { tenantId: 't1', metadata: {}, filter: {} }),
      ctx(),
    );
    expect(res.attributes[0]?.value?.typeUrl).toBe(value.typeUrl);
    expect([...(res.attributes[0]?.value?.value ?? [])]).toEqual([...value.value]);
  });
});
