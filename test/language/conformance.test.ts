import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compileSchema, printDefinitions, printSchema, schemaToJson } from '../../src/language/index.js';

const dir = '/work/shared/conformance/public/';
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

function assertDeeplyFrozen(value: unknown, path: string): void {
  if (value === null || typeof value !== 'object') return;
  expect(Object.isFrozen(value), path).toBe(true);
  if (value instanceof Map) {
    expect(() => (value as Map<unknown, unknown>).set('x', 1), path).toThrow(TypeError);
    for (const [k, v] of value) assertDeeplyFrozen(v, `${path}.${String(k)}`);
    return;
  }
  for (const [k, v] of Object.entries(value)) assertDeeplyFrozen(v, `${path}.${k}`);
}

describe('conformance schemas', () => {
  it('exist', () => {
    expect(files.length).toBeGreaterThan(5);
  });
  it.each(files)('%s compiles, prints and re-compiles to an equal model', (file) => {
    const doc = parse(readFileSync(dir + file, 'utf8')) as { schema: string };
    const schema = compileSchema(doc.schema);
    expect(schema.entities.size).toBeGreaterThan(0);
    assertDeeplyFrozen(schema, 'schema');
    const json = schemaToJson(schema);
    const printed = printSchema(schema);
    expect(schemaToJson(compileSchema(printed))).toEqual(json);
    expect(printSchema(compileSchema(printed))).toBe(printed);
    const records = printDefinitions(schema);
    expect(records.map((r) => r.name)).toEqual([...schema.references.keys()]);
    const fromRecords = compileSchema(records.map((r) => r.definition).join('\n'), { validateReferences: false });
    expect(schemaToJson(fromRecords)).toEqual(json);
  });
});
