/**
 * `permify explain ENTITY PERMISSION SUBJECT`: why a Check is allowed or denied (docs/explain.md).
 *
 * Two ways to run it:
 * - `--file <validation file>`: in-process, like `permify validate`: the file's schema, relationships and
 *   attributes are loaded into a memory store and the same engine answers (nothing to start).
 * - otherwise against a running server's permifyts.v1.Explain over gRPC (`--address`, default
 *   localhost:3478; `--token`, `--tls`, `--tls-ca`).
 * Prints the proof tree as text, or with `--json` the answer as the REST route returns it.
 */
import { readFileSync } from 'node:fs';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError, type Command } from 'commander';
import { attributeValueToAny } from '../../api/convert/attribute-value.js';
import { entityToProto, subjectToProto, tupleToProto } from '../../api/convert/data.js';
import * as s from '../../api/gen/base/v1/service_pb.js';
import { ExplainResponseSchema, type ExplainResponse } from '../../api/gen/permifyts/v1/explain_pb.js';
import { explainResponseToProto } from '../../api/handlers/explain.js';
import { parseAttribute, parseEntity, parseSubject, parseTuple } from '../../data/notation.js';
import type { Attribute, JsonValue, Tuple } from '../../data/types.js';
import { createMemorySandbox } from '../../development/toolkit.js';
import { loadValidationFile } from '../../development/validation-file.js';
import { explainJson, renderExplain } from '../explain-render.js';

interface ExplainFlags {
  file?: string;
  address: string;
  tenant: string;
  depth: number;
  snapToken?: string;
  schemaVersion?: string;
  contextTuple: string[];
  contextAttribute: string[];
  data?: string;
  argument: string[];
  json?: boolean;
  token?: string;
  tls?: boolean;
  tlsCa?: string;
  timeout: number;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

function positiveInt(name: string) {
  return (v: string): number => {
    if (!/^[1-9][0-9]{0,8}$/.test(v)) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return Number(v);
  };
}

export function registerExplain(program: Command): void {
  program
    .command('explain')
    .description('explain why a check is allowed or denied (the proof tree of the evaluation)')
    .argument('<entity>', 'entity, e.g. document:1')
    .argument('<permission>', 'permission, relation, attribute or rule name')
    .argument('<subject>', 'subject, e.g. user:alice or group:eng#member')
    .option('-f, --file <file>', 'answer in-process from a validation file (schema, relationships, attributes)')
    .option('--address <host:port>', 'gRPC address of a running server (when no --file)', 'localhost:3478')
    .option('--tenant <id>', 'tenant id (server mode)', 't1')
    .option('--depth <n>', 'depth limit', positiveInt('--depth'), 50)
    .option('--snap-token <token>', 'snap token (server mode; default: head)')
    .option('--schema-version <version>', 'schema version (server mode; default: head)')
    .option('--context-tuple <tuple>', 'contextual tuple, e.g. document:1#viewer@user:x (repeatable)', collect, [])
    .option(
      '--context-attribute <attr>',
      'contextual attribute, e.g. document:1$public|boolean:true (repeatable)',
      collect,
      [],
    )
    .option('--data <json>', 'context.data as a JSON object')
    .option(
      '--argument <name>',
      'rule argument (attribute name) when PERMISSION names a rule (repeatable)',
      collect,
      [],
    )
    .option('--json', 'print the answer as JSON (as the REST route returns it)')
    .option('--token <token>', 'bearer token (preshared key or OIDC token; env PERMIFY_TOKEN)')
    .option('--tls', 'connect with TLS (system roots unless --tls-ca)')
    .option('--tls-ca <file>', 'PEM of the CA that signed the server certificate (implies --tls)')
    .option('--timeout <ms>', 'deadline of the call (server mode)', positiveInt('--timeout'), 30_000)
    .action(async (entityText: string, permission: string, subjectText: string, flags: ExplainFlags) => {
      const request = {
        entity: parseEntity(entityText),
        permission,
        subject: parseSubject(subjectText),
        tuples: flags.contextTuple.map(parseTuple),
        attributes: flags.contextAttribute.map(parseAttribute),
        data: parseData(flags.data),
      };
      const answer =
        flags.file !== undefined ? await explainLocal(flags.file, request, flags) : await explainRemote(request, flags);
      process.stdout.write(`${flags.json === true ? explainJson(answer) : renderExplain(answer).join('\n')}\n`);
    });
}

interface ExplainInput {
  readonly entity: ReturnType<typeof parseEntity>;
  readonly permission: string;
  readonly subject: ReturnType<typeof parseSubject>;
  readonly tuples: readonly Tuple[];
  readonly attributes: readonly Attribute[];
  readonly data: { readonly [k: string]: JsonValue };
}

function parseData(text: string | undefined): { readonly [k: string]: JsonValue } {
  if (text === undefined) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new InvalidArgumentError(`--data is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new InvalidArgumentError('--data must be a JSON object');
  return v as { readonly [k: string]: JsonValue };
}

/** In-process: the validation file's world in a memory store, the same engine as the server. */
export async function explainLocal(
  file: string,
  req: ExplainInput,
  flags: Pick<ExplainFlags, 'depth' | 'argument'>,
): Promise<ExplainResponse> {
  const { file: vf, schemaText } = await loadValidationFile(file);
  const sandbox = await createMemorySandbox(schemaText);
  try {
    for (const t of vf.relationships) await sandbox.writeTuple(parseTuple(t));
    for (const a of vf.attributes) await sandbox.writeAttribute(parseAttribute(a));
    const r = await sandbox.engine.explain({
      tenantId: sandbox.tenantId,
      metadata: { depth: flags.depth },
      entity: req.entity,
      permission: req.permission,
      subject: req.subject,
      context: { tuples: req.tuples, attributes: req.attributes, data: req.data },
      arguments: flags.argument,
    });
    return explainResponseToProto(r);
  } finally {
    await sandbox.close();
  }
}

/** Over gRPC to a running server's permifyts.v1.Explain/Check. */
async function explainRemote(req: ExplainInput, flags: ExplainFlags): Promise<ExplainResponse> {
  const message = create(s.PermissionCheckRequestSchema, {
    tenantId: flags.tenant,
    metadata: { snapToken: flags.snapToken ?? '', schemaVersion: flags.schemaVersion ?? '', depth: flags.depth },
    entity: entityToProto(req.entity),
    permission: req.permission,
    subject: subjectToProto(req.subject),
    context: {
      tuples: req.tuples.map(tupleToProto),
      attributes: req.attributes.map((a) => ({
        entity: entityToProto(a.entity),
        attribute: a.attribute,
        value: attributeValueToAny(a.value),
      })),
      data: req.data as never,
    },
    arguments: flags.argument.map((name) => ({ type: { case: 'computedAttribute' as const, value: { name } } })),
  });
  const tls = flags.tls === true || flags.tlsCa !== undefined;
  const creds = tls
    ? grpc.credentials.createSsl(flags.tlsCa === undefined ? undefined : readFileSync(flags.tlsCa))
    : grpc.credentials.createInsecure();
  const client = new grpc.Client(flags.address, creds);
  const metadata = new grpc.Metadata();
  const token = flags.token ?? process.env['PERMIFY_TOKEN'];
  if (token !== undefined && token !== '') metadata.set('authorization', `Bearer ${token}`);
  try {
    return await new Promise<ExplainResponse>((resolve, reject) => {
      client.makeUnaryRequest(
        '/permifyts.v1.Explain/Check',
        (m: s.PermissionCheckRequest) => Buffer.from(toBinary(s.PermissionCheckRequestSchema, m)),
        (b: Buffer) => fromBinary(ExplainResponseSchema, b),
        message,
        metadata,
        { deadline: Date.now() + flags.timeout },
        (err, res) => {
          if (err !== null) {
            reject(new Error(`${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`));
          } else if (res === undefined) reject(new Error('empty response'));
          else resolve(res);
        },
      );
    });
  } finally {
    client.close();
  }
}
