/**
 * RunBundle renders arguments as values, never as notation, and validates the rendered writes against the schema
 * as Data/Write does (handler level: memory store, real engine).
 */
import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { DataBundleSchema, OperationSchema } from '../../src/api/gen/base/v1/base_pb.js';
import * as s from '../../src/api/gen/base/v1/service_pb.js';
import { createHandlers, type Handlers } from '../../src/api/handlers/index.js';
import { createEngine } from '../../src/engine/index.js';
import { PermifyError } from '../../src/errors.js';
import { createMemoryStore } from '../../src/storage/memory/index.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const ctx = () => ({ signal: new AbortController().signal, requestId: 'r1', logger: silent });

const schema = `entity user {}
entity document {
  relation owner @user
  relation viewer @user
  attribute public boolean
  attribute tags string[]
  permission edit = owner
}`;

type Op = {
  relationshipsWrite?: string[];
  relationshipsDelete?: string[];
  attributesWrite?: string[];
  attributesDelete?: string[];
};

async function setup(operations: Op[], args: string[]): Promise<Handlers> {
  const store = createMemoryStore();
  const engine = createEngine({ reader: store.reader, schemas: store.schemas });
  const h = createHandlers({ engine, store, limits: { maxDataPerWrite: 100 }, watchEnabled: false });
  await h['base.v1.Schema'].Write(create(s.SchemaWriteRequestSchema, { tenantId: 't1', schema }), ctx());
  await h['base.v1.Bundle'].Write(
    create(s.BundleWriteRequestSchema, {
      tenantId: 't1',
      bundles: [
        create(DataBundleSchema, {
          name: 'b',
          arguments: args,
          operations: operations.map((op) => create(OperationSchema, op)),
        }),
      ],
    }),
    ctx(),
  );
  return h;
}

async function run(h: Handlers, args: Record<string, string>): Promise<PermifyError | string> {
  try {
    const r = await h['base.v1.Data'].RunBundle(
      create(s.BundleRunRequestSchema, { tenantId: 't1', name: 'b', arguments: args }),
      ctx(),
    );
    return r.snapToken;
  } catch (e) {
    if (e instanceof PermifyError) return e;
    throw e;
  }
}

async function tuples(h: Handlers): Promise<string[]> {
  const r = await h['base.v1.Data'].ReadRelationships(
    create(s.RelationshipReadRequestSchema, { tenantId: 't1', metadata: {}, filter: { entity: { type: 'document' } } }),
    ctx(),
  );
  return r.tuples.map((t) => `${t.entity?.type}:${t.entity?.id}#${t.relation}@${t.subject?.type}:${t.subject?.id}`);
}

function expectInvalid(got: PermifyError | string, message: RegExp): void {
  expect(got).toBeInstanceOf(PermifyError);
  expect((got as PermifyError).grpcStatus).toBe(3); // INVALID_ARGUMENT, and the text says why
  expect((got as PermifyError).message).toMatch(message);
}

describe('RunBundle arguments are values, never notation', () => {
  it('an argument cannot change the relation of a written tuple', async () => {
    const h = await setup([{ relationshipsWrite: ['document:{{.doc}}#viewer@user:alice'] }], ['doc']);
    expectInvalid(await run(h, { doc: '1#owner' }), /Arguments\["doc"\]: "1#owner" is not a valid entity id/);
    expectInvalid(await run(h, { doc: '2#nosuchrel' }), /Arguments\["doc"\]/);
    expect(await tuples(h)).toEqual([]);
    // `@` and `:` are valid in Permify ids; substituted into the id field they stay part of the id.
    expect(typeof (await run(h, { doc: 'd-1.a+b@user:mallory' }))).toBe('string');
    expect(await tuples(h)).toEqual(['document:d-1.a+b@user:mallory#viewer@user:alice']);
  });

  it('an argument cannot widen a delete', async () => {
    const h = await setup(
      [{ relationshipsWrite: ['document:1#owner@user:alice', 'document:1#viewer@user:alice'] }],
      [],
    );
    await run(h, {});
    const del = await setup([{ relationshipsDelete: ['document:1#viewer@user:{{.u}}'] }], ['u']);
    expectInvalid(await run(del, { u: 'alice#owner' }), /Arguments\["u"\]: "alice#owner" is not a valid subject id/);
    const attr = await setup([{ attributesDelete: ['document:{{.doc}}$public|boolean:true'] }], ['doc']);
    expectInvalid(await run(attr, { doc: '1$tags|string[]:x' }), /Arguments\["doc"\]/);
    const badValue = await setup([{ attributesDelete: ['document:1$public|boolean:{{.v}}'] }], ['v']);
    expectInvalid(await run(badValue, { v: 'maybe' }), /failed to parse boolean/);
    expect(typeof (await run(badValue, { v: 'true' }))).toBe('string');
  });

  it('an argument cannot change the attribute, the entity or the value type', async () => {
    const h = await setup([{ attributesWrite: ['document:{{.doc}}$public|boolean:{{.v}}'] }], ['doc', 'v']);
    expectInvalid(await run(h, { doc: '1$tags|string[]:x', v: 'true' }), /Arguments\["doc"\]/);
    expectInvalid(await run(h, { doc: '1', v: 'maybe' }), /failed to parse boolean/);
    expect(typeof (await run(h, { doc: '1', v: 'true' }))).toBe('string');
  });

  it('rendered writes are validated against the schema like Data/Write', async () => {
    const rel = await setup([{ relationshipsWrite: ['document:{{.doc}}#{{.rel}}@user:alice'] }], ['doc', 'rel']);
    const got = await run(rel, { doc: '2', rel: 'nosuchrel' });
    expect((got as PermifyError).code).toBe('ERROR_CODE_RELATION_DEFINITION_NOT_FOUND');
    expect(await tuples(rel)).toEqual([]);
    const attr = await setup([{ attributesWrite: ['document:1$public|string:{{.v}}'] }], ['v']);
    expect(((await run(attr, { v: 'x' })) as PermifyError).code).toBe('ERROR_CODE_ATTRIBUTE_TYPE_MISMATCH');
    const type = await setup([{ relationshipsWrite: ['folder:1#viewer@user:{{.u}}'] }], ['u']);
    expect(((await run(type, { u: 'a' })) as PermifyError).code).toBe('ERROR_CODE_SCHEMA_NOT_FOUND');
  });

  it('a template that does not render to a tuple is INVALID_ARGUMENT, not INTERNAL', async () => {
    const h = await setup([{ relationshipsWrite: ['{{.x}}'] }], ['x']);
    expectInvalid(await run(h, { x: 'document:1#owner@user:alice' }), /bundle template/);
    const empty = await setup([{ relationshipsWrite: ['document:{{.doc}}#owner@user:alice'] }], ['doc']);
    expectInvalid(await run(empty, { doc: '' }), /entity id "" is not valid/);
  });

  it('an array value may take a list argument, without changing its attribute', async () => {
    const h = await setup([{ attributesWrite: ['document:1$tags|string[]:{{.tags}}'] }], ['tags']);
    expect(typeof (await run(h, { tags: 'a,b|c' }))).toBe('string');
    const r = await h['base.v1.Data'].ReadAttributes(
      create(s.AttributeReadRequestSchema, { tenantId: 't1', metadata: {}, filter: { entity: { type: 'document' } } }),
      ctx(),
    );
    expect(r.attributes.map((a) => a.attribute)).toEqual(['tags']);
  });
});
