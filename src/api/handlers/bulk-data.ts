/**
 * permifyts.v1.Data: bulk Export and Import (issue 15).
 *
 * Export streams every live tuple and attribute of a tenant at one snap token in pages; each page's cursor
 * names the snapshot, the store's position and the tenant, so an Export resumed with it continues exactly
 * where the previous one stopped, at the same snapshot.
 *
 * Import applies each request message as one batch (one store transaction, at most `maxImportBatch` items),
 * validated against the schema version resolved once from the first message, and answers after each
 * commit with the count of items of this stream durably applied: the client's resume position. Up to
 * `importConcurrency` batches of a stream (default 2) are applied at once: a database applies one
 * transaction's index changes on one core, so on a multi-core PostgreSQL more batches in flight load faster.
 * They are handed to the store in stream order and answered in stream order; the stores number rows in the
 * order of the calls (PostgreSQL reserves each batch's ids before its transaction), so an export of the
 * imported tenant repeats the import's order whatever ran at once.
 */
import { create } from '@bufbuild/protobuf';
import { PermifyError, isPermifyError, toPermifyError } from '../../errors.js';
import type { Attribute, Tuple } from '../../data/types.js';
import { validateAttribute, validateTuple } from '../../schema/validate-data.js';
import type { Schema } from '../../schema/model.js';
import { hashText } from '../../storage/page-token.js';
import * as pb from '../gen/permifyts/v1/data_pb.js';
import { attributeFromProto, attributeToProto, tupleFromProto } from '../convert/data.js';
import * as v from '../validation/validate.js';
import type { HandlerEnv } from './deps.js';
import type { HandlerContext, ServiceHandlers } from './types.js';

/** Default items per Export page. */
export const defaultExportPageSize = 1000;
/** Default `maxExportPageSize`. */
export const defaultMaxExportPageSize = 10_000;
/** Default `maxImportBatch`. */
export const defaultMaxImportBatch = 10_000;
/** Default `importConcurrency`. */
export const defaultImportConcurrency = 2;

interface ExportCursor {
  readonly snapToken: string;
  readonly position: string;
}

function encodeCursor(tenantId: string, c: ExportCursor): string {
  return Buffer.from(JSON.stringify([hashText(tenantId), c.snapToken, c.position])).toString('base64url');
}

/** @throws PermifyError ERROR_CODE_INVALID_CONTINUOUS_TOKEN for garbage or a cursor of another tenant. */
function decodeCursor(tenantId: string, cursor: string): ExportCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 3 ||
    !parsed.every((x) => typeof x === 'string') ||
    parsed[0] !== hashText(tenantId) ||
    parsed[1] === ''
  ) {
    throw new PermifyError('ERROR_CODE_INVALID_CONTINUOUS_TOKEN', 'invalid export cursor', {
      details: { field: 'cursor' },
    });
  }
  return { snapToken: parsed[1] as string, position: parsed[2] as string };
}

/** The error of one invalid import item, naming its position in the batch. */
function itemError(index: number, e: unknown): PermifyError {
  const err = toPermifyError(e);
  return new PermifyError(err.code, `item ${index}: ${err.message}`, { cause: err, details: err.details });
}

/** Converts and validates one item against `schema` (the same checks as Data/Write). */
function convertItem(schema: Schema, item: pb.DataItem): { tuple?: Tuple; attribute?: Attribute } {
  switch (item.item.case) {
    case 'tuple': {
      const t = item.item.value;
      v.checkFields(() => v.tuple(t));
      const tuple = tupleFromProto(t);
      validateTuple(schema, tuple);
      return { tuple };
    }
    case 'attribute': {
      const a = item.item.value;
      v.checkFields(() => v.attribute(a));
      let attribute: Attribute;
      try {
        attribute = attributeFromProto(a);
      } catch (e) {
        // An undefined attribute is reported before a value problem, as in Data/Write.
        const definition = schema.entities.get(a.entity?.type ?? '')?.attributes.get(a.attribute);
        if (definition === undefined && isPermifyError(e) && e.code === 'ERROR_CODE_ATTRIBUTE_TYPE_MISMATCH') {
          throw new PermifyError('ERROR_CODE_ATTRIBUTE_DEFINITION_NOT_FOUND');
        }
        throw e;
      }
      validateAttribute(schema, attribute);
      return { attribute };
    }
    default:
      throw new PermifyError('ERROR_CODE_VALIDATION', 'empty item: set tuple or attribute');
  }
}

/**
 * A tuple as a DataItem, built as the plain message object `create()` would return: every field of
 * DataItem, Tuple, Entity and Subject is set here, and skipping the reflective `create()` (four per tuple)
 * takes about 1.5 us per exported tuple off the server's work (it dominated the page's conversion).
 */
function tupleItem(t: Tuple): pb.DataItem {
  return {
    $typeName: 'permifyts.v1.DataItem',
    item: {
      case: 'tuple',
      value: {
        $typeName: 'base.v1.Tuple',
        entity: { $typeName: 'base.v1.Entity', type: t.entity.type, id: t.entity.id },
        relation: t.relation,
        subject: { $typeName: 'base.v1.Subject', type: t.subject.type, id: t.subject.id, relation: t.subject.relation },
      },
    },
  };
}

export function createBulkDataHandlers(env: HandlerEnv): ServiceHandlers<typeof pb.Data> {
  const maxPage = env.limits.maxExportPageSize ?? defaultMaxExportPageSize;
  const maxBatch = env.limits.maxImportBatch ?? defaultMaxImportBatch;
  const importConcurrency = Math.max(1, env.limits.importConcurrency ?? defaultImportConcurrency);

  async function* exportStream(r: pb.DataExportRequest, ctx: HandlerContext): AsyncGenerator<pb.DataExportResponse> {
    v.checkFields(() => v.tenant('DataExportRequest', r.tenantId));
    const size = r.pageSize === 0 ? Math.min(defaultExportPageSize, maxPage) : r.pageSize;
    if (size > maxPage) {
      throw new PermifyError(
        'ERROR_CODE_VALIDATION',
        `page_size ${size} exceeds service.data.max_export_page_size (${maxPage})`,
        {
          details: { limit: 'service.data.max_export_page_size', field: 'page_size' },
        },
      );
    }
    let cursor: ExportCursor =
      r.cursor !== ''
        ? decodeCursor(r.tenantId, r.cursor)
        : { snapToken: r.snapToken || (await env.store.reader.headSnapToken(r.tenantId, ctx.signal)), position: '' };
    for (;;) {
      if (ctx.signal.aborted) throw new PermifyError('ERROR_CODE_CANCELLED');
      const page = await env.store.bulk.exportPage(r.tenantId, cursor.snapToken, cursor.position, size, ctx.signal);
      const items: pb.DataItem[] = [];
      for (const t of page.tuples) items.push(tupleItem(t));
      for (const a of page.attributes) {
        items.push(create(pb.DataItemSchema, { item: { case: 'attribute', value: attributeToProto(a) } }));
      }
      const next =
        page.cursor === '' ? '' : encodeCursor(r.tenantId, { snapToken: cursor.snapToken, position: page.cursor });
      yield create(pb.DataExportResponseSchema, { items, snapToken: cursor.snapToken, cursor: next });
      if (page.cursor === '') return;
      cursor = { snapToken: cursor.snapToken, position: page.cursor };
    }
  }

  /** One batch of an Import stream: its store call (started at once) and what its response reports. */
  interface PendingBatch {
    readonly commit: Promise<string | undefined>;
    readonly items: number;
    readonly rejected: pb.DataImportRejection[];
  }

  /** One Import message, checked and converted. */
  interface ImportMessage {
    readonly tenantId: string;
    readonly tuples: Tuple[];
    readonly attributes: Attribute[];
    /** Items of the message, rejected ones included (they count toward `applied`). */
    readonly items: number;
    readonly rejected: pb.DataImportRejection[];
  }

  async function* importStream(
    requests: AsyncIterable<pb.DataImportRequest>,
    ctx: HandlerContext,
  ): AsyncGenerator<pb.DataImportResponse> {
    let stream: { tenantId: string; schema: Schema; version: string; skipInvalid: boolean } | undefined;
    let applied = 0n;
    let batches = 0n;
    let snapToken = '';
    // Up to `concurrency` batches are applied at once (each its own transaction), answered in order: a
    // response's `applied` counts a prefix of the stream, all committed. Tuple batches commute (a tuple
    // written twice is one live tuple); two batches that both carry attributes do not (the later value must
    // win), so an attribute batch starts only once the previous attribute batch has settled.
    const pending: PendingBatch[] = [];
    let lastAttributes: Promise<unknown> = Promise.resolve();
    /** Settles once the latest batch was handed to the store. */
    let handedOver: Promise<unknown> = Promise.resolve();
    const it = requests[Symbol.asyncIterator]();
    /** The next message, asked for ahead; a failure is seen where it is awaited, never as unhandled. */
    const ask = (): Promise<IteratorResult<pb.DataImportRequest>> => {
      const p = it.next();
      p.catch(() => undefined);
      return p;
    };
    let nextRequest: Promise<IteratorResult<pb.DataImportRequest>> | undefined = ask();

    const answer = (b: PendingBatch, token: string | undefined): pb.DataImportResponse => {
      if (token !== undefined) snapToken = token;
      applied += BigInt(b.items);
      batches += 1n;
      return create(pb.DataImportResponseSchema, {
        applied,
        batches,
        snapToken,
        schemaVersion: stream?.version ?? '',
        rejected: b.rejected,
      });
    };

    /** Reads, checks and converts the next message; undefined at the end of the client's stream. */
    const readBatch = async (): Promise<ImportMessage | undefined> => {
      const next = await (nextRequest as Promise<IteratorResult<pb.DataImportRequest>>);
      if (next.done === true) {
        nextRequest = undefined;
        return undefined;
      }
      nextRequest = ask();
      const r = next.value;
      if (ctx.signal.aborted) throw new PermifyError('ERROR_CODE_CANCELLED');
      if (stream === undefined) {
        v.checkFields(() => v.tenant('DataImportRequest', r.tenantId));
        // The schema version is checked once per stream: every batch validates against it.
        const { schema, version } = await env.schemas.resolve(r.tenantId, r.schemaVersion, ctx.signal);
        stream = { tenantId: r.tenantId, schema, version, skipInvalid: r.skipInvalid };
      } else if (r.tenantId !== '' && r.tenantId !== stream.tenantId) {
        throw new PermifyError('ERROR_CODE_VALIDATION', 'tenant_id differs from the first message of the stream', {
          details: { field: 'tenant_id' },
        });
      }
      if (r.items.length > maxBatch) {
        throw new PermifyError(
          'ERROR_CODE_VALIDATION',
          `batch of ${r.items.length} items exceeds service.data.max_import_batch (${maxBatch})`,
          { details: { limit: 'service.data.max_import_batch', field: 'items' } },
        );
      }
      const s = stream;
      const tuples: Tuple[] = [];
      const attributes: Attribute[] = [];
      const rejected: pb.DataImportRejection[] = [];
      r.items.forEach((item, index) => {
        try {
          const { tuple, attribute } = convertItem(s.schema, item);
          if (tuple) tuples.push(tuple);
          if (attribute) attributes.push(attribute);
        } catch (e) {
          const err = itemError(index, e);
          if (!s.skipInvalid) throw err;
          rejected.push(create(pb.DataImportRejectionSchema, { index, message: err.message }));
        }
      });
      return { tenantId: s.tenantId, tuples, attributes, items: r.items.length, rejected };
    };

    try {
      for (;;) {
        // Answer the oldest batch as soon as it commits, also while the client is still sending: a client
        // that waits for answers before sending more must not wait forever.
        if (pending.length > 0 && (nextRequest === undefined || pending.length >= importConcurrency)) {
          const b = pending.shift() as PendingBatch;
          yield answer(b, await b.commit);
          continue;
        }
        if (nextRequest === undefined) return;
        if (pending.length > 0) {
          const head = pending[0] as PendingBatch;
          const first = await Promise.race([head.commit.then(() => 'batch' as const), nextRequest.then(() => 'request' as const)]);
          if (first === 'batch') {
            pending.shift();
            yield answer(head, await head.commit);
            continue;
          }
        }
        let batch: ImportMessage | undefined;
        try {
          batch = await readBatch();
        } catch (e) {
          // A bad message, or the client's stream failing: the batches before it are answered first (in
          // order, as far as they commit), so the client's resume position is as far as it can be.
          while (pending.length > 0) {
            const b = pending.shift() as PendingBatch;
            yield answer(b, await b.commit);
          }
          throw e;
        }
        if (batch === undefined) continue;
        const { tuples, attributes, rejected } = batch;
        const tenantId = batch.tenantId;
        let commit: Promise<string | undefined>;
        if (tuples.length + attributes.length === 0) commit = Promise.resolve(undefined);
        else {
          // Batches reach the store in stream order (it numbers their rows in the order of its calls, so an
          // export lists them as imported): each after the one before it was handed over, and one carrying
          // attributes also after the previous such batch committed (the later value must win).
          const gate = attributes.length === 0 ? handedOver : Promise.all([handedOver, lastAttributes]);
          commit = gate.then(() => env.store.bulk.importBatch(tenantId, { tuples, attributes }, ctx.signal));
          handedOver = gate;
          if (attributes.length > 0) lastAttributes = commit.catch(() => undefined);
        }
        // Awaited in order above; until then a failure must not count as unhandled.
        commit.catch(() => undefined);
        pending.push({ commit, items: batch.items, rejected });
      }
    } finally {
      // A stream left before its end (failure, cancellation) stops reading the client's messages.
      if (nextRequest !== undefined) it.return?.().catch(() => undefined);
      // The stream ends (done, failed or cancelled): batches still in flight settle before it does, so no
      // store work outlives the call. Their outcome is not reported; a resumed import re-sends them.
      await Promise.allSettled(pending.map((b) => b.commit));
    }
  }

  /** Item errors keep their message (it names the item); nothing but PermifyError escapes. */
  function guarded<A extends unknown[], T>(fn: (...args: A) => AsyncGenerator<T>): (...args: A) => AsyncIterable<T> {
    return async function* (...args: A) {
      try {
        yield* fn(...args);
      } catch (e) {
        throw toPermifyError(e);
      }
    };
  }

  return { Export: guarded(exportStream), Import: guarded(importStream) };
}
