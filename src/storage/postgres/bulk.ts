/**
 * Bulk import and export of the PostgreSQL store.
 *
 * Import: one MVCC write transaction per batch (the same `transactions` row, xid and snapshot as
 * `DataWriter.write`, so snap tokens and Watch treat a batch like any write). The batch is streamed with
 * `COPY ... FROM STDIN` into session temp tables (created once per connection, emptied on commit) and merged
 * with set-based statements: tuples `INSERT ... SELECT ... ON CONFLICT DO NOTHING` (a live duplicate is a
 * no-op), attributes expire the live value of each key, then insert. No per-item parameters or round trips.
 *
 * Export: one dedicated statement per page, `COPY (SELECT ... WHERE tenant_id = T AND id > last AND <visible at
 * the snap token> ORDER BY id LIMIT size + 1) TO STDOUT`: keyset pagination on the primary key (the order rows
 * were inserted in), tuples first, then attributes. COPY's text rows are parsed by scanning for tabs, which
 * costs a fraction of the per-row protocol decoding of an ordinary result. COPY takes no bind parameters, so
 * the few values are inlined: the tenant id quoted by the driver, the snapshot and ids as validated digits.
 * The cursor is the shared `t:<id>` / `a:<id>` position (bulk-common.ts).
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { throwIfAborted } from '../../errors.js';
import type { Attribute, Tuple } from '../../data/types.js';
import {
  checkExportPageSize,
  decodeExportCursor,
  encodeExportCursor,
  lastAttributeWins,
  type ExportPosition,
} from '../bulk-common.js';
import type { BulkStore, DataReader, ExportPage, ImportBatch } from '../contract.js';
import { connect, liveSentinel, mustDiscard, query, toStoreError, type Database } from './database.js';
import { mvccWrite } from './data-writer.js';
import { decodeToken, formatPgSnapshot } from './snap-token.js';
import { checkSteps } from './validate.js';
import { decodeAttributeValue, encodeAttributeValue, normaliseRelation } from './values.js';

const live = `'${liveSentinel}'::xid8`;

const sqlStaging =
  'CREATE TEMP TABLE IF NOT EXISTS permify_bulk_tuples (ord int, id bigint, et text, ei text, r text, st text, si text, sr text) ON COMMIT DELETE ROWS;' +
  ' CREATE TEMP TABLE IF NOT EXISTS permify_bulk_attributes (ord int, et text, ei text, a text, v text) ON COMMIT DELETE ROWS';

const sqlMergeTuples =
  'INSERT INTO relation_tuples (id, tenant_id, entity_type, entity_id, relation, subject_type, subject_id, subject_relation)' +
  ' SELECT id, $1, et, ei, r, st, si, sr FROM permify_bulk_tuples ORDER BY ord' +
  ' ON CONFLICT ON CONSTRAINT uq_relation_tuple_not_expired DO NOTHING';

/**
 * `$1` new ids of relation_tuples, ascending (one array text). Ids of a duplicate that ON CONFLICT skips are
 * left unused, as nextval in the INSERT would leave them.
 */
const sqlReserveTupleIds =
  "SELECT array_agg(v ORDER BY v)::text AS ids FROM (SELECT nextval(pg_get_serial_sequence('relation_tuples', 'id')) AS v" +
  ' FROM generate_series(1, $1)) s';

const sqlExpireAttributes =
  `UPDATE attributes SET expired_tx_id = $2::xid8 WHERE tenant_id = $1 AND expired_tx_id = ${live}` +
  ' AND (entity_type, entity_id, attribute) IN (SELECT et, ei, a FROM permify_bulk_attributes)';

const sqlMergeAttributes =
  'INSERT INTO attributes (tenant_id, entity_type, entity_id, attribute, value)' +
  ' SELECT $1, et, ei, a, v::jsonb FROM permify_bulk_attributes ORDER BY ord';


/** A value in COPY's text format: backslash, tab, newline and carriage return escaped. */
function copyText(v: string): string {
  return /[\\\t\n\r]/.test(v)
    ? v.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'))
    : v;
}

function tupleRows(tuples: readonly Tuple[], ids: readonly string[]): string {
  let out = '';
  for (let i = 0; i < tuples.length; i += 1) {
    const t = tuples[i] as Tuple;
    out +=
      `${i}\t${ids[i] as string}\t${copyText(t.entity.type)}\t${copyText(t.entity.id)}\t${copyText(t.relation)}\t` +
      `${copyText(t.subject.type)}\t${copyText(t.subject.id)}\t${copyText(normaliseRelation(t.subject.relation))}\n`;
  }
  return out;
}

function attributeRows(attributes: readonly Attribute[]): string {
  let out = '';
  for (let i = 0; i < attributes.length; i += 1) {
    const a = attributes[i] as Attribute;
    out += `${i}\t${copyText(a.entity.type)}\t${copyText(a.entity.id)}\t${copyText(a.attribute)}\t${copyText(encodeAttributeValue(a.value))}\n`;
  }
  return out;
}

/** Streams `rows` into `table` with COPY; an abort sends CopyFail (the transaction then rolls back). */
async function copyInto(c: pg.PoolClient, table: string, rows: string, signal?: AbortSignal): Promise<void> {
  const sink = c.query(copyFrom(`COPY ${table} FROM STDIN`));
  try {
    await pipeline(Readable.from([Buffer.from(rows, 'utf8')]), sink, signal ? { signal } : {});
  } catch (e) {
    throw toStoreError(e, signal);
  }
}

/** Reserves `n` tuple ids (see {@link sqlReserveTupleIds}); the same ids serve every retry of the batch. */
async function reserveTupleIds(db: Database, n: number, signal: AbortSignal | undefined): Promise<string[]> {
  const r = await query<{ ids: string }>(db.writer, sqlReserveTupleIds, [n], signal);
  const ids = (r.rows[0]?.ids ?? '{}').slice(1, -1).split(',');
  if (ids.length !== n || !ids.every((id) => /^\d+$/.test(id))) throw new Error('unexpected reserved ids');
  return ids;
}

async function importInto(
  db: Database,
  tenantId: string,
  batch: ImportBatch,
  tupleIds: Promise<string[]>,
  signal: AbortSignal | undefined,
): Promise<string> {
  const attributes = lastAttributeWins(batch.attributes);
  const ids = await tupleIds;
  return mvccWrite(db, tenantId, signal, async (c, x) => {
    // Every attempt makes sure of the staging tables inside its own transaction: created by an attempt that
    // then rolled back (a serialization failure, retried), they are gone again, on a connection that goes back
    // to the pool as healthy. When they exist this costs a catalog lookup.
    await c.query(sqlStaging);
    if (batch.tuples.length > 0) {
      await copyInto(c, 'permify_bulk_tuples', tupleRows(batch.tuples, ids), signal);
      await query(c, sqlMergeTuples, [tenantId], signal);
    }
    if (attributes.length > 0) {
      await copyInto(c, 'permify_bulk_attributes', attributeRows(attributes), signal);
      await query(c, sqlExpireAttributes, [tenantId, x], signal);
      await query(c, sqlMergeAttributes, [tenantId], signal);
    }
  });
}

/** The transaction id and snapshot a snap token reads at, as SQL literals' text (digits, colons, commas). */
async function resolveToken(
  db: Database,
  token: string,
  signal: AbortSignal | undefined,
): Promise<{ xid: string; snapshot: string }> {
  const decoded = decodeToken(token);
  if (decoded.snapshot) return { xid: decoded.xid.toString(), snapshot: formatPgSnapshot(decoded.snapshot) };
  if (decoded.xid === 0n) return { xid: '0', snapshot: '1:1:' };
  // A legacy (transaction id only) token: its snapshot is recorded with the transaction; a collected one
  // means everything up to and including it is visible (as the reader treats it).
  const r = await query<{ snapshot: string }>(
    db.reader,
    'SELECT snapshot::text AS snapshot FROM transactions WHERE id = $1::xid8',
    [decoded.xid.toString()],
    signal,
  );
  return { xid: decoded.xid.toString(), snapshot: r.rows[0]?.snapshot ?? `${decoded.xid + 1n}:${decoded.xid + 1n}:` };
}

/** The rows visible at a resolved snap token (the same rule as the reader's). */
function visibleAt(t: { xid: string; snapshot: string }): string {
  if (!/^\d+$/.test(t.xid) || !/^\d+:\d+:[\d,]*$/.test(t.snapshot)) throw new Error('unexpected snapshot text');
  const s = `'${t.snapshot}'::pg_snapshot`;
  const x = `'${t.xid}'::xid8`;
  return (
    `(pg_visible_in_snapshot(created_tx_id, ${s}) OR created_tx_id = ${x})` +
    ` AND (expired_tx_id = ${live} OR NOT pg_visible_in_snapshot(expired_tx_id, ${s})) AND expired_tx_id <> ${x}`
  );
}

const copyEscapes: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** A field of COPY's text output: PostgreSQL escapes backslash and the control characters as `\x` pairs. */
function uncopy(v: string): string {
  return v.indexOf('\\') < 0 ? v : v.replace(/\\(.)/gs, (_, c: string) => copyEscapes[c] ?? c);
}

/**
 * Runs `COPY (<select>) TO STDOUT` on a reader connection and hands each complete chunk of rows (text without
 * the final newline) to `onRows`. Rows are split on newline bytes, which never occur inside a UTF-8 sequence,
 * so a multi-byte character split across network chunks is decoded whole. An abort destroys the stream and
 * discards the connection (it is mid-COPY).
 *
 * Sorting is disabled for the statement (SET LOCAL in a read-only transaction), which leaves the primary key
 * scan as the only plan for `ORDER BY id`: right after a large import the table has no statistics yet and the
 * planner would take the tenant index and sort every remaining row of the tenant for each page (quadratic in
 * the export). A primary-key scan costs at most the rows from the cursor to the page's end, so a whole
 * export reads the table at most once.
 */
async function copyOut(
  db: Database,
  select: string,
  signal: AbortSignal | undefined,
  onRows: (text: string) => void,
): Promise<void> {
  const c = await connect(db.reader, signal);
  let broken = false;
  try {
    await c.query('BEGIN READ ONLY; SET LOCAL enable_sort = off');
  } catch (e) {
    c.release(true);
    throw toStoreError(e, signal);
  }
  const stream = c.query(copyTo(`COPY (${select}) TO STDOUT`));
  const onAbort = (): void => {
    stream.destroy(new DOMException('aborted', 'AbortError'));
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    let rest: Buffer | undefined;
    for await (const data of stream as AsyncIterable<Buffer>) {
      const chunk = rest === undefined ? data : Buffer.concat([rest, data]);
      const end = chunk.lastIndexOf(10);
      if (end < 0) {
        rest = chunk;
        continue;
      }
      onRows(chunk.toString('utf8', 0, end));
      rest = end + 1 < chunk.length ? chunk.subarray(end + 1) : undefined;
    }
    throwIfAborted(signal);
    if (rest !== undefined && rest.length > 0) throw new Error('COPY output ended inside a row');
    await c.query('COMMIT');
  } catch (e) {
    broken = true;
    throw toStoreError(e, signal);
  } finally {
    // pg arms a query_timeout timer per query and clears it in the query's callback, which pg-copy-streams'
    // COPY TO never calls: without this each page left a timer holding the process for statement_timeout.
    (stream as unknown as { callback?: () => void }).callback?.();
    signal?.removeEventListener('abort', onAbort);
    c.release(broken || mustDiscard(c) ? true : undefined);
  }
}

/**
 * Reads the fields of text rows `id\tf1\t...\tfN` by scanning for separators (a split per row costs several
 * times more), calling `row(id, fields)` with a reused array.
 */
export function scanRows(text: string, columns: number, row: (id: number, f: readonly string[]) => void): void {
  const f: string[] = new Array<string>(columns);
  let p = 0;
  const n = text.length;
  while (p < n) {
    let q = text.indexOf('\t', p);
    const id = Number(text.slice(p, q));
    for (let i = 0; i < columns; i += 1) {
      p = q + 1;
      q = i === columns - 1 ? text.indexOf('\n', p) : text.indexOf('\t', p);
      if (q < 0) q = n;
      f[i] = uncopy(text.slice(p, q));
    }
    p = q + 1;
    row(id, f);
  }
}

/** `id > after` rows of one table visible at the token, in id order, at most `limit`. */
async function selectTuples(
  db: Database,
  tenant: string,
  vis: string,
  afterId: number,
  limit: number,
  signal: AbortSignal | undefined,
): Promise<{ items: Tuple[]; ids: number[] }> {
  const items: Tuple[] = [];
  const ids: number[] = [];
  const select =
    'SELECT id, entity_type, entity_id, relation, subject_type, subject_id, subject_relation FROM relation_tuples' +
    ` WHERE tenant_id = ${tenant} AND id > ${afterId} AND ${vis} ORDER BY id LIMIT ${limit}`;
  await copyOut(db, select, signal, (text) =>
    scanRows(text, 6, (id, f) => {
      ids.push(id);
      items.push({
        entity: { type: f[0] as string, id: f[1] as string },
        relation: f[2] as string,
        subject: { type: f[3] as string, id: f[4] as string, relation: f[5] as string },
      });
    }),
  );
  return { items, ids };
}

async function selectAttributes(
  db: Database,
  tenant: string,
  vis: string,
  afterId: number,
  limit: number,
  signal: AbortSignal | undefined,
): Promise<{ items: Attribute[]; ids: number[] }> {
  const items: Attribute[] = [];
  const ids: number[] = [];
  const select =
    'SELECT id, entity_type, entity_id, attribute, value::text FROM attributes' +
    ` WHERE tenant_id = ${tenant} AND id > ${afterId} AND ${vis} ORDER BY id LIMIT ${limit}`;
  await copyOut(db, select, signal, (text) =>
    scanRows(text, 4, (id, f) => {
      ids.push(id);
      items.push({
        entity: { type: f[0] as string, id: f[1] as string },
        attribute: f[2] as string,
        value: decodeAttributeValue(JSON.parse(f[3] as string)),
      });
    }),
  );
  return { items, ids };
}

/** A SQL string literal (standard_conforming_strings: quotes doubled; a backslash is an ordinary character). */
function literal(v: string): string {
  // eslint-disable-next-line no-control-regex
  if (/\u0000/.test(v)) throw new Error('NUL in a tenant id');
  return `'${v.replace(/'/g, "''")}'`;
}

async function exportFrom(
  db: Database,
  tenantId: string,
  snapToken: string,
  position: ExportPosition,
  size: number,
  signal: AbortSignal | undefined,
): Promise<ExportPage> {
  const vis = visibleAt(await resolveToken(db, snapToken, signal));
  const tenant = literal(tenantId);
  let tuples: Tuple[] = [];
  let afterAttribute = position.afterId;
  if (position.table === 'tuples') {
    // One row past the page says whether the table goes on.
    const t = await selectTuples(db, tenant, vis, position.afterId, size + 1, signal);
    if (t.items.length > size) {
      t.items.length = size;
      return {
        tuples: t.items,
        attributes: [],
        cursor: encodeExportCursor({ table: 'tuples', afterId: t.ids[size - 1] as number }),
      };
    }
    tuples = t.items;
    afterAttribute = 0;
  }
  const room = size - tuples.length;
  const a = await selectAttributes(db, tenant, vis, afterAttribute, room + 1, signal);
  if (a.items.length > room) {
    a.items.length = room;
    const last = room > 0 ? (a.ids[room - 1] as number) : afterAttribute;
    return { tuples, attributes: a.items, cursor: encodeExportCursor({ table: 'attributes', afterId: last }) };
  }
  return { tuples, attributes: a.items, cursor: '' };
}

export function createPostgresBulkStore(db: Database, _reader: DataReader): BulkStore {
  /**
   * Tuple ids are reserved per batch, one reservation after the other in the order of the calls, before the
   * batch's transaction: batches applied at once (`service.data.import_concurrency`) then still number their
   * rows in call order rather than interleaving them, so an export lists the data in the order it was imported.
   */
  let reserved: Promise<unknown> = Promise.resolve();
  return {
    async importBatch(tenantId, batch, signal) {
      checkSteps([{ writeTuples: batch.tuples, writeAttributes: batch.attributes }]);
      const n = batch.tuples.length;
      // A batch without tuples reserves nothing and leaves the chain as it is (resetting it would let the
      // next batch reserve alongside the one before).
      if (n === 0) return importInto(db, tenantId, batch, Promise.resolve([]), signal);
      const ids = reserved.then(() => reserveTupleIds(db, n, signal));
      reserved = ids.catch(() => undefined);
      return importInto(db, tenantId, batch, ids, signal);
    },

    async exportPage(tenantId, snapToken, cursor, size, signal): Promise<ExportPage> {
      checkExportPageSize(size);
      return exportFrom(db, tenantId, snapToken, decodeExportCursor(cursor), size, signal);
    },
  };
}
