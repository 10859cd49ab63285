import type http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createAdminServer, listenHttp, splitHostPort } from '../../src/admin/server.ts';
import { Controller } from '../../src/controller/controller.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { ResourceCodec } from '../../src/snapshot/codec.ts';
import type { SourceWorld } from '../../src/sources/types.ts';
import { SnapshotStore } from '../../src/xds/snapshot-store.ts';
import { closeNow } from '../support/close-http.ts';

let server: http.Server | undefined;
afterEach(async () => {
  const open = server;
  server = undefined;
  await closeNow(open);
});

describe('admin server', () => {
  it('stays unready until the first complete read has produced a snapshot', async () => {
    let finishRead: (world: SourceWorld) => void = () => {};
    const source = { read: () => new Promise<SourceWorld>((resolve) => (finishRead = resolve)) };
    const metrics = createMetrics();
    const store = new SnapshotStore();
    const controller = new Controller({ source, store, codec: new ResourceCodec(loadEnvoyProtos()), settings: DEFAULT_SETTINGS, logger: silentLogger(), metrics });
    server = createAdminServer({ registry: metrics.registry, status: () => controller.status() });
    const { port } = await listenHttp(server, '127.0.0.1:0');
    const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`);

    const started = controller.start();
    expect((await get('/readyz')).status).toBe(503);
    expect((await get('/healthz')).status).toBe(200);
    expect(store.current()).toBeUndefined();

    finishRead({ configMaps: [], endpointSlices: [], readErrors: [] });
    await started;
    expect((await get('/readyz')).status).toBe(200);
    expect(store.current()).toBeDefined();
    const metricsText = await (await get('/metrics')).text();
    expect(metricsText).toContain('infermesh_snapshot_version 1');
    expect(metricsText).toContain('infermesh_snapshot_build_seconds_count 1');
    expect((await get('/nope')).status).toBe(404);
  });
});

describe('splitHostPort', () => {
  it.each([
    ['0.0.0.0:9090', { host: '0.0.0.0', port: 9090 }],
    ['[::1]:18000', { host: '::1', port: 18000 }],
  ])('%s', (address, expected) => expect(splitHostPort(address)).toEqual(expected));

  it('explains a bad address', () => {
    expect(() => splitHostPort('9090')).toThrow('expected HOST:PORT');
  });
});
