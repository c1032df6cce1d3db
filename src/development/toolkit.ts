/**
 * The concrete wiring of `validate` / `coverage`: schema compiler, a private in-memory store and the engine.
 * Like `server.ts`, this is one of the few places that picks a concrete backend.
 */
import { parseAttribute, parseEntity, parseRelationReference, parseSubject, parseTuple } from '../data/notation.js';
import { createEngine } from '../engine/index.js';
import { compileSchema } from '../language/index.js';
import { validateAttribute, validateTuple } from '../schema/validate-data.js';
import { createMemoryStore } from '../storage/memory/index.js';
import type { ValidationToolkit } from './commands.js';
import type { ValidationNotation, ValidationSandbox } from './validate.js';

/** The tenant every sandbox uses (the memory store creates it). */
const SANDBOX_TENANT = 't1';

export const defaultNotation: ValidationNotation = {
  parseTuple,
  parseAttribute,
  parseEntity,
  parseSubject,
  parseRelationReference,
};

/**
 * Compiles `schemaText` (with reference validation; errors are fatal PermifyErrors such as
 * `4:33: undefined relation reference`), stores it as the head version of a fresh in-memory tenant and returns
 * an engine over it. The engine's check cache is off: a validation run is short and must not hide bugs.
 */
export async function createMemorySandbox(schemaText: string): Promise<ValidationSandbox> {
  const schema = compileSchema(schemaText, { validateReferences: true });
  const store = createMemoryStore();
  try {
    // The whole text is stored as one definition record: the engine compiles a version from its records, and
    // nothing in a validation run reads the per-statement records back.
    const schemaVersion = await store.schemas.writeSchema(SANDBOX_TENANT, [{ name: 'schema', definition: schemaText }]);
    const engine = createEngine({ reader: store.reader, schemas: store.schemas, checkCacheSize: 0 });
    return {
      schema,
      tenantId: SANDBOX_TENANT,
      schemaVersion,
      engine,
      validateTuple: (tuple) => validateTuple(schema, tuple),
      validateAttribute: (attribute) => validateAttribute(schema, attribute),
      async writeTuple(tuple) {
        await store.writer.write(SANDBOX_TENANT, [{ writeTuples: [tuple] }]);
      },
      async writeAttribute(attribute) {
        await store.writer.write(SANDBOX_TENANT, [{ writeAttributes: [attribute] }]);
      },
      close: () => store.close(),
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}

export function createDefaultToolkit(): ValidationToolkit {
  return { createSandbox: createMemorySandbox, notation: defaultNotation };
}
