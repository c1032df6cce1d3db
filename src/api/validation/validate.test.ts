import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { PermifyError } from '../../errors.js';
import {
  ContextSchema,
  EntitySchema,
  SubjectSchema,
  TupleSchema,
  TupleFilterSchema,
  AttributeFilterSchema,
} from '../gen/base/v1/base_pb.js';
import * as s from '../gen/base/v1/service_pb.js';
import { validateRequest } from './validate.js';

const entity = create(EntitySchema, { type: 'document', id: '1' });
const subject = create(SubjectSchema, { type: 'user', id: 'u1' });

function check(init: Partial<Parameters<typeof create<typeof s.PermissionCheckRequestSchema>>[1]> = {}) {
  return create(s.PermissionCheckRequestSchema, {
    tenantId: 't1',
    metadata: create(s.PermissionCheckRequestMetadataSchema, { depth: 20 }),
    entity,
    permission: 'view',
    subject,
    ...init,
  } as never);
}

function message(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PermifyError);
    const err = e as PermifyError;
    expect(err.grpcStatus).toBe(3);
    return err.message;
  }
  throw new Error('expected a validation error');
}

describe('request validation (protoc-gen-validate texts)', () => {
  it('accepts a valid check', () => {
    expect(() => validateRequest('PermissionCheckRequest', check())).not.toThrow();
  });

  it('requires metadata and depth >= 3', () => {
    expect(message(() => validateRequest('PermissionCheckRequest', check({ metadata: undefined })))).toBe(
      'invalid PermissionCheckRequest.Metadata: value is required',
    );
    expect(
      message(() =>
        validateRequest(
          'PermissionCheckRequest',
          check({ metadata: create(s.PermissionCheckRequestMetadataSchema, {}) }),
        ),
      ),
    ).toBe(
      'invalid PermissionCheckRequest.Metadata: embedded message failed validation | caused by: ' +
        'invalid PermissionCheckRequestMetadata.Depth: value must be greater than or equal to 3',
    );
  });

  it('checks tenant ids: length before pattern, wildcard allowed', () => {
    expect(message(() => validateRequest('PermissionCheckRequest', check({ tenantId: 'x'.repeat(129) })))).toBe(
      'invalid PermissionCheckRequest.TenantId: value length must be at most 128 bytes',
    );
    expect(message(() => validateRequest('PermissionCheckRequest', check({ tenantId: 'a b' })))).toBe(
      'invalid PermissionCheckRequest.TenantId: value does not match regex pattern "^([a-zA-Z0-9_\\\\-@\\\\.:+]{1,128}|\\\\*)$"',
    );
    expect(() => validateRequest('PermissionCheckRequest', check({ tenantId: '*' }))).not.toThrow();
  });

  it('rejects digits in names and bad ids inside nested messages', () => {
    expect(message(() => validateRequest('PermissionCheckRequest', check({ permission: 'view2' })))).toMatch(
      /^invalid PermissionCheckRequest\.Permission: value does not match regex pattern/,
    );
    const bad = create(EntitySchema, { type: 'document', id: 'a#b' });
    expect(message(() => validateRequest('PermissionCheckRequest', check({ entity: bad })))).toMatch(
      /^invalid PermissionCheckRequest\.Entity: embedded message failed validation \| caused by: invalid Entity\.Id: value does not match/,
    );
  });

  it('validates contextual tuples with their index', () => {
    const ctx = create(ContextSchema, {
      tuples: [
        create(TupleSchema, { entity, relation: 'owner', subject }),
        create(TupleSchema, { relation: 'owner', subject }),
      ],
    });
    expect(message(() => validateRequest('PermissionCheckRequest', check({ context: ctx })))).toBe(
      'invalid PermissionCheckRequest.Context: embedded message failed validation | caused by: ' +
        'invalid Context.Tuples[1]: embedded message failed validation | caused by: invalid Tuple.Entity: value is required',
    );
  });

  it('bounds bulk check items to 1..100', () => {
    const base = {
      tenantId: 't1',
      metadata: create(s.PermissionCheckRequestMetadataSchema, { depth: 5 }),
    };
    const item = create(s.PermissionBulkCheckRequestItemSchema, { entity, permission: 'view', subject });
    expect(
      message(() => validateRequest('PermissionBulkCheckRequest', create(s.PermissionBulkCheckRequestSchema, base))),
    ).toBe('invalid PermissionBulkCheckRequest.Items: value must contain at least 1 item(s)');
    expect(
      message(() =>
        validateRequest(
          'PermissionBulkCheckRequest',
          create(s.PermissionBulkCheckRequestSchema, { ...base, items: Array.from({ length: 101 }, () => item) }),
        ),
      ),
    ).toBe('invalid PermissionBulkCheckRequest.Items: value must contain no more than 100 item(s)');
    expect(() =>
      validateRequest(
        'PermissionBulkCheckRequest',
        create(s.PermissionBulkCheckRequestSchema, { ...base, items: Array.from({ length: 100 }, () => item) }),
      ),
    ).not.toThrow();
  });

  it('requires both delete filters but accepts empty ones', () => {
    expect(
      message(() =>
        validateRequest(
          'DataDeleteRequest',
          create(s.DataDeleteRequestSchema, { tenantId: 't1', tupleFilter: create(TupleFilterSchema) }),
        ),
      ),
    ).toBe('invalid DataDeleteRequest.AttributeFilter: value is required');
    expect(() =>
      validateRequest(
        'DataDeleteRequest',
        create(s.DataDeleteRequestSchema, {
          tenantId: 't1',
          tupleFilter: create(TupleFilterSchema),
          attributeFilter: create(AttributeFilterSchema),
        }),
      ),
    ).not.toThrow();
  });

  it('requires at least one tuple on WriteRelationships', () => {
    expect(
      message(() =>
        validateRequest(
          'RelationshipWriteRequest',
          create(s.RelationshipWriteRequestSchema, {
            tenantId: 't1',
            metadata: create(s.RelationshipWriteRequestMetadataSchema),
          }),
        ),
      ),
    ).toBe('invalid RelationshipWriteRequest.Tuples: value must contain at least 1 item(s)');
  });

  it('uses the unanchored pattern for new tenant ids and limits names to 64 bytes', () => {
    expect(() =>
      validateRequest('TenantCreateRequest', create(s.TenantCreateRequestSchema, { id: '$a$' })),
    ).not.toThrow();
    expect(
      message(() => validateRequest('TenantCreateRequest', create(s.TenantCreateRequestSchema, { id: '$$' }))),
    ).toBe('invalid TenantCreateRequest.Id: value does not match regex pattern "[a-zA-Z0-9-,]+"');
    expect(
      message(() =>
        validateRequest('TenantCreateRequest', create(s.TenantCreateRequestSchema, { id: 'a', name: 'é'.repeat(33) })),
      ),
    ).toBe('invalid TenantCreateRequest.Name: value length must be at most 64 bytes');
  });

  it('allows empty optional relations but not "..."', () => {
    const ok = check({ subject: create(SubjectSchema, { type: 'group', id: 'g', relation: '' }) });
    expect(() => validateRequest('PermissionCheckRequest', ok)).not.toThrow();
    const dots = check({ subject: create(SubjectSchema, { type: 'group', id: 'g', relation: '...' }) });
    expect(message(() => validateRequest('PermissionCheckRequest', dots))).toMatch(
      /Subject\.Relation: value does not match/,
    );
  });

  it('accepts page size 0 (unset) and requires the read filter', () => {
    const req = create(s.RelationshipReadRequestSchema, {
      tenantId: 't1',
      metadata: create(s.RelationshipReadRequestMetadataSchema),
      filter: create(TupleFilterSchema),
      pageSize: 0,
    });
    expect(() => validateRequest('RelationshipReadRequest', req)).not.toThrow();
    expect(message(() => validateRequest('RelationshipReadRequest', { ...req, filter: undefined }))).toBe(
      'invalid RelationshipReadRequest.Filter: value is required',
    );
  });
});
