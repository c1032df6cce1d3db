/**
 * Exporter configuration fails at start naming the key when it cannot be served (no silent no-op), and the
 * profiler serves pprof CPU and heap profiles on its own port only.
 */
import * as http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { describe, expect, it } from 'vitest';
import { freePort } from '../support/postgres.js';
import { request, startTestServer } from '../e2e/rest-support.js';

describe('exporter keys', () => {
  const refused: [string, Record<string, unknown>, RegExp][] = [
    ['tracer.exporter jaeger', { 'tracer.enabled': true, 'tracer.exporter': 'jaeger', 'tracer.endpoint': 'localhost:14268' }, /tracer\.exporter: jaeger: .*OTLP/],
    ['tracer.exporter gcp', { 'tracer.enabled': true, 'tracer.exporter': 'gcp', 'tracer.endpoint': 'x' }, /tracer\.exporter: gcp/],
    ['an unknown tracer.exporter', { 'tracer.enabled': true, 'tracer.exporter': 'honeycomb', 'tracer.endpoint': 'x' }, /tracer\.exporter: unknown exporter "honeycomb"/],
    ['no tracer.exporter', { 'tracer.enabled': true }, /tracer\.exporter: must be set/],
    ['a tracer.protocol other than http/grpc', { 'tracer.enabled': true, 'tracer.exporter': 'otlp', 'tracer.endpoint': 'x:1', 'tracer.protocol': 'udp' }, /tracer\.protocol: must be http or grpc/],
    ['meter.exporter gcp', { 'meter.enabled': true, 'meter.exporter': 'gcp' }, /meter\.exporter: gcp/],
    ['logger export without an endpoint', { 'logger.enabled': true }, /logger\.endpoint: must be set/],
    ['zipkin without an endpoint', { 'tracer.enabled': true, 'tracer.exporter': 'zipkin' }, /tracer\.endpoint: must be set for the zipkin exporter/],
  ];
  it.each(refused)('%s fails at start naming the key', async (_what, flags, message) => {
    await expect(startTestServer(flags)).rejects.toThrow(message);
  });

  it.each([
    ['signoz', { 'tracer.exporter': 'signoz', 'tracer.endpoint': '127.0.0.1:1', 'tracer.insecure': true }],
    ['zipkin', { 'tracer.exporter': 'zipkin', 'tracer.endpoint': 'http://127.0.0.1:1/api/v2/spans' }],
    ['otlp-grpc', { 'tracer.exporter': 'otlp-grpc', 'tracer.endpoint': '127.0.0.1:1', 'tracer.insecure': true }],
  ])('tracer.exporter %s starts', async (_name, flags) => {
    const server = await startTestServer({ 'tracer.enabled': true, ...flags });
    await server.close();
  });
});

function get(port: number, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

function sampleTypes(body: Buffer): string[] {
  const p = Profile.decode(gunzipSync(body));
  return p.sampleType.map((t) => String(p.stringTable.strings[Number(t.type)]));
}

describe('profiler', () => {
  it('serves CPU and heap profiles in pprof format on its own port, and nothing on the API ports', async () => {
    const server = await startTestServer({ 'profiler.enabled': true, 'profiler.port': 0 });
    try {
      const port = server.ports.profiler as number;
      expect(port).toBeGreaterThan(0);
      expect([server.ports.grpc, server.ports.http]).not.toContain(port);
      const heap = await get(port, '/debug/pprof/heap');
      expect(heap.status).toBe(200);
      expect(sampleTypes(heap.body)).toEqual(expect.arrayContaining(['inuse_space']));
      const cpu = await get(port, '/debug/pprof/profile?seconds=1');
      expect(cpu.status).toBe(200);
      expect(sampleTypes(cpu.body).length).toBeGreaterThan(0);
      expect((await get(port, '/debug/pprof/profile?seconds=0')).status).toBe(400);
      expect((await get(port, '/debug/pprof/profile?seconds=abc')).status).toBe(400);
      expect((await get(port, '/v1/tenants/list')).status).toBe(404);
      expect((await request(server.ports.http as number, 'GET', '/debug/pprof/heap')).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('refuses an API port as profiler.port, naming the key', async () => {
    const port = await freePort();
    await expect(startTestServer({ 'server.grpc.port': port, 'profiler.enabled': true, 'profiler.port': String(port) })).rejects.toThrow(
      /profiler\.port: \d+ is an API port/,
    );
  });

  it('is off by default', async () => {
    const server = await startTestServer();
    expect(server.ports.profiler).toBeUndefined();
    await server.close();
  });
});
