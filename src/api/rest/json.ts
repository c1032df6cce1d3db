/**
 * Permify's gateway JSON mapping (api-and-operations §1.4) on protobuf-es: proto field names on output,
 * unpopulated fields emitted (unset singular messages as `null`, unset oneof members omitted), enums as
 * names, 64-bit integers as strings, Any as `{"@type": ...}`; input accepts JSON or proto names and ignores
 * unknown keys.
 */
import {
  createRegistry,
  fromJson,
  ScalarType,
  toJson,
  type DescField,
  type DescMessage,
  type JsonObject,
  type JsonValue,
  type Message,
} from '@bufbuild/protobuf';
import { file_google_protobuf_struct, file_google_protobuf_timestamp, file_google_protobuf_any } from '@bufbuild/protobuf/wkt';
import { PermifyError } from '../../errors.js';
import { file_base_v1_base } from '../gen/base/v1/base_pb.js';
import { file_base_v1_service } from '../gen/base/v1/service_pb.js';
import { noteUnknownFields } from '../validation/unknown-fields.js';

/** Types resolvable inside `google.protobuf.Any`. */
export const jsonRegistry = createRegistry(
  file_base_v1_base,
  file_base_v1_service,
  file_google_protobuf_any,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
);

const isObject = (v: JsonValue | undefined): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A JSON number (RFC 8259 grammar): what Go's protojson requires inside a quoted numeric field. */
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const FLOAT_WORDS = new Set(['NaN', 'Infinity', '-Infinity']);

/** Request fields by their JSON name and their proto name, per message type. */
const inputNames = new WeakMap<DescMessage, Map<string, DescField>>();
function inputField(desc: DescMessage, key: string): DescField | undefined {
  let names = inputNames.get(desc);
  if (names === undefined) {
    names = new Map();
    for (const f of desc.fields) names.set(f.name, f).set(f.jsonName, f);
    inputNames.set(desc, names);
  }
  return names.get(key);
}

function checkNumberText(desc: DescMessage, key: string, scalar: ScalarType, v: JsonValue | undefined): void {
  if (typeof v !== 'string' || scalar === ScalarType.STRING || scalar === ScalarType.BOOL || scalar === ScalarType.BYTES) return;
  if (JSON_NUMBER.test(v)) return;
  if ((scalar === ScalarType.DOUBLE || scalar === ScalarType.FLOAT) && FLOAT_WORDS.has(v)) return;
  throw new PermifyError('ERROR_CODE_VALIDATION', `cannot decode field ${desc.typeName}.${key} from JSON: invalid number ${JSON.stringify(v)}`);
}

/**
 * protobuf-es reads a quoted number with `Number()`, so it also takes `"0x14"`, `"+1"`, `"01"` or `".5"`;
 * Go's protojson (Permify's gateway) accepts only JSON number text inside the quotes. Walks the request
 * (messages, lists, maps, Any payloads) and rejects the extra spellings as the decode error they are there.
 */
function checkQuotedNumbers(desc: DescMessage, json: JsonValue, depth = 0): void {
  if (!isObject(json) || depth > 100) return;
  if (desc.typeName === 'google.protobuf.Any') {
    const typeUrl = json['@type'];
    const inner = typeof typeUrl === 'string' ? jsonRegistry.getMessage(typeUrl.slice(typeUrl.lastIndexOf('/') + 1)) : undefined;
    if (inner) checkQuotedNumbers(inner, json, depth + 1);
    return;
  }
  if (desc.typeName.startsWith('google.protobuf.')) return;
  for (const key in json) {
    const field = inputField(desc, key);
    if (field === undefined) continue;
    const v = json[key];
    switch (field.fieldKind) {
      case 'scalar':
        checkNumberText(desc, key, field.scalar, v);
        break;
      case 'message':
        checkQuotedNumbers(field.message, v as JsonValue, depth + 1);
        break;
      case 'list':
        if (!Array.isArray(v)) break;
        for (const item of v) {
          if (field.listKind === 'scalar') checkNumberText(desc, key, field.scalar, item);
          else if (field.listKind === 'message') checkQuotedNumbers(field.message, item, depth + 1);
        }
        break;
      case 'map':
        if (!isObject(v)) break;
        for (const k in v) {
          if (field.mapKind === 'scalar') checkNumberText(desc, key, field.scalar, v[k]);
          else if (field.mapKind === 'message') checkQuotedNumbers(field.message, v[k] as JsonValue, depth + 1);
        }
        break;
      default:
        break;
    }
  }
}

/** Dotted JSON paths of the keys `json` has that `desc` (and its nested messages) does not define. */
function collectUnknownFields(desc: DescMessage, json: JsonValue, prefix: string, out: string[], depth = 0): void {
  if (!isObject(json) || depth > 32 || desc.typeName.startsWith('google.protobuf.') || out.length >= 10) return;
  for (const key in json) {
    const field = inputField(desc, key);
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (field === undefined) out.push(path);
    else if (field.fieldKind === 'message') collectUnknownFields(field.message, json[key] as JsonValue, path, out, depth + 1);
    else if (field.fieldKind === 'list' && field.listKind === 'message' && Array.isArray(json[key])) {
      (json[key] as JsonValue[]).forEach((item, i) => collectUnknownFields(field.message, item, `${path}[${i}]`, out, depth + 1));
    }
  }
}

/**
 * Decodes a request body (already parsed JSON) into `schema`; type mismatches are INVALID_ARGUMENT. Unknown
 * fields are ignored, as in Permify, and noted for the message of a validation failure.
 */
export function decodeJson<T extends DescMessage>(schema: T, json: JsonValue): ReturnType<typeof fromJson<T>> {
  checkQuotedNumbers(schema, json);
  let message: ReturnType<typeof fromJson<T>>;
  try {
    message = fromJson(schema, json, { ignoreUnknownFields: true, registry: jsonRegistry });
  } catch (e) {
    throw new PermifyError('ERROR_CODE_VALIDATION', (e as Error).message, { cause: e });
  }
  const unknown: string[] = [];
  collectUnknownFields(schema, json, '', unknown);
  noteUnknownFields(message as object, unknown);
  return message;
}

/** Rewrites an Any object so that `@type` is its first key, where Go's protojson writes it. */
function typeFirst(json: JsonObject): JsonObject {
  const typeUrl = json['@type'];
  if (typeUrl === undefined || Object.keys(json)[0] === '@type') return json;
  const out: JsonObject = { '@type': typeUrl };
  for (const k in json) if (k !== '@type') out[k] = json[k] as JsonValue;
  return out;
}

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
