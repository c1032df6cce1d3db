/**
 * A small gRPC client of a running server's permifyts.v1.Data service for the `permify data` commands, over
 * @grpc/grpc-js with the generated descriptors (no second code generator): plaintext or TLS (optionally a
 * CA and a client certificate), and a bearer token sent as `authorization` metadata like Permify's clients.
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { fromBinary, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { PermifyError } from '../../errors.js';
import {
  Data,
  DataExportRequestSchema,
  DataExportResponseSchema,
  DataImportRequestSchema,
  DataImportResponseSchema,
  type DataExportRequest,
  type DataExportResponse,
  type DataImportRequest,
  type DataImportResponse,
} from '../../api/gen/permifyts/v1/data_pb.js';

export interface ClientOptions {
  /** `host:port` of the gRPC listener. */
  readonly address: string;
  /** Bearer token (preshared key or OIDC token). */
  readonly token?: string;
  readonly tls?: {
    /** PEM file of the CA that signed the server certificate (default: the system roots). */
    readonly caPath?: string;
    readonly certPath?: string;
    readonly keyPath?: string;
    /** Name to verify the server certificate against, when it differs from the address's host. */
    readonly serverName?: string;
  };
}

export interface ImportCall {
  /** Sends one batch; resolves when the transport accepts more (flow control). */
  send(request: DataImportRequest): Promise<void>;
  /** No more batches. */
  end(): void;
  /** The responses, one per batch, in order; ends when the server ends the stream (rejects on its error). */
  readonly responses: AsyncIterable<DataImportResponse>;
  cancel(): void;
}

export interface DataClient {
  export(request: DataExportRequest, signal?: AbortSignal): AsyncIterable<DataExportResponse>;
  import(): ImportCall;
  close(): void;
}

const serializer =
  <T extends DescMessage>(schema: T) =>
  (m: MessageShape<T>): Buffer => {
    const bytes = toBinary(schema, m);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
const deserializer =
  <T extends DescMessage>(schema: T) =>
  (b: Buffer): MessageShape<T> =>
    fromBinary(schema, b);

/** A gRPC failure as a PermifyError-like Error carrying the status code and the server's message. */
export class RpcError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

function toRpcError(e: unknown): Error {
  const s = e as Partial<grpc.ServiceError>;
  if (typeof s?.code === 'number') {
    const name = grpc.status[s.code] ?? String(s.code);
    return new RpcError(s.code, `${name}: ${s.details || s.message || 'call failed'}`);
  }
  return e instanceof Error ? e : new Error(String(e));
}

function credentials(o: ClientOptions): grpc.ChannelCredentials {
  let creds: grpc.ChannelCredentials;
  if (o.tls) {
    const read = (p: string | undefined): Buffer | null => (p ? readFileSync(p) : null);
    if ((o.tls.certPath === undefined) !== (o.tls.keyPath === undefined)) {
      throw new PermifyError('ERROR_CODE_VALIDATION', '--tls-cert and --tls-key go together');
    }
    creds = grpc.credentials.createSsl(read(o.tls.caPath), read(o.tls.keyPath), read(o.tls.certPath));
  } else {
    creds = grpc.credentials.createInsecure();
  }
  return creds;
}

export function createDataClient(o: ClientOptions): DataClient {
  const channelOptions: grpc.ChannelOptions = {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    ...(o.tls?.serverName ? { 'grpc.ssl_target_name_override': o.tls.serverName } : {}),
  };
  const client = new grpc.Client(o.address, credentials(o), channelOptions);
  const metadata = (): grpc.Metadata => {
    const md = new grpc.Metadata();
    if (o.token) md.set('authorization', `Bearer ${o.token}`);
    return md;
  };
  const exportMethod = Data.method.export;
  const importMethod = Data.method.import;
  const pathOf = (name: string): string => `/${Data.typeName}/${name}`;

  return {
    async *export(request, signal) {
      const call = client.makeServerStreamRequest(
        pathOf(exportMethod.name),
        serializer(DataExportRequestSchema),
        deserializer(DataExportResponseSchema),
        request,
        metadata(),
      );
      const onAbort = (): void => call.cancel();
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        for await (const page of call as AsyncIterable<DataExportResponse>) yield page;
      } catch (e) {
        throw toRpcError(e);
      } finally {
        signal?.removeEventListener('abort', onAbort);
        call.cancel();
      }
    },

    import() {
      const call = client.makeBidiStreamRequest(
        pathOf(importMethod.name),
        serializer(DataImportRequestSchema),
        deserializer(DataImportResponseSchema),
        metadata(),
      );
      // Errors surface through `responses`; without this listener an early error would be unhandled.
      call.on('error', () => undefined);
      return {
        send(request) {
          return new Promise<void>((resolve) => {
            if (call.write(request)) resolve();
            else call.once('drain', () => resolve());
          });
        },
        end: () => call.end(),
        cancel: () => call.cancel(),
        responses: (async function* () {
          try {
            for await (const r of call as AsyncIterable<DataImportResponse>) yield r;
          } catch (e) {
            throw toRpcError(e);
          }
        })(),
      };
    },

    close: () => client.close(),
  };
}
