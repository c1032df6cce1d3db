import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PermifyError } from '../../src/errors.js';
import { compileSchema, maxExpressionDepth, printSchema, schemaToJson } from '../../src/language/index.js';

function outcome(text: string): 'ok' | string {
  try {
    compileSchema(text);
    return 'ok';
  } catch (e) {
    if (!(e instanceof PermifyError)) throw e;
    return e.code;
  }
}

function timed<T>(f: () => T): { value: T; ms: number } {
  const start = performance.now();
  const value = f();
  return { value, ms: performance.now() - start };
}

describe('robustness', () => {
  it('empty schema', () => {
    expect(outcome('')).toBe('ERROR_CODE_NO_ENTITY_REFERENCES_FOUND_IN_SCHEMA');
  });
  it('a 1 MB schema compiles in well under a second', () => {
    const parts = ['entity user {}'];
    let i = 0;
    let length = 0;
    while (length < 1_000_000) {
      const n = String.fromCharCode(97 + (i % 26)) + 'x'.repeat(Math.floor(i / 26) % 50) + '_' + toLetters(i);
      parts.push(
        `entity e_${n} {\n    relation owner @user\n    relation editor @user\n    attribute open boolean\n    permission edit = owner or editor\n    permission view = (edit or open) not owner\n}`,
      );
      length += (parts[parts.length - 1]?.length ?? 0) + 1;
      i++;
    }
    const text = parts.join('\n');
    expect(text.length).toBeGreaterThanOrEqual(1_000_000);
    const { value, ms } = timed(() => outcome(text));
    expect(value).toBe('ok');
    // Typically 0.2-0.4 s on an idle core; the bound leaves room for a heavily shared CI machine.
    expect(ms).toBeLessThan(5000);
  });
  it('10 000 nested parentheses give a clear error naming the limit', () => {
    const text = `entity user {}\nentity d {\n relation a @user\n permission p = ${'('.repeat(10000)}a${')'.repeat(10000)}\n}`;
    const { value, ms } = timed(() => {
      try {
        compileSchema(text);
        return undefined;
      } catch (e) {
        return e as PermifyError;
      }
    });
    expect(value).toBeInstanceOf(PermifyError);
    expect(value?.code).toBe('ERROR_CODE_SCHEMA_PARSE');
    expect(value?.message).toContain(`maxExpressionDepth=${maxExpressionDepth}`);
    expect(ms).toBeLessThan(1000);
  });
  it('long operator chains are bounded too, moderate ones compile and print', () => {
    const chain = (n: number) =>
      `entity user {}\nentity d {\n relation a @user\n permission p = a${' or a'.repeat(n)}\n}`;
    expect(outcome(chain(5000))).toBe('ERROR_CODE_SCHEMA_PARSE');
    const s = compileSchema(chain(900));
    expect(schemaToJson(compileSchema(printSchema(s)))).toEqual(schemaToJson(s));
  });
  it('binary garbage only ever yields PermifyError, fast', () => {
    const bytes = new Uint8Array(200_000);
    let x = 12345;
    for (let i = 0; i < bytes.length; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      bytes[i] = x & 0xff;
    }
    const { value, ms } = timed(() => outcome(Buffer.from(bytes).toString('latin1')));
    expect(value).not.toBe('ok');
    expect(ms).toBeLessThan(1000);
    expect(outcome('\u0000\uffff\ud83d\ude00 entity')).not.toBe('ok');
  });
  it('random byte mutations of valid schemas only throw PermifyError', () => {
    const valid = `entity user {}
entity group {
    relation member @user @group#member
}
entity doc {
    relation parent @group
    relation owner @user
    attribute level integer
    attribute public boolean
    permission view = owner or parent.member or (public and check(level))
}
rule check(level integer) {
    level > context.data.min
}
`;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 }), fc.boolean()), {
          minLength: 1,
          maxLength: 6,
        }),
        (edits) => {
          let text = valid;
          for (const [at, byte, insert] of edits) {
            const ch = String.fromCharCode(byte);
            text = insert ? text.slice(0, at) + ch + text.slice(at) : text.slice(0, at) + ch + text.slice(at + 1);
          }
          const start = performance.now();
          outcome(text);
          expect(performance.now() - start).toBeLessThan(500);
        },
      ),
      { numRuns: 300, seed: 42 },
    );
  });
});

function toLetters(i: number): string {
  let s = '';
  let n = i;
  do {
    s += String.fromCharCode(97 + (n % 26));
    n = Math.floor(n / 26);
  } while (n > 0);
  return s;
}
