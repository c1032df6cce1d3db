/**
 * Memory store benchmark: loads the google-docs-like dataset through `writer.write` (batches of 1000, one
 * transaction each) and prints load throughput, memory per tuple and the speed of the engine's read
 * patterns. Memory is measured after global.gc() with the dataset dropped, as V8 heap plus ArrayBuffer
 * memory (the store keeps its columns and indexes in typed arrays, which `heapUsed` alone does not count),
 * so interned strings and every index are included.
 *
 *   node --expose-gc --import tsx bench/memory-store.ts [--tuples 1000000] [--batch 1000] [--queries 200000]
 *
 * Targets (issue 3): load >= 200 000 tuples/s; <= 300 bytes per tuple including indexes.
 */
import { parseArgs } from 'node:util';
import type { Tuple } from '../src/data/types.js';
import { createMemoryStore } from '../src/storage/memory/index.js';
import { generateGoogleDocsDataset } from './datasets/google-docs.js';

const { values } = parseArgs({
  options: {
    tuples: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '1000' },
    queries: { type: 'string', default: '200000' },
    seed: { type: 'string', default: '42' },
  },
});
const tupleCount = Number(values.tuples);
const batch = Number(values.batch);
const queryCount = Number(values.queries);
const seed = Number(values.seed);

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  process.stderr.write('run with node --expose-gc\n');
  process.exit(2);
}
function settledMemory(): { heap: number; arrayBuffers: number } {
  for (let i = 0; i < 4; i += 1) gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, arrayBuffers: m.arrayBuffers };
}
const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function main(): Promise<void> {
  const store = createMemoryStore();
  const before = settledMemory();

  // Only the tuple list is kept, and it is emptied after loading, so the dataset does not count as store memory.
  const tuples = generateGoogleDocsDataset({ tuples: tupleCount, seed }).tuples;
  // Sample keys for the read patterns, copied as fresh strings so they do not pin the dataset.
  const samples = Array.from({ length: 1000 }, (_, i) => tuples[(i * 7919) % tuples.length] as Tuple).map(
    (t) => JSON.parse(JSON.stringify(t)) as Tuple,
  );

  const loadCpu = process.cpuUsage();
  const loadStart = performance.now();
  for (let i = 0; i < tuples.length; i += batch) {
    await store.writer.write('t1', [{ writeTuples: tuples.slice(i, i + batch) }]);
  }
  const loadMs = performance.now() - loadStart;
  const cpu = process.cpuUsage(loadCpu);
  const loadCpuMs = (cpu.user + cpu.system) / 1000;
  tuples.length = 0;

  const after = settledMemory();
  const heapPerTuple = (after.heap - before.heap) / tupleCount;
  const buffersPerTuple = (after.arrayBuffers - before.arrayBuffers) / tupleCount;
  const totalPerTuple = heapPerTuple + buffersPerTuple;

  const token = await store.reader.headSnapToken('t1');
  const count = (await store.reader.queryRelationships('t1', {}, token)).length;
  if (count !== tupleCount) throw new Error(`expected ${tupleCount} tuples, read ${count}`);

  // Check pattern: (entity, relation).
  let found = 0;
  let start = performance.now();
  for (let i = 0; i < queryCount; i += 1) {
    const s = samples[i % samples.length] as Tuple;
    found += (
      await store.reader.queryRelationships(
        't1',
        { entity: { type: s.entity.type, ids: [s.entity.id] }, relation: s.relation },
        token,
      )
    ).length;
  }
  const checkQps = queryCount / ((performance.now() - start) / 1000);
  const checkRows = found / queryCount;
  if (found < queryCount) throw new Error('a sampled tuple was not found');

  // Subject pattern (reverse lookups).
  const subjectQueries = Math.max(1, Math.floor(queryCount / 10));
  let subjectRows = 0;
  start = performance.now();
  for (let i = 0; i < subjectQueries; i += 1) {
    const s = samples[i % samples.length] as Tuple;
    subjectRows += (
      await store.reader.queryRelationships(
        't1',
        {
          entity: { type: s.entity.type },
          relation: s.relation,
          subject: { type: s.subject.type, ids: [s.subject.id] },
        },
        token,
      )
    ).length;
  }
  const subjectQps = subjectQueries / ((performance.now() - start) / 1000);

  // Idempotent re-write of existing tuples (unique index probe).
  start = performance.now();
  await store.writer.write('t1', [{ writeTuples: samples }]);
  const rewriteUs = ((performance.now() - start) * 1000) / samples.length;

  const loadRate = tupleCount / (loadMs / 1000);
  process.stdout.write(
    [
      `tuples loaded:            ${fmt(tupleCount)} in batches of ${fmt(batch)}`,
      `load:                     ${fmt(loadMs / 1000, 2)} s = ${fmt(loadRate)} tuples/s   (target >= 200,000)`,
      `load CPU time:            ${fmt(loadCpuMs / 1000, 2)} s = ${fmt(tupleCount / (loadCpuMs / 1000))} tuples per CPU-second (includes V8's GC threads)`,
      `memory per tuple:         ${fmt(totalPerTuple, 1)} bytes (V8 heap ${fmt(heapPerTuple, 1)} + typed arrays ${fmt(buffersPerTuple, 1)})   (target <= 300)`,
      `entity+relation queries:  ${fmt(checkQps)} /s (${fmt(checkRows, 1)} tuples per answer on average)`,
      `subject-filtered queries: ${fmt(subjectQps)} /s (${fmt(subjectRows / subjectQueries, 1)} tuples per answer on average)`,
      `idempotent re-write:      ${fmt(rewriteUs, 2)} µs per tuple`,
      `load ${loadRate >= 200_000 ? 'PASS' : 'MISS'}; memory ${totalPerTuple <= 300 ? 'PASS' : 'MISS'}`,
      '',
    ].join('\n'),
  );
  await store.close();
}

await main();
