/**
 * Compilation of a schema being written (Schema/Write, PartialWrite): parse, compile with reference validation,
 * print the canonical definitions. Compiling is synchronous and grows with the text (a 10 000-entity schema
 * takes several hundred milliseconds), so a text above {@link workerThresholdBytes} is compiled on a worker
 * thread and the event loop keeps serving other requests meanwhile; smaller ones compile inline, where a
 * worker's start-up would cost more than it saves.
 *
 * Errors are the same either way: a PermifyError with the compiler's code, message and details (INVALID_ARGUMENT
 * codes kept, anything else ERROR_CODE_SCHEMA_COMPILE).
 */
import { Worker } from 'node:worker_threads';
import { GrpcStatus, isPermifyError, PermifyError, type PermifyErrorDetails } from '../../errors.js';
import { compileSchema, printDefinitions } from '../../language/index.js';
import type { SchemaDefinitionRecord } from '../../storage/contract.js';

/** Texts at least this long compile on a worker thread. */
export const workerThresholdBytes = 64 * 1024;

/** What a compilation answers, in a form that crosses threads. */
export type CompileOutcome =
  | { readonly ok: true; readonly definitions: SchemaDefinitionRecord[] }
  | { readonly ok: false; readonly code: string; readonly message: string; readonly details: PermifyErrorDetails };

/** Compiles `text` on this thread (also the worker's job). */
export function compileOutcome(text: string): CompileOutcome {
  try {
    return { ok: true, definitions: printDefinitions(compileSchema(text, { validateReferences: true })) };
  } catch (e) {
    if (isPermifyError(e)) {
      const code = e.grpcStatus === GrpcStatus.INVALID_ARGUMENT ? e.code : 'ERROR_CODE_SCHEMA_COMPILE';
      return { ok: false, code, message: e.message, details: e.details };
    }
    return {
      ok: false,
      code: 'ERROR_CODE_SCHEMA_COMPILE',
      message: e instanceof Error ? e.message : String(e),
      details: {},
    };
  }
}

function settle(outcome: CompileOutcome): SchemaDefinitionRecord[] {
  if (outcome.ok) return outcome.definitions;
  throw new PermifyError(outcome.code as PermifyError['code'], outcome.message, { details: outcome.details });
}

const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  // Under a TypeScript loader (tests, tsx) this module is a .ts file: register the same loader first.
  if (workerData.typescript) (await import('tsx/esm/api')).register();
  return import(workerData.module);
})().then(
  (m) => parentPort.postMessage(m.compileOutcome(workerData.text)),
  (e) => parentPort.postMessage({ ok: false, code: 'ERROR_CODE_INTERNAL', message: 'schema compiler unavailable: ' + e.message, details: {} }),
);
`;

function compileOnWorker(text: string, signal: AbortSignal | undefined): Promise<CompileOutcome> {
  const module = import.meta.url;
  return new Promise<CompileOutcome>((resolve, reject) => {
    const worker = new Worker(workerSource, {
      eval: true,
      workerData: { module, text, typescript: module.endsWith('.ts') },
    });
    const onAbort = (): void => {
      void worker.terminate();
      reject(new PermifyError('ERROR_CODE_CANCELLED'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = (): void => {
      signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
    };
    worker.once('message', (outcome: CompileOutcome) => {
      done();
      resolve(outcome);
    });
    worker.once('error', (e) => {
      done();
      reject(new PermifyError('ERROR_CODE_INTERNAL', 'schema compilation failed', { cause: e }));
    });
  });
}

/** The canonical definitions of `text`; throws the compiler's PermifyError when it does not compile. */
export async function compileDefinitions(text: string, signal?: AbortSignal): Promise<SchemaDefinitionRecord[]> {
  if (text.length < workerThresholdBytes) return settle(compileOutcome(text));
  return settle(await compileOnWorker(text, signal));
}
