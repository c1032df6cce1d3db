/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha) so that tools such as grpcurl can discover the
 * services without local .proto files. Answers list_services, file_by_filename and file_containing_symbol
 * with serialized FileDescriptorProtos (the requested file plus its transitive dependencies); extension
 * queries answer NOT_FOUND in the response body, as the protocol prescribes. Reflection passes the same
 * admission hook as every RPC (as in Permify, it needs a token when authentication is on): a refused stream
 * ends with that status before any answer.
 */
import * as grpc from '@grpc/grpc-js';
import { toPermifyError } from '../../errors.js';
import { create, fromBinary, toBinary, type DescFile, type DescMessage } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import * as v1 from '../gen/grpc/reflection/v1/reflection_pb.js';
import * as v1alpha from '../gen/grpc/reflection/v1alpha/reflection_pb.js';

type Request = v1.ServerReflectionRequest;
type Response = v1.ServerReflectionResponse;

/** Index of the files that reflection can describe. */
interface Catalogue {
  readonly services: readonly string[];
  fileByName(name: string): DescFile | undefined;
  fileBySymbol(symbol: string): DescFile | undefined;
}

function buildCatalogue(files: readonly DescFile[], services: readonly string[]): Catalogue {
  const byName = new Map<string, DescFile>();
  const bySymbol = new Map<string, DescFile>();
  const visit = (f: DescFile): void => {
    if (byName.has(f.proto.name)) return;
    byName.set(f.proto.name, f);
    const addMessage = (m: DescMessage): void => {
      bySymbol.set(m.typeName, f);
      m.nestedMessages.forEach(addMessage);
      m.nestedEnums.forEach((e) => bySymbol.set(e.typeName, f));
    };
    f.messages.forEach(addMessage);
    f.enums.forEach((e) => bySymbol.set(e.typeName, f));
    for (const s of f.services) {
      bySymbol.set(s.typeName, f);
      for (const m of s.methods) bySymbol.set(`${s.typeName}.${m.name}`, f);
    }
    f.dependencies.forEach(visit);
  };
  files.forEach(visit);
  return {
    services,
    fileByName: (name) => byName.get(name),
    fileBySymbol: (symbol) => bySymbol.get(symbol.replace(/^\./, '')),
  };
}

/** The file and its transitive dependencies, dependencies last, each once. */
function withDependencies(file: DescFile): Uint8Array[] {
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  const visit = (f: DescFile): void => {
    if (seen.has(f.proto.name)) return;
    seen.add(f.proto.name);
    out.push(toBinary(FileDescriptorProtoSchema, f.proto));
    f.dependencies.forEach(visit);
  };
  visit(file);
  return out;
}

function answer(catalogue: Catalogue, req: Request): Response {
  const base = { validHost: req.host, originalRequest: req };
  const notFound = (message: string): Response =>
    create(v1.ServerReflectionResponseSchema, {
      ...base,
      messageResponse: { case: 'errorResponse', value: { errorCode: grpc.status.NOT_FOUND, errorMessage: message } },
    });
  const files = (file: DescFile | undefined, what: string): Response =>
    file === undefined
      ? notFound(`${what} not found`)
      : create(v1.ServerReflectionResponseSchema, {
          ...base,
          messageResponse: { case: 'fileDescriptorResponse', value: { fileDescriptorProto: withDependencies(file) } },
        });
  const m = req.messageRequest;
  switch (m.case) {
    case 'listServices':
      return create(v1.ServerReflectionResponseSchema, {
        ...base,
        messageResponse: {
          case: 'listServicesResponse',
          value: { service: catalogue.services.map((name) => ({ name })) },
        },
      });
    case 'fileByFilename':
      return files(catalogue.fileByName(m.value), `file ${m.value}`);
    case 'fileContainingSymbol':
      return files(catalogue.fileBySymbol(m.value), `symbol ${m.value}`);
    default:
      return notFound('extensions are not supported');
  }
}

const identity = (b: Buffer): Buffer => b;

/** Admission of one reflection stream (the transport's `beforeCall`). */
export type ReflectionAdmission = (call: {
  readonly service: string;
  readonly method: string;
  readonly headers: Record<string, string>;
}) => Promise<void> | void;

/**
 * Registers both reflection services on `server`. `files` are the generated file descriptors to describe;
 * `services` the full names listed by list_services; `admit` runs once per stream before any answer.
 */
export function addReflection(
  server: grpc.Server,
  files: readonly DescFile[],
  services: readonly string[],
  admit?: ReflectionAdmission,
): void {
  const catalogue = buildCatalogue(files, [
    ...services,
    'grpc.reflection.v1.ServerReflection',
    'grpc.reflection.v1alpha.ServerReflection',
  ]);
  // v1 and v1alpha messages are identical on the wire, so the v1 code serves both.
  for (const pkg of [
    v1.file_grpc_reflection_v1_reflection.proto.package,
    v1alpha.file_grpc_reflection_v1alpha_reflection.proto.package,
  ]) {
    const service = `${pkg}.ServerReflection`;
    const handler: grpc.handleBidiStreamingCall<Buffer, Buffer> = (call) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(call.metadata.getMap())) if (typeof v === 'string') headers[k] = v;
      let failed = false;
      // Requests are answered in order once the stream is admitted; a refusal ends the stream once.
      let queue: Promise<void> = Promise.resolve()
        .then(() => admit?.({ service, method: 'ServerReflectionInfo', headers }))
        .catch((e: unknown) => {
          failed = true;
          const err = toPermifyError(e);
          call.emit('error', { code: err.grpcStatus as number as grpc.status, details: err.message });
        });
      const then = (step: () => void): void => {
        queue = queue.then(() => {
          if (!failed) step();
        });
      };
      call.on('data', (bytes: Buffer) =>
        then(() => {
          let res: Response;
          try {
            res = answer(catalogue, fromBinary(v1.ServerReflectionRequestSchema, bytes));
          } catch {
            failed = true;
            call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'malformed reflection request' });
            return;
          }
          call.write(Buffer.from(toBinary(v1.ServerReflectionResponseSchema, res)));
        }),
      );
      call.on('end', () => then(() => call.end()));
      call.on('error', () => {});
    };
    server.addService(
      {
        ServerReflectionInfo: {
          path: `/${pkg}.ServerReflection/ServerReflectionInfo`,
          requestStream: true,
          responseStream: true,
          requestSerialize: identity,
          requestDeserialize: identity,
          responseSerialize: identity,
          responseDeserialize: identity,
        },
      },
      { ServerReflectionInfo: handler },
    );
  }
}
