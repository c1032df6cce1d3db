/**
 * The process logger: pino, JSON lines (`logger.output: json`) or key=value text lines (default, as
 * Permify), to stdout (or a given stream). Per-request lines are logged at debug only; tuple data and
 * tokens are never logged at info.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { Writable } from 'node:stream';

export type { Logger } from 'pino';

export interface LoggerOptions {
  readonly level: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** `json` or `text` ("" = text). */
  readonly output: string;
  /** Destination (default stdout). */
  readonly destination?: NodeJS.WritableStream;
}

function textValue(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

/** Turns pino's JSON lines into `time=... level=... msg=... key=value` lines. */
function textStream(out: NodeJS.WritableStream): DestinationStream {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        try {
          const o = JSON.parse(line) as Record<string, unknown>;
          const { time, level, msg, ...rest } = o;
          const parts = [`time=${new Date(Number(time)).toISOString()}`, `level=${String(level).toUpperCase()}`, `msg=${textValue(msg ?? '')}`];
          for (const [k, v] of Object.entries(rest)) parts.push(`${k}=${textValue(v)}`);
          out.write(parts.join(' ') + '\n');
        } catch {
          out.write(line + '\n');
        }
      }
      cb();
    },
  });
}

export function createLogger(options: LoggerOptions): Logger {
  const out = options.destination ?? process.stdout;
  const dest = options.output === 'json' ? (out as DestinationStream) : textStream(out);
  return pino(
    {
      level: options.level,
      base: undefined,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: ['authorization', 'headers.authorization', '*.authorization'], censor: '[redacted]' },
    },
    dest,
  );
}
