/**
 * Bulk import and export of the PostgreSQL store.
 *
 * Import: one MVCC write transaction per batch (the same `transactions` row, xid and snapshot as
 * `DataWriter.write`, so snap tokens and Watch treat a batch like any write). The batch is streamed with
 * `COPY ... FROM STDIN` into session temp tables (created once per connection, emptied on commit) and merged
 * with set-based statements: tuples `INSERT ... SELECT ... ON CONFLICT DO NOTHING` (a live duplicate is a
 * no-op), attributes expire the live value of each key, then insert. No per-item parameters or round trips.
 *
 * Export: keyset pages over the reader's snapshot reads (`id > last ORDER BY id`, the primary key), tuples
 * first, then attributes; the cursor is the table plus the reader's continuation token.
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { PermifyError } from '../../errors.js';
import type { Tuple } from '../../data/types.js';
import { checkExportPageSize, lastAttributeWins } from '../bulk-common.js';
import type { Attribute } from '../../data/types.js';
import type { BulkStore, DataReader, ExportPage, ImportBatch } from '../contract.js';
import { liveSentinel, query, toStoreError, type Database } from './database.js';
import { mvccWrite } from './data-writer.js';
import { checkSteps } from './validate.js';
import { encodeAttributeValue, normaliseRelation } from './values.js';

const live = `'${liveSentinel}'::xid8`;

const sqlStaging =
  'CREATE TEMP TABLE IF NOT EXISTS permify_bulk_tuples (ord int, et text, ei text, r text, st text, si text, sr text) ON COMMIT DELETE ROWS;' +
  ' CREATE TEMP TABLE IF NOT EXISTS permify_bulk_attributes (ord int, et text, ei text, a text, v text) ON COMMIT DELETE ROWS';

const sqlMergeTuples =
  'INSERT INTO relation_tuples (tenant_id, entity_type, entity_id, relation, subject_type, subject_id, subject_relation)' +
  ' SELECT $1, et, ei, r, st, si, sr FROM permify_bulk_tuples ORDER BY ord' +
  ' ON CONFLICT ON CONSTRAINT uq_relation_tuple_not_expired DO NOTHING';

const sqlExpireAttributes =
  `UPDATE attributes SET expired_tx_id = $2::xid8 WHERE tenant_id = $1 AND expired_tx_id = ${live}` +
  ' AND (entity_type, entity_id, attribute) IN (SELECT et, ei, a FROM permify_bulk_attributes)';

const sqlMergeAttributes =
  'INSERT INTO attributes (tenant_id, entity_type, entity_id, attribute, value)' +
  ' SELECT $1, et, ei, a, v::jsonb FROM permify_bulk_attributes ORDER BY ord';

/** Connections whose temp tables exist (a discarded connection takes its entry with it). */
const staged = new WeakSet<pg.PoolClient>();

/** A value in COPY's text format: backslash, tab, newline and carriage return escaped. */
function copyText(v: string): string {
  return /[\\\t\n\r]/.test(v)
    ? v.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'))
    : v;
}

function tupleRows(tuples: readonly Tuple[]): string {
  let out = '';
  for (let i = 0; i < tuples.length; i += 1) {
    const t = tuples[i] as Tuple;
    out +=
      `${i}\t${copyText(t.entity.type)}\t${copyText(t.entity.id)}\t${copyText(t.relation)}\t` +
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

async function importInto(
  db: Database,
  tenantId: string,
  batch: ImportBatch,
  signal: AbortSignal | undefined,
): Promise<string> {
  const attributes = lastAttributeWins(batch.attributes);
  return mvccWrite(db, tenantId, signal, async (c, x) => {
    if (!staged.has(c)) {
      await c.query(sqlStaging);
      staged.add(c);
    }
    if (batch.tuples.length > 0) {
      await copyInto(c, 'permify_bulk_tuples', tupleRows(batch.tuples), signal);
      await query(c, sqlMergeTuples, [tenantId], signal);
    }
    if (attributes.length > 0) {
      await copyInto(c, 'permify_bulk_attributes', attributeRows(attributes), signal);
      await query(c, sqlExpireAttributes, [tenantId, x], signal);
      await query(c, sqlMergeAttributes, [tenantId], signal);
    }
  });
}

/** Export cursor: `t.<reader token>` / `a.<reader token>`; "" = start. */
function decodeCursor(cursor: string): { table: 'tuples' | 'attributes'; token: string } {
  if (cursor === '') return { table: 'tuples', token: '' };
  const m = /^([ta])\.(.*)$/s.exec(cursor);
  if (!m) throw new PermifyError('ERROR_CODE_INVALID_CONTINUOUS_TOKEN', 'invalid export cursor');
  return { table: m[1] === 't' ? 'tuples' : 'attributes', token: m[2] as string };
}

export function createPostgresBulkStore(db: Database, reader: DataReader): BulkStore {
  return {
    async importBatch(tenantId, batch, signal) {
      checkSteps([{ writeTuples: batch.tuples, writeAttributes: batch.attributes }]);
      return importInto(db, tenantId, batch, signal);
    },

    async exportPage(tenantId, snapToken, cursor, size, signal): Promise<ExportPage> {
      checkExportPageSize(size);
      const position = decodeCursor(cursor);
      let tuples: readonly Tuple[] = [];
      let attributeToken = position.token;
      if (position.table === 'tuples') {
        const page = await reader.readRelationships(tenantId, {}, snapToken, { size, token: position.token }, signal);
        tuples = page.items;
        if (page.continuousToken !== '') return { tuples, attributes: [], cursor: `t.${page.continuousToken}` };
        attributeToken = '';
        if (tuples.length === size) return { tuples, attributes: [], cursor: 'a.' };
      }
      const page = await reader.readAttributes(
        tenantId,
        {},
        snapToken,
        { size: size - tuples.length, token: attributeToken },
        signal,
      );
      return {
        tuples,
        attributes: page.items,
        cursor: page.continuousToken === '' ? '' : `a.${page.continuousToken}`,
      };
    },
  };
}
