/**
 * `permify data import`: streams files to permifyts.v1.Data/Import in batches and keeps a resume position.
 *
 * Resume: after each batch the server acknowledges (committed), the state file records the file and the
 * position just after that batch's last line. `--resume` continues from there. Re-sending a batch whose
 * acknowledgement was lost is harmless (imported tuples that exist are no-ops, attributes overwrite with
 * the same value), so the result is exactly the files' data: no loss, no duplicate.
 *
 * Bad lines (unparsable, or rejected by the server's schema validation) are reported as `file:line: message`;
 * `--on-error skip` goes on, `--on-error abort` stops after the batches already sent (exit code 1, the state
 * file kept for `--resume` once the file is fixed).
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { DataImportRequestSchema, type DataItem } from '../../api/gen/permifyts/v1/data_pb.js';
import type { DataClient } from './client.js';
import { formatOfPath, readItems, startOfFile, type DataFormat, type FilePosition } from './formats.js';
import { formatBytes, formatDuration, type Progress } from './progress.js';
import { readState, removeState, writeState } from './state.js';

export interface ImportOptions {
  readonly tenantId: string;
  readonly files: readonly string[];
  readonly format?: DataFormat;
  readonly schemaVersion?: string;
  readonly batchSize: number;
  readonly onError: 'skip' | 'abort';
  readonly resume: boolean;
  readonly statePath: string;
  /** Batches sent ahead of their acknowledgement. */
  readonly maxInFlight?: number;
}

export interface ImportSummary {
  readonly applied: number;
  readonly appliedThisRun: number;
  readonly badLines: number;
  readonly batches: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly snapToken: string;
  readonly resumedFrom?: { readonly file: string; readonly line: number };
  readonly aborted: boolean;
}

interface ImportState {
  readonly kind: 'permify-data-import';
  readonly tenantId: string;
  readonly files: readonly { readonly path: string; readonly size: number }[];
  readonly fileIndex: number;
  readonly position: FilePosition;
  readonly applied: number;
  readonly snapToken: string;
}

interface Batch {
  readonly fileIndex: number;
  readonly items: DataItem[];
  /** Input line of each item (rejections name the item's index). */
  readonly lines: number[];
  after: FilePosition;
  consumed: boolean;
}

export interface ImportIo {
  readonly client: DataClient;
  readonly progress: Progress;
  /** Bad-line reports (one line each). */
  report(line: string): void;
}

export async function runImport(o: ImportOptions, io: ImportIo): Promise<ImportSummary> {
  const started = performance.now();
  const files = o.files.map((p) => ({ path: resolve(p), size: statSync(p).size }));
  let fileIndex = 0;
  let position = startOfFile;
  let appliedBefore = 0;
  let snapToken = '';
  let resumedFrom: ImportSummary['resumedFrom'];
  if (o.resume) {
    const s = readState<ImportState>(o.statePath);
    if (s !== undefined) {
      const same =
        s.kind === 'permify-data-import' &&
        s.tenantId === o.tenantId &&
        s.files.length === files.length &&
        s.files.every((f, i) => f.path === files[i]?.path && f.size === files[i]?.size);
      if (!same) throw new Error(`the state file ${o.statePath} belongs to another import (tenant or files differ)`);
      fileIndex = s.fileIndex;
      position = s.position;
      appliedBefore = s.applied;
      snapToken = s.snapToken;
      resumedFrom = { file: files[fileIndex]?.path ?? '', line: position.line };
    }
  }
  const bytesBefore = files.slice(0, fileIndex).reduce((n, f) => n + f.size, 0) + position.offset;
  const call = io.client.import();
  const pending: Batch[] = [];
  let appliedNow = 0;
  let batches = 0;
  let badLines = 0;
  let bytesDone = bytesBefore;
  let aborted = false;
  let wake: (() => void) | undefined;
  const maxInFlight = o.maxInFlight ?? 4;
  const where = (b: Batch, line: number): string => `${files[b.fileIndex]?.path}:${line}`;

  const save = (b: Batch): void => {
    const state: ImportState = {
      kind: 'permify-data-import',
      tenantId: o.tenantId,
      files,
      fileIndex: b.consumed ? b.fileIndex + 1 : b.fileIndex,
      position: b.consumed ? startOfFile : b.after,
      applied: appliedBefore + appliedNow,
      snapToken,
    };
    writeState(o.statePath, state);
  };

  // Acknowledgements: each one is a committed batch; record the position after it.
  const acknowledged = (async () => {
    try {
      for await (const r of call.responses) {
        const b = pending.shift();
        if (b === undefined) throw new Error('the server acknowledged more batches than were sent');
        for (const rej of r.rejected) {
          badLines += 1;
          io.report(`${where(b, b.lines[rej.index] ?? 0)}: ${rej.message.replace(/^item \d+: /, '')}`);
        }
        appliedNow += b.items.length - r.rejected.length;
        batches += 1;
        if (r.snapToken !== '') snapToken = r.snapToken;
        bytesDone =
          files.slice(0, b.fileIndex).reduce((n, f) => n + f.size, 0) +
          (b.consumed ? files[b.fileIndex]!.size : b.after.offset);
        save(b);
        io.progress.update(appliedBefore + appliedNow, bytesDone);
        wake?.();
      }
    } catch (e) {
      aborted = true;
      wake?.();
      // An item rejected by the server: name its line.
      const b = pending[0];
      const m = /item (\d+): (.*)$/s.exec((e as Error).message);
      if (b && m) {
        io.report(`${where(b, b.lines[Number(m[1])] ?? 0)}: ${m[2]}`);
        badLines += 1;
        return;
      }
      throw e;
    }
  })();
  acknowledged.catch(() => undefined);

  const send = async (b: Batch, first: boolean): Promise<void> => {
    while (pending.length >= maxInFlight && !aborted) await new Promise<void>((r) => (wake = r));
    if (aborted) return;
    pending.push(b);
    await call.send(
      create(DataImportRequestSchema, {
        tenantId: o.tenantId,
        schemaVersion: first ? (o.schemaVersion ?? '') : '',
        skipInvalid: o.onError === 'skip',
        items: b.items,
      }),
    );
  };

  let first = true;
  try {
    outer: for (; fileIndex < files.length; fileIndex += 1) {
      const file = files[fileIndex]!;
      const format = o.format ?? formatOfPath(file.path);
      let batch: Batch = { fileIndex, items: [], lines: [], after: position, consumed: false };
      for await (const ev of readItems(file.path, format, position)) {
        if (aborted) break outer;
        batch.after = ev.after;
        if (ev.kind === 'error') {
          badLines += 1;
          io.report(`${file.path}:${ev.line}: ${ev.message}`);
          if (o.onError === 'abort') {
            aborted = true;
            break outer;
          }
          continue;
        }
        batch.items.push(ev.item);
        batch.lines.push(ev.line);
        if (batch.items.length >= o.batchSize) {
          await send(batch, first);
          first = false;
          batch = { fileIndex, items: [], lines: [], after: ev.after, consumed: false };
        }
      }
      // The file's last batch also records that the file is done (the next run starts with the next file).
      batch.consumed = true;
      await send(batch, first);
      first = false;
      position = startOfFile;
    }
  } finally {
    call.end();
  }
  await acknowledged;
  const summary: ImportSummary = {
    applied: appliedBefore + appliedNow,
    appliedThisRun: appliedNow,
    badLines,
    batches,
    bytes: bytesDone,
    seconds: (performance.now() - started) / 1000,
    snapToken,
    aborted,
    ...(resumedFrom ? { resumedFrom } : {}),
  };
  if (!aborted) removeState(o.statePath);
  return summary;
}

export function describeImport(s: ImportSummary): string {
  const rate = s.seconds > 0 ? Math.round(s.appliedThisRun / s.seconds) : 0;
  const lines = [
    `${s.aborted ? 'import stopped' : 'import complete'}: ${s.applied.toLocaleString('en-US')} items applied in ${s.batches} batches, ${s.badLines} bad line(s), ${formatBytes(s.bytes)} read, ${formatDuration(s.seconds)} (${rate.toLocaleString('en-US')} items/s this run)`,
  ];
  if (s.resumedFrom) lines.push(`resumed from ${s.resumedFrom.file}:${s.resumedFrom.line}`);
  if (s.snapToken) lines.push(`snap token: ${s.snapToken}`);
  if (s.aborted) lines.push('run again with --resume to continue after the last committed batch');
  return lines.join('\n');
}
