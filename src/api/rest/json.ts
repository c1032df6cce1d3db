/**
 * Permify's gateway JSON mapping (api-and-operations §1.4) on protobuf-es: proto field names on output,
 * unpopulated fields emitted (unset singular messages as `null`, unset oneof members omitted), enums as
 * names, 64-bit integers as strings, Any as `{"@type": ...}`; input accepts JSON or proto names and ignores
 * unknown keys.
 */
import {
  createRegistry,
  fromJson,
  toJson,
  type DescMessage,
  type JsonObject,
  type JsonValue,
  type Message,
} from '@bufbuild/protobuf';
import { file_google_protobuf_struct, file_google_protobuf_timestamp, file_google_protobuf_any } from '@bufbuild/protobuf/wkt';
import { PermifyError } from '../../errors.js';
import { file_base_v1_base } from '../gen/base/v1/base_pb.js';
import { file_base_v1_service } from '../gen/base/v1/service_pb.js';

/** Types resolvable inside `google.protobuf.Any`. */
export const jsonRegistry = createRegistry(
  file_base_v1_base,
  file_base_v1_service,
  file_google_protobuf_any,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
);

/** Decodes a request body (already parsed JSON) into `schema`; type mismatches are INVALID_ARGUMENT. */
export function decodeJson<T extends DescMessage>(schema: T, json: JsonValue): ReturnType<typeof fromJson<T>> {
  try {
    return fromJson(schema, json, { ignoreUnknownFields: true, registry: jsonRegistry });
  } catch (e) {
    throw new PermifyError('ERROR_CODE_VALIDATION', (e as Error).message, { cause: e });
  }
}

/** Rewrites an Any object so that `@type` is its first key, where Go's protojson writes it. */
function typeFirst(json: JsonObject): JsonObject {
  const typeUrl = json['@type'];
  if (typeUrl === undefined || Object.keys(json)[0] === '@type') return json;
  const out: JsonObject = { '@type': typeUrl };
  for (const k in json) if (k !== '@type') out[k] = json[k] as JsonValue;
  return out;
}

const isObject = (v: JsonValue | undefined): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Adds `null` for every unset singular message field that is not a oneof member, and puts `@type` first in
 * every Any value, recursively.
 */
function fillNulls(desc: DescMessage, msg: Record<string, unknown>, json: JsonObject): void {
  if (desc.typeName.startsWith('google.protobuf.')) return;
  for (const field of desc.fields) {
    const value = msg[field.localName];
    if (field.fieldKind === 'message' && field.message.typeName === 'google.protobuf.Any') {
      const child = json[field.name];
      if (isObject(child)) json[field.name] = typeFirst(child);
      else if (child === undefined && !field.oneof) json[field.name] = null;
      continue;
    }
    if (field.oneof) {
      const oneofValue = msg[field.oneof.localName] as { case?: string; value?: unknown } | undefined;
      if (oneofValue?.case === field.localName && field.fieldKind === 'message') {
        const child = json[field.name];
        if (child && typeof child === 'object' && !Array.isArray(child)) {
          fillNulls(field.message, oneofValue.value as Record<string, unknown>, child);
        }
      }
      continue;
    }
    if (field.fieldKind === 'map' && field.mapKind === 'message' && field.message.typeName === 'google.protobuf.Any') {
      const obj = json[field.name];
      if (isObject(obj)) for (const k in obj) if (isObject(obj[k])) obj[k] = typeFirst(obj[k]);
      continue;
    }
    if (field.fieldKind === 'message') {
      if (value === undefined) json[field.name] = null;
      else {
        const child = json[field.name];
        if (child && typeof child === 'object' && !Array.isArray(child)) fillNulls(field.message, value as Record<string, unknown>, child);
      }
    } else if (field.fieldKind === 'list' && field.listKind === 'message') {
      const arr = json[field.name];
      if (Array.isArray(arr)) {
        (value as Record<string, unknown>[]).forEach((item, i) => {
          const child = arr[i];
          if (child && typeof child === 'object' && !Array.isArray(child)) fillNulls(field.message, item, child);
        });
      }
    } else if (field.fieldKind === 'map' && field.mapKind === 'message') {
      const obj = json[field.name];
      if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
        for (const [k, item] of Object.entries(value as Record<string, Record<string, unknown>>)) {
          const child = obj[k];
          if (child && typeof child === 'object' && !Array.isArray(child)) fillNulls(field.message, item, child);
        }
      }
    }
  }
}

/** Encodes a response message with Permify's gateway options. */
export function encodeJson(schema: DescMessage, message: Message): JsonValue {
  const json = toJson(schema, message as never, { useProtoFieldName: true, alwaysEmitImplicit: true, registry: jsonRegistry });
  if (json && typeof json === 'object' && !Array.isArray(json)) fillNulls(schema, message as unknown as Record<string, unknown>, json);
  return json;
}
