import { describe, expect, it } from 'vitest';
import { parseAttribute, parseTuple } from '../../data/notation.js';
import { PermifyError } from '../../errors.js';
import { createMemoryStore } from './index.js';
import { encodeSnapToken } from './snap-token.js';
import { MAX_TX } from './tables.js';

const txOf = (token: string): bigint => Buffer.from(token, 'base64').readBigUInt64LE();

describe('memory store transaction ids', () => {
  it('keep working past 2^31 (rows, history, tokens and watch stay exact)', async () => {
    const start = 2 ** 31 - 3;
    const store = createMemoryStore({ initialTx: start });
    const tokens: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      tokens.push(
        await store.writer.write('t1', [
          {
            writeTuples: [parseTuple(`doc:${i}#viewer@user:1`)],
            writeAttributes: [parseAttribute(`doc:${i}$n|integer:${i}`)],
          },
          ...(i > 0 ? [{ deleteTuples: [parseTuple(`doc:${i - 1}#viewer@user:1`)] }] : []),
        ]),
      );
    }
    // The memory store's wire encoding: 8-byte little-endian transaction id.
    expect(tokens.map(txOf)).toEqual(Array.from({ length: 6 }, (_, i) => BigInt(start + 1 + i)));
    for (let i = 0; i < 6; i += 1) {
      const tuples = await store.reader.queryRelationships('t1', {}, tokens[i] as string);
      expect(tuples.map((t) => t.entity.id)).toEqual([String(i)]);
      const attrs = await store.reader.queryAttributes('t1', {}, tokens[i] as string);
      expect(attrs).toHaveLength(i + 1);
    }
    const ac = new AbortController();
    const watch = store.watcher.watch('t1', encodeSnapToken(start), ac.signal)[Symbol.asyncIterator]();
    for (let i = 0; i < 6; i += 1) {
      const next = await watch.next();
      expect(next.value?.snapToken).toBe(tokens[i]);
    }
    ac.abort();
  });

  it('fail with a clear error instead of wrapping when the counter is exhausted', async () => {
    const store = createMemoryStore({ initialTx: MAX_TX - 1 });
    const last = await store.writer.write('t1', [{ writeTuples: [parseTuple('doc:1#viewer@user:1')] }]);
    expect(txOf(last)).toBe(BigInt(MAX_TX));
    const error = await store.writer.write('t1', []).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermifyError);
    expect((error as PermifyError).code).toBe('ERROR_CODE_DATASTORE');
    expect((error as PermifyError).message).toMatch(/transaction ids/);
    // Nothing was half-applied and the data stays readable at the last token.
    expect(await store.reader.queryRelationships('t1', {}, await store.reader.headSnapToken('t1'))).toHaveLength(1);
    expect(() => createMemoryStore({ initialTx: MAX_TX + 1 })).toThrow(RangeError);
  });
});
