/**
 * Body fields a request message does not define, remembered per decoded message. The REST gateway decodes
 * JSON leniently, ignoring unknown fields as Permify's gateway does, so a typo (`"permision"`) goes unnoticed
 * and surfaces as a confusing "value is required"; when such a request then fails validation, the error
 * also names the unknown fields (requests that pass are answered unchanged).
 */
const unknownFields = new WeakMap<object, readonly string[]>();

/** Records the unknown body fields (dotted JSON paths) of a decoded request. */
export function noteUnknownFields(message: object, fields: readonly string[]): void {
  if (fields.length > 0) unknownFields.set(message, fields);
}

/** `(unknown field "permision")`-style suffix for a validation message, or "" when the body had none. */
export function unknownFieldsNote(message: object): string {
  const fields = unknownFields.get(message);
  if (fields === undefined) return '';
  const quoted = fields.map((f) => JSON.stringify(f)).join(', ');
  return ` (unknown field${fields.length === 1 ? '' : 's'} ${quoted})`;
}
