/**
 * Explain agrees with Check on every query of the differential suite (issue 14): the suite's oracle
 * (`runDifferential`) is run on an engine whose `check` also asks `explain` the same request, so every Check
 * of the exhaustive oracle, on the public validation files and on the seeded random worlds of
 * `random-model.ts`, is compared with Explain: same answer or same error code, and a root whose outcome says
 * the same. Explain evaluates with the Check evaluator itself; this pins that no path of it drifts.
 *
 * `npm test` runs the public files and 30 random worlds (the suite's seed and count); `PERMIFY_EXPLAIN_WORLDS=<n>` for
 * more.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAttribute, parseTuple } from '../../src/data/notation.js';
import type { Attribute, JsonValue, RequestContext, Tuple } from '../../src/data/types.js';
import { createMemorySandbox } from '../../src/development/toolkit.js';
import { loadValidationFile } from '../../src/development/validation-file.js';
import type { CheckRequest, PermissionEngine } from '../../src/engine/types.js';
import { isPermifyError } from '../../src/errors.js';
import { runDifferential } from './oracle.js';
import { generateRandomModel } from './random-model.js';

const PUBLIC = '/work/shared/conformance/public';
const WORLDS = Number(process.env['PERMIFY_EXPLAIN_WORLDS'] ?? 30);
const SEED = Number(process.env['PERMIFY_DIFFERENTIAL_SEED'] ?? 20261129);

const rootOutcome = { allowed: 'allowed', denied: 'denied' } as const;

/** `engine` whose `check` also runs `explain` and records every disagreement. */
function comparing(engine: PermissionEngine): {
  engine: PermissionEngine;
  compared: () => number;
  disagreements: string[];
} {
  const disagreements: string[] = [];
  let compared = 0;
  const text = (r: CheckRequest): string =>
    `${r.entity.type}:${r.entity.id}#${r.permission}@${r.subject.type}:${r.subject.id}${r.subject.relation === '' ? '' : `#${r.subject.relation}`}`;
  const wrapped: PermissionEngine = {
    ...engine,
    async check(req, signal) {
      let checkOutcome: string;
      let result: Awaited<ReturnType<PermissionEngine['check']>> | undefined;
      let error: unknown;
      try {
        result = await engine.check(req, signal);
        checkOutcome = result.can;
      } catch (e) {
        error = e;
        checkOutcome = `error:${isPermifyError(e) ? e.code : String(e)}`;
      }
      const x = await engine.explain(req, signal);
      const explainOutcome = x.can ?? `error:${x.error?.code ?? '?'}`;
      compared++;
      const rootOk =
        x.can === undefined
          ? x.root.outcome !== 'allowed' && x.root.outcome !== 'denied'
          : x.root.outcome === rootOutcome[x.can];
      if (explainOutcome !== checkOutcome || !rootOk) {
        disagreements.push(`${text(req)}: check ${checkOutcome}, explain ${explainOutcome} (root ${x.root.outcome})`);
      }
      if (result === undefined) throw error;
      return result;
    },
  };
  return { engine: wrapped, compared: () => compared, disagreements };
}

async function agreement(
  schemaText: string,
  tuples: readonly Tuple[],
  attributes: readonly Attribute[],
  context: RequestContext,
): Promise<{ compared: number; disagreements: string[] }> {
  const sandbox = await createMemorySandbox(schemaText);
  try {
    for (const t of tuples) await sandbox.writeTuple(t);
    for (const a of attributes) await sandbox.writeAttribute(a);
    const c = comparing(sandbox.engine);
    await runDifferential({
      engine: c.engine,
      tenantId: sandbox.tenantId,
      schema: sandbox.schema,
      tuples,
      attributes,
      context,
      entityPageSizes: [100],
      subjectPageSizes: [100],
      alternateOnlyPermission: true,
    });
    return { compared: c.compared(), disagreements: c.disagreements };
  } finally {
    await sandbox.close();
  }
}

describe('explain agrees with check on the differential suite', () => {
  const files = readdirSync(PUBLIC)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  it.each(files)('public file %s', async (name) => {
    const { file, schemaText } = await loadValidationFile(join(PUBLIC, name));
    const data: Record<string, JsonValue> = {};
    for (const s of file.scenarios)
      for (const q of [...s.checks, ...s.entityFilters, ...s.subjectFilters])
        for (const [k, v] of Object.entries(q.context.data)) if (!(k in data)) data[k] = v;
    const r = await agreement(
      schemaText,
      file.relationships.map((t) => parseTuple(t)),
      file.attributes.map((a) => parseAttribute(a)),
      { tuples: [], attributes: [], data },
    );
    expect(r.disagreements).toEqual([]);
    expect(r.compared).toBeGreaterThan(0);
  });

  it(`random worlds (${WORLDS}, seed ${SEED})`, { timeout: Math.max(60_000, WORLDS * 3_000) }, async () => {
    const seeds = fc.sample(fc.integer({ min: 0, max: 0x7fffffff }), { seed: SEED, numRuns: WORLDS });
    let compared = 0;
    for (const seed of seeds) {
      const model = generateRandomModel(seed);
      const r = await agreement(model.schema, model.tuples, model.attributes, {
        tuples: model.contextTuples,
        attributes: model.contextAttributes,
        data: model.data,
      });
      expect(r.disagreements, `seed ${seed}\n${model.schema}`).toEqual([]);
      compared += r.compared;
    }
    expect(compared).toBeGreaterThan(WORLDS * 100);
  });
});
