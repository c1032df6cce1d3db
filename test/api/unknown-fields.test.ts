/**
 * REST bodies are decoded leniently (unknown fields ignored, as in Permify); when such a request then fails
 * validation, the error names the unknown fields so that a typo is found at once. Requests that pass
 * validation are unchanged.
 */
import { describe, expect, it } from 'vitest';
import { PermissionCheckRequestSchema } from '../../src/api/gen/base/v1/service_pb.js';
import { validateMessage } from '../../src/api/handlers/deps.js';
import { decodeJson } from '../../src/api/rest/json.js';

const base = {
  tenant_id: 't1',
  metadata: { depth: 5 },
  entity: { type: 'doc', id: '1' },
  subject: { type: 'user', id: 'a' },
};

describe('unknown body fields', () => {
  it('a request failing validation names the unknown fields, nested ones by path', () => {
    const typo = decodeJson(PermissionCheckRequestSchema, { ...base, permision: 'owner' });
    expect(() => validateMessage(typo)).toThrow(
      /^invalid PermissionCheckRequest\.Permission: .+ \(unknown field "permision"\)$/,
    );
    const nested = decodeJson(PermissionCheckRequestSchema, {
      ...base,
      metadata: { dept: 5 },
      subject: { type: 'user', id: 'a', relaton: 'x' },
      permission: 'owner',
    });
    expect(() => validateMessage(nested)).toThrow(/\(unknown fields "metadata\.dept", "subject\.relaton"\)$/);
  });

  it('keeps the code and Permify`s message prefix; a valid request with extra fields passes', () => {
    const typo = decodeJson(PermissionCheckRequestSchema, { ...base, permision: 'owner' });
    let err: unknown;
    try {
      validateMessage(typo);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ERROR_CODE_VALIDATION' });
    const ok = decodeJson(PermissionCheckRequestSchema, { ...base, permission: 'owner', extra: true });
    expect(() => validateMessage(ok)).not.toThrow();
    const plain = decodeJson(PermissionCheckRequestSchema, { ...base });
    expect(() => validateMessage(plain)).toThrow(/^invalid PermissionCheckRequest\.Permission: [^(]+$/);
  });
});
