/**
 * Helpers shared by both stores' bulk import and export (see `BulkStore` in contract.ts).
 *
 * Export cursor: which table comes next (`t` tuples, then `a` attributes) and the last row id delivered in
 * it, e.g. `t:1042` or `a:0`. Row ids are insertion ids, stable under garbage collection, so a cursor stays
 * valid while its snap token does.
 */
import { PermifyError } from '../errors.js';
import type { Attribute } from '../data/types.js';

export interface ExportPosition {
  readonly table: 'tuples' | 'attributes';
  /** Last row id delivered in `table` (0 = none yet). */
  readonly afterId: number;
}

export function encodeExportCursor(p: ExportPosition): string {
  return `${p.table === 'tuples' ? 't' : 'a'}:${p.afterId}`;
}

/** "" = the start. @throws PermifyError ERROR_CODE_INVALID_CONTINUOUS_TOKEN */
export function decodeExportCursor(cursor: string): ExportPosition {
  if (cursor === '') return { table: 'tuples', afterId: 0 };
  const m = /^([ta]):(0|[1-9][0-9]{0,15})$/.exec(cursor);
  const id = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(id)) {
    throw new PermifyError('ERROR_CODE_INVALID_CONTINUOUS_TOKEN', 'invalid export cursor');
  }
  return { table: m[1] === 't' ? 'tuples' : 'attributes', afterId: id };
}

/** Validates an export page size (a positive safe integer). */
export function checkExportPageSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new PermifyError('ERROR_CODE_VALIDATION', 'export page size must be at least 1', {
      details: { limit: 'page_size' },
    });
  }
}

/**
 * The attributes of an import batch with only the last write of each (entity, attribute) kept, in the
 * order of those last writes: a batch applies like its items one after another.
 */
export function lastAttributeWins(attributes: readonly Attribute[]): Attribute[] {
  const last = new Map<string, number>();
  attributes.forEach((a, i) => last.set(`${a.entity.type}\u0000${a.entity.id}\u0000${a.attribute}`, i));
  if (last.size === attributes.length) return [...attributes];
  return attributes.filter((a, i) => last.get(`${a.entity.type}\u0000${a.entity.id}\u0000${a.attribute}`) === i);
}
