/**
 * The MVCC write path (api-and-operations.md §11.3). One call = one SERIALIZABLE transaction on the writer
 * pool: a `transactions` row records X (this transaction's xid8) and its snapshot S; every change is a
 * set-based statement over `unnest(...)` arrays (never one round trip per tuple); deletes are logical
 * (`expired_tx_id = X`), except that rows created by X itself and then deleted by X are removed physically
 * (so a write-delete-write-delete sequence inside one transaction cannot collide on `uq_relation_tuple`, and
 * Watch sees only the net effect). Conflicts are retried by {@link serializableWrite}.
 */
import type pg from 'pg';
import type { Attribute, Entity, Tuple } from '../../data/types.js';
import type { AttributeFilter, DataWriter, SnapToken, TupleFilter, WriteStep } from '../contract.js';
import { liveSentinel, query, serializableWrite, type Database } from './database.js';
import { attributeFilterConditions, Params, tupleFilterConditions } from './data-reader.js';
import { parsePgSnapshot, writeToken } from './snap-token.js';
import { checkSteps } from './validate.js';
import { encodeAttributeValue, normaliseRelation } from './values.js';

const live = `'${liveSentinel}'::xid8`;
const tupleKey = '(entity_type, entity_id, relation, subject_type, subject_id, subject_relation)';

function tupleArrays(tuples: readonly Tuple[]): string[][] {
  const cols: string[][] = [[], [], [], [], [], []];
  for (const t of tuples) {
    cols[0]!.push(t.entity.type);
    cols[1]!.push(t.entity.id);
    cols[2]!.push(t.relation);
    cols[3]!.push(t.subject.type);
    cols[4]!.push(t.subject.id);
    cols[5]!.push(normaliseRelation(t.subject.relation));
  }
  return cols;
}

const unnestTuples =
  'unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS u(et, ei, r, st, si, sr, ord)';

const sqlInsertTuples =
  `INSERT INTO relation_tuples (tenant_id, entity_type, entity_id, relation, subject_type, subject_id, subject_relation)` +
  ` SELECT $1, u.et, u.ei, u.r, u.st, u.si, u.sr FROM ${unnestTuples} ORDER BY u.ord` +
  ` ON CONFLICT ON CONSTRAINT uq_relation_tuple_not_expired DO NOTHING`;

const sqlRemoveOwnTuples =
  `DELETE FROM relation_tuples WHERE tenant_id = $1 AND created_tx_id = $8::xid8 AND expired_tx_id = ${live}` +
  ` AND ${tupleKey} IN (SELECT u.et, u.ei, u.r, u.st, u.si, u.sr FROM ${unnestTuples})`;

const sqlExpireTuples =
  `UPDATE relation_tuples SET expired_tx_id = $8::xid8 WHERE tenant_id = $1 AND expired_tx_id = ${live}` +
  ` AND ${tupleKey} IN (SELECT u.et, u.ei, u.r, u.st, u.si, u.sr FROM ${unnestTuples})`;

const unnestAttrKeys = 'unnest($2::text[], $3::text[], $4::text[]) AS u(et, ei, a)';

const sqlRemoveOwnAttributes =
  `DELETE FROM attributes WHERE tenant_id = $1 AND created_tx_id = $5::xid8 AND expired_tx_id = ${live}` +
  ` AND (entity_type, entity_id, attribute) IN (SELECT u.et, u.ei, u.a FROM ${unnestAttrKeys})`;

const sqlExpireAttributes =
  `UPDATE attributes SET expired_tx_id = $5::xid8 WHERE tenant_id = $1 AND expired_tx_id = ${live}` +
  ` AND (entity_type, entity_id, attribute) IN (SELECT u.et, u.ei, u.a FROM ${unnestAttrKeys})`;

const sqlInsertAttributes =
  `INSERT INTO attributes (tenant_id, entity_type, entity_id, attribute, value)` +
  ` SELECT $1, u.et, u.ei, u.a, u.v::jsonb FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS u(et, ei, a, v, ord) ORDER BY u.ord`;

/** Last write of the same (entity, attribute) wins, at the position of its last occurrence. */
function dedupeAttributes(attributes: readonly Attribute[]): Attribute[] {
  const last = new Map<string, number>();
  attributes.forEach((a, i) => last.set(`${a.entity.type}\u0000${a.entity.id}\u0000${a.attribute}`, i));
  return attributes.filter((a, i) => last.get(`${a.entity.type}\u0000${a.entity.id}\u0000${a.attribute}`) === i);
}

function attributeKeyArrays(keys: readonly { entity: Entity; attribute: string }[]): string[][] {
  return [keys.map((k) => k.entity.type), keys.map((k) => k.entity.id), keys.map((k) => k.attribute)];
}

async function expireTuplesExactly(
  c: pg.PoolClient,
  tenantId: string,
  x: string,
  tuples: readonly Tuple[],
  signal?: AbortSignal,
) {
  const values = [tenantId, ...tupleArrays(tuples), x];
  await query(c, sqlRemoveOwnTuples, values, signal);
  await query(c, sqlExpireTuples, values, signal);
}

async function expireAttributeKeys(
  c: pg.PoolClient,
  tenantId: string,
  x: string,
  keys: readonly { entity: Entity; attribute: string }[],
  signal?: AbortSignal,
) {
  const values = [tenantId, ...attributeKeyArrays(keys), x];
  await query(c, sqlRemoveOwnAttributes, values, signal);
  await query(c, sqlExpireAttributes, values, signal);
}

async function expireByFilter(
  c: pg.PoolClient,
  table: 'relation_tuples' | 'attributes',
  conditions: (p: Params) => string[],
  tenantId: string,
  x: string,
  signal?: AbortSignal,
) {
  const p = new Params();
  const t = p.add(tenantId);
  const xs = p.add(x);
  const cond = conditions(p);
  if (cond.length === 0) return; // a filter without any criterion deletes nothing
  const where = `tenant_id = ${t} AND expired_tx_id = ${live} AND ${cond.join(' AND ')}`;
  await query(c, `DELETE FROM ${table} WHERE created_tx_id = ${xs}::xid8 AND ${where}`, p.values, signal);
  await query(c, `UPDATE ${table} SET expired_tx_id = ${xs}::xid8 WHERE ${where}`, p.values, signal);
}

/** Applies steps inside an open transaction whose id is `x` (shared with bundle runs). */
export async function applySteps(
  c: pg.PoolClient,
  tenantId: string,
  x: string,
  steps: readonly WriteStep[],
  signal?: AbortSignal,
): Promise<void> {
  for (const step of steps) {
    if (step.writeTuples && step.writeTuples.length > 0) {
      await query(c, sqlInsertTuples, [tenantId, ...tupleArrays(step.writeTuples)], signal);
    }
    if (step.writeAttributes && step.writeAttributes.length > 0) {
      const attrs = dedupeAttributes(step.writeAttributes);
      await expireAttributeKeys(c, tenantId, x, attrs, signal);
      await query(
        c,
        sqlInsertAttributes,
        [tenantId, ...attributeKeyArrays(attrs), attrs.map((a) => encodeAttributeValue(a.value))],
        signal,
      );
    }
    if (step.deleteTuples && step.deleteTuples.length > 0) {
      await expireTuplesExactly(c, tenantId, x, step.deleteTuples, signal);
    }
    if (step.deleteAttributes && step.deleteAttributes.length > 0) {
      await expireAttributeKeys(c, tenantId, x, step.deleteAttributes, signal);
    }
    for (const f of step.deleteTupleFilters ?? []) {
      await expireByFilter(
        c,
        'relation_tuples',
        (p) => tupleFilterConditions(f as TupleFilter, p),
        tenantId,
        x,
        signal,
      );
    }
    for (const f of step.deleteAttributeFilters ?? []) {
      await expireByFilter(
        c,
        'attributes',
        (p) => attributeFilterConditions(f as AttributeFilter, p),
        tenantId,
        x,
        signal,
      );
    }
  }
}

/**
 * Opens the MVCC transaction (records X and S), runs `body`, and returns the write token. Used by data
 * writes and bundle runs.
 */
export function mvccWrite(
  db: Database,
  tenantId: string,
  signal: AbortSignal | undefined,
  body: (c: pg.PoolClient, x: string) => Promise<void>,
): Promise<SnapToken> {
  return serializableWrite(db, signal, async (c) => {
    const r = await query<{ id: string; snapshot: string }>(
      c,
      'INSERT INTO transactions (tenant_id) VALUES ($1) RETURNING id::text AS id, snapshot::text AS snapshot',
      [tenantId],
      signal,
    );
    const row = r.rows[0];
    if (!row) throw new Error('transactions insert returned no row');
    await body(c, row.id);
    return writeToken(BigInt(row.id), parsePgSnapshot(row.snapshot));
  });
}

export function createPostgresDataWriter(db: Database): DataWriter {
  return {
    async write(tenantId, steps, signal) {
      checkSteps(steps);
      return await mvccWrite(db, tenantId, signal, (c, x) => applySteps(c, tenantId, x, steps, signal));
    },
  };
}
