import { describe, expect, it } from 'vitest';
import { GrpcStatus, PermifyError, errorCodeNumbers, grpcStatusOf, toPermifyError } from './errors.js';

describe('error table', () => {
  it('maps codes by numeric range', () => {
    expect(grpcStatusOf('ERROR_CODE_DEPTH_NOT_ENOUGH')).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(grpcStatusOf('ERROR_CODE_SCHEMA_NOT_FOUND')).toBe(GrpcStatus.NOT_FOUND);
    expect(grpcStatusOf('ERROR_CODE_MISSING_BEARER_TOKEN')).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(grpcStatusOf('ERROR_CODE_DATASTORE')).toBe(GrpcStatus.INTERNAL);
    expect(grpcStatusOf('ERROR_CODE_CANCELLED')).toBe(GrpcStatus.CANCELLED);
    expect(grpcStatusOf('ERROR_CODE_NOT_IMPLEMENTED')).toBe(GrpcStatus.UNIMPLEMENTED);
    expect(grpcStatusOf('ERROR_CODE_SERIALIZATION')).toBe(GrpcStatus.ABORTED);
    expect(grpcStatusOf('RATE_LIMITED')).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
  });

  it('gives every code an HTTP status', () => {
    for (const code of Object.keys(errorCodeNumbers) as (keyof typeof errorCodeNumbers)[]) {
      const e = new PermifyError(code);
      expect(e.message).toBe(code);
      expect([400, 401, 404, 409, 499, 500, 501]).toContain(e.httpStatus);
    }
  });

  it('normalises foreign errors without leaking them', () => {
    const e = toPermifyError(new Error('SELECT * FROM secret'));
    expect(e.code).toBe('ERROR_CODE_INTERNAL');
    expect(e.message).toBe('ERROR_CODE_INTERNAL');
    expect(toPermifyError(new DOMException('x', 'AbortError')).code).toBe('ERROR_CODE_CANCELLED');
  });
});
