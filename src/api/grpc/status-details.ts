/**
 * The `grpc-status-details-bin` trailer: a google.rpc.Status carrying one google.rpc.ErrorInfo, the standard
 * place where gRPC clients (and grpc-gateway) look for structured error details.
 */
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import type { ErrorInfo } from '../../errors.js';

const LEN = WireType.LengthDelimited;

/** Serialises google.rpc.Status{code, message, details: [Any(ErrorInfo)]}. */
export function encodeStatusDetails(code: number, message: string, info: ErrorInfo): Uint8Array {
  const errorInfo = new BinaryWriter().tag(1, LEN).string(info.reason).tag(2, LEN).string(info.domain);
  for (const [k, v] of Object.entries(info.metadata)) {
    errorInfo.tag(3, LEN).fork().tag(1, LEN).string(k).tag(2, LEN).string(v).join();
  }
  const any = new BinaryWriter()
    .tag(1, LEN)
    .string('type.googleapis.com/google.rpc.ErrorInfo')
    .tag(2, LEN)
    .bytes(errorInfo.finish())
    .finish();
  return new BinaryWriter()
    .tag(1, WireType.Varint)
    .int32(code)
    .tag(2, LEN)
    .string(message)
    .tag(3, LEN)
    .bytes(any)
    .finish();
}
