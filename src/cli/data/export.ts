/**
 * `permify data export`: streams permifyts.v1.Data/Export pages to a file (or stdout) as NDJSON or as a
 * validation file's lists. With `--out`, the state file beside it records, after each page is written, the
 * cursor and the file length; `--resume` truncates the file to that length and continues from the cursor at
 * the same snapshot, so the result is byte for byte the file an uninterrupted export would have written.
 */
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { create } from '@bufbuild/protobuf';
import { DataExportRequestSchema } from '../../api/gen/permifyts/v1/data_pb.js';
import type { DataClient } from './client.js';
import { createYamlWriter, itemToNdjson, type DataFormat } from './formats.js';
import { formatBytes, formatDuration, type Progress } from './progress.js';
import { readState, removeState, writeState } from './state.js';

export interface ExportOptions {
  readonly tenantId: string;
  readonly snapToken?: string;
  readonly format: DataFormat;
  /** Output file; undefined = stdout (not resumable). */
  readonly out?: string;
  readonly pageSize?: number;
  readonly resume: boolean;
  readonly statePath?: string;
}

export interface ExportSummary {
  readonly tuples: number;
  readonly attributes: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly snapToken: string;
  readonly resumed: boolean;
}

interface ExportState {
  readonly kind: 'permify-data-export';
  readonly tenantId: string;
  readonly format: DataFormat;
  readonly snapToken: string;
  readonly cursor: string;
  readonly bytes: number;
  readonly tuples: number;
  readonly attributes: number;
  readonly yaml: { inAttributes: boolean; started: boolean };
}

export interface ExportIo {
  readonly client: DataClient;
  readonly progress: Progress;
  readonly stdout: NodeJS.WritableStream;
  readonly signal?: AbortSignal;
}

export async function runExport(o: ExportOptions, io: ExportIo): Promise<ExportSummary> {
  const started = performance.now();
  const statePath = o.out !== undefined ? (o.statePath ?? `${o.out}.export-state.json`) : undefined;
  let state: ExportState | undefined;
  if (o.resume) {
    if (statePath === undefined) throw new Error('--resume needs --out (stdout cannot be resumed)');
    state = readState<ExportState>(statePath);
    if (
      state !== undefined &&
      (state.kind !== 'permify-data-export' || state.tenantId !== o.tenantId || state.format !== o.format)
    ) {
      throw new Error(`the state file ${statePath} belongs to another export (tenant or format differ)`);
    }
  }
  const yaml = { ...(state?.yaml ?? { inAttributes: false, started: false }) };
  const yamlItem = createYamlWriter(yaml);
  let bytes = state?.bytes ?? 0;
  let tuples = state?.tuples ?? 0;
  let attributes = state?.attributes ?? 0;
  let snapToken = state?.snapToken ?? o.snapToken ?? '';
  let fd: number | undefined;
  if (o.out !== undefined) {
    fd = openSync(o.out, state ? 'r+' : 'w');
    if (state) ftruncateSync(fd, state.bytes);
  }
  const write = async (text: string): Promise<void> => {
    if (fd !== undefined) {
      const buf = Buffer.from(text, 'utf8');
      let done = 0;
      while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, bytes + done);
      bytes += buf.length;
    } else {
      bytes += Buffer.byteLength(text);
      if (!io.stdout.write(text)) await new Promise<void>((r) => io.stdout.once('drain', () => r()));
    }
  };
  try {
    const request = create(DataExportRequestSchema, {
      tenantId: o.tenantId,
      snapToken: state ? '' : (o.snapToken ?? ''),
      pageSize: o.pageSize ?? 0,
      cursor: state?.cursor ?? '',
    });
    for await (const page of io.client.export(request, io.signal)) {
      snapToken = page.snapToken;
      let text = '';
      for (const item of page.items) {
        text += o.format === 'yaml' ? yamlItem(item) : itemToNdjson(item);
        if (item.item.case === 'tuple') tuples += 1;
        else attributes += 1;
      }
      await write(text);
      if (statePath !== undefined && page.cursor !== '') {
        const next: ExportState = {
          kind: 'permify-data-export',
          tenantId: o.tenantId,
          format: o.format,
          snapToken,
          cursor: page.cursor,
          bytes,
          tuples,
          attributes,
          yaml,
        };
        writeState(statePath, next);
      }
      io.progress.update(tuples + attributes, bytes);
    }
    if (o.format === 'yaml' && !yaml.started) await write('relationships: []\n');
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (statePath !== undefined) removeState(statePath);
  return {
    tuples,
    attributes,
    bytes,
    seconds: (performance.now() - started) / 1000,
    snapToken,
    resumed: state !== undefined,
  };
}

export function describeExport(s: ExportSummary): string {
  const items = s.tuples + s.attributes;
  const rate = s.seconds > 0 ? Math.round(items / s.seconds) : 0;
  return [
    `export complete${s.resumed ? ' (resumed)' : ''}: ${s.tuples.toLocaleString('en-US')} tuples, ${s.attributes.toLocaleString('en-US')} attributes, ${formatBytes(s.bytes)}, ${formatDuration(s.seconds)} (${rate.toLocaleString('en-US')} items/s)`,
    `snap token: ${s.snapToken}`,
  ].join('\n');
}
