/**
 * Progress of a long `permify data` run on stderr: on a terminal one line redrawn in place (items, items/s,
 * bytes, ETA when the total is known); otherwise a plain line every `intervalMs`, so logs stay readable.
 */
export interface ProgressOptions {
  readonly label: string;
  /** Total bytes when known (import: the input files), for the percentage and ETA. */
  readonly totalBytes?: number;
  readonly stream?: NodeJS.WriteStream | NodeJS.WritableStream;
  /** Plain-line period when not a terminal (default 5 s). */
  readonly intervalMs?: number;
  /** Force terminal or plain mode (default: whether the stream is a TTY). */
  readonly tty?: boolean;
}

export interface Progress {
  /** Absolute counters so far. */
  update(items: number, bytes: number): void;
  /** Prints a message line without garbling the bar. */
  log(line: string): void;
  /** Removes the bar (terminal) so the summary starts on a clean line. */
  finish(): void;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0
    ? `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}`
    : `${m}:${String(r).padStart(2, '0')}`;
}

export function createProgress(o: ProgressOptions): Progress {
  const stream = o.stream ?? process.stderr;
  const tty = o.tty ?? (stream as NodeJS.WriteStream).isTTY === true;
  const intervalMs = o.intervalMs ?? (tty ? 100 : 5000);
  const started = performance.now();
  let items = 0;
  let bytes = 0;
  let lastDraw = tty ? 0 : started;
  let drawn = false;

  const text = (): string => {
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? Math.round(items / seconds) : 0;
    let line = `${o.label} ${items.toLocaleString('en-US')} items  ${rate.toLocaleString('en-US')}/s  ${formatBytes(bytes)}`;
    if (o.totalBytes !== undefined && o.totalBytes > 0) {
      const fraction = Math.min(1, bytes / o.totalBytes);
      line += ` / ${formatBytes(o.totalBytes)} (${(fraction * 100).toFixed(1)}%)`;
      if (fraction > 0 && fraction < 1) line += `  ETA ${formatDuration((seconds / fraction) * (1 - fraction))}`;
    }
    return line;
  };
  const draw = (): void => {
    if (tty) {
      stream.write(`\r\x1b[K${text()}`);
      drawn = true;
    } else {
      stream.write(`${text()}\n`);
    }
  };
  const clear = (): void => {
    if (tty && drawn) stream.write('\r\x1b[K');
    drawn = false;
  };

  return {
    update(i, b) {
      items = i;
      bytes = b;
      const now = performance.now();
      if (now - lastDraw >= intervalMs) {
        lastDraw = now;
        draw();
      }
    },
    log(line) {
      clear();
      stream.write(`${line}\n`);
      if (tty) draw();
    },
    finish() {
      clear();
    },
  };
}
