/**
 * Wire compatibility with the official client (@permify/permify-node 1.7.3, ts-proto generated code).
 *
 * For every message of base.v1 a fully populated instance (every field set to a non-default value, each oneof
 * member in turn, nested messages to a bounded depth) is encoded with our generated code, decoded and re-encoded
 * by the client's code, and decoded again by ours with unknown fields dropped. A field whose number, wire type
 * or shape differs would be skipped by one side and the round trip would not be equal.
 */
import { createRequire } from 'node:module';
import {
  create,
  equals,
  fromBinary,
  toBinary,
  type DescField,
  type DescMessage,
  type Message,
} from '@bufbuild/protobuf';
import { ScalarType } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { file_base_v1_base } from '../../src/api/gen/base/v1/base_pb.js';
import { file_base_v1_errors } from '../../src/api/gen/base/v1/errors_pb.js';
import { file_base_v1_service } from '../../src/api/gen/base/v1/service_pb.js';

const require = createRequire(import.meta.url);
const gen = '@permify/permify-node/dist/src/grpc/generated/base/v1/';
interface TsProtoFns {
  encode(m: unknown): { finish(): Uint8Array };
  decode(b: Uint8Array): unknown;
}
const clientModules: Record<string, Record<string, TsProtoFns>> = {
  base: require(gen + 'base.js') as Record<string, TsProtoFns>,
  service: require(gen + 'service.js') as Record<string, TsProtoFns>,
  errors: require(gen + 'errors.js') as Record<string, TsProtoFns>,
};

function scalarValue(t: ScalarType, seed: number): unknown {
  switch (t) {
    case ScalarType.STRING:
      return `s${seed}`;
    case ScalarType.BOOL:
      return true;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return 1.5 + seed;
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return BigInt(-7 - seed);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return BigInt(7 + seed);
    case ScalarType.BYTES:
      return new Uint8Array([1, 2, seed & 0xff]);
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return -3 - seed;
    default:
      return 3 + seed;
  }
}

/** A message with every field populated (depth-bounded); `variant` picks which oneof member is set. */
function populate(desc: DescMessage, depth: number, variant: number): Message {
  const init: Record<string, unknown> = {};
  if (desc.typeName === 'google.protobuf.Timestamp')
    return create(desc, { seconds: 1700000000n, nanos: 123000000 } as never);
  if (desc.typeName === 'google.protobuf.Any') {
    return create(desc, {
      typeUrl: 'type.googleapis.com/base.v1.BooleanValue',
      value: new Uint8Array([8, 1]),
    } as never);
  }
  if (desc.typeName === 'google.protobuf.Struct') {
    return create(desc, {} as never);
  }
  if (depth > 4) return create(desc);
  const value = (f: DescField & { fieldKind: 'scalar' | 'enum' | 'message' }, seed: number): unknown => {
    if (f.fieldKind === 'scalar') return scalarValue(f.scalar, seed);
    if (f.fieldKind === 'enum') return f.enum.values[f.enum.values.length - 1]?.number ?? 0;
    return populate(f.message, depth + 1, variant + seed);
  };
  for (const f of desc.fields) {
    if (f.oneof) continue;
    switch (f.fieldKind) {
      case 'scalar':
      case 'enum':
      case 'message':
        init[f.localName] = value(f, f.number);
        break;
      case 'list':
        init[f.localName] =
          f.listKind === 'scalar'
            ? [scalarValue(f.scalar, 1), scalarValue(f.scalar, 2)]
            : f.listKind === 'enum'
              ? [f.enum.values[1]?.number ?? 0]
              : depth < 4
                ? [populate(f.message, depth + 1, variant), populate(f.message, depth + 1, variant + 1)]
                : [];
        break;
      case 'map': {
        const v =
          f.mapKind === 'scalar'
            ? scalarValue(f.scalar, 5)
            : f.mapKind === 'enum'
              ? (f.enum.values[1]?.number ?? 0)
              : depth < 4
                ? populate(f.message, depth + 1, variant)
                : undefined;
        const key = f.mapKey === ScalarType.STRING ? 'k1' : '11';
        init[f.localName] = v === undefined ? {} : { [key]: v };
        break;
      }
    }
  }
  for (const o of desc.oneofs) {
    const member = o.fields[variant % o.fields.length] as DescField & { fieldKind: 'scalar' | 'enum' | 'message' };
    init[o.localName] = { case: member.localName, value: value(member, member.number) };
  }
  return create(desc, init as never);
}

function clientFns(desc: DescMessage): TsProtoFns | undefined {
  const file = desc.file.name.split('/').pop() ?? '';
  const mod = clientModules[file];
  const name = desc.typeName.slice('base.v1.'.length).replace(/\./g, '_');
  return mod?.[name];
}

const messages: DescMessage[] = [];
const collect = (d: DescMessage): void => {
  if (d.name.endsWith('Entry')) return;
  messages.push(d);
  d.nestedMessages.forEach(collect);
};
for (const f of [file_base_v1_base, file_base_v1_service, file_base_v1_errors]) f.messages.forEach(collect);

describe('wire compatibility with @permify/permify-node', () => {
  it('covers every message of the client', () => {
    expect(messages.length).toBeGreaterThan(100);
    const missing = messages.filter((d) => clientFns(d) === undefined).map((d) => d.typeName);
    expect(missing).toEqual([]);
  });

  it.each(messages.map((d) => [d.typeName, d] as const))('%s round-trips through the client', (_name, desc) => {
    const fns = clientFns(desc) as TsProtoFns;
    for (let variant = 0; variant < 4; variant++) {
      const original = populate(desc, 0, variant);
      const bytes = toBinary(desc, original);
      const viaClient = fns.encode(fns.decode(bytes)).finish();
      const back = fromBinary(desc, viaClient, { readUnknownFields: false });
      expect(equals(desc, back, original), `variant ${variant}`).toBe(true);
    }
  });
});

describe('service and method names match the client', () => {
  interface ClientMethod {
    name: string;
    requestStream: boolean;
    responseStream: boolean;
    requestType: { fromPartial?: unknown };
  }
  const client = clientModules.service as unknown as Record<
    string,
    { fullName: string; methods: Record<string, ClientMethod> }
  >;
  it.each(file_base_v1_service.services.map((s) => [s.typeName, s] as const))('%s', (_n, svc) => {
    const def = client[`${svc.name}Definition`];
    expect(def?.fullName).toBe(svc.typeName);
    const theirs = Object.values(def?.methods ?? {}).map((m) => `${m.name}:${m.requestStream}:${m.responseStream}`);
    const ours = svc.methods.map((m) => `${m.name}:false:${m.methodKind === 'server_streaming'}`);
    expect(ours.sort()).toEqual(theirs.sort());
  });
});
