/** ErrorInfo echoes request values; they are capped so the gRPC details trailer fits the HTTP/2 header-list limit. */
import { describe, expect, it } from 'vitest';
import { MAX_ERROR_INFO_VALUE_CHARS, PermifyError, errorInfoOf } from '../../src/errors.js';

describe('ErrorInfo value cap', () => {
  it('an 80 KB schema version is cut to the cap with a marker; total details stay small', () => {
    const err = new PermifyError('ERROR_CODE_SCHEMA_NOT_FOUND', undefined, {
      details: { tenantId: 't'.repeat(300), schemaVersion: 'v'.repeat(80_000) },
    });
    const info = errorInfoOf(err)!;
    expect(info.metadata.schema_version).toBe('v'.repeat(MAX_ERROR_INFO_VALUE_CHARS) + '…');
    expect(info.metadata.tenant_id!.length).toBe(MAX_ERROR_INFO_VALUE_CHARS + 1);
    expect(JSON.stringify(info).length).toBeLessThan(2048);
  });
  it('short values are unchanged', () => {
    const info = errorInfoOf(
      new PermifyError('ERROR_CODE_SCHEMA_NOT_FOUND', undefined, { details: { tenantId: 't1' } }),
    );
    expect(info!.metadata.tenant_id).toBe('t1');
  });
});
