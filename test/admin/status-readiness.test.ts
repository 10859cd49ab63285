import type http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAdminServer, listenHttp } from '../../src/admin/server.ts';
import { Controller } from '../../src/controller/controller.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { DEFAULT_SETTINGS, type Model } from '../../src/model/types.ts';
import type { ModelRef, ReadinessSource } from '../../src/probe/types.ts';
import { ResourceCodec } from '../../src/snapshot/codec.ts';
import { readFolder } from '../../src/sources/folder.ts';
import type { ConfigMapObject } from '../../src/sources/types.ts';
import type { ModelEndpoints } from '../../src/status/model-endpoints.ts';
import { SnapshotStore } from '../../src/xds/snapshot-store.ts';
import { closeNow } from '../support/close-http.ts';

const example = path.resolve(import.meta.dirname, '../../examples/basic');

/** What the prober would answer for the example: resnet50-triton-1 never loaded resnet50; bert's pods do not answer. */
function fakeReadiness(): ReadinessSource {
  return {
    lookup(address: string, _port: number, ref: ModelRef) {
      if (ref.model === 'bert') return { state: 'probe-failing', reason: 'connect ECONNREFUSED' };
      if (address === '127.0.0.12') return { state: 'not-loaded', reason: 'UNAVAILABLE: unloaded' };
      return { state: 'ready' };
    },
    subscribe: () => () => {},
    setTargets() {},
    close() {},
  };
}

let server: http.Server | undefined;
afterEach(async () => {
  await closeNow(server);
  server = undefined;
});

describe('/status, metrics and Events from a reconcile with model readiness', () => {
  it('reports per endpoint the state and reason, the fallback, counts, the gauge, and the served models to onEndpoints', async () => {
    const world = await readFolder(example);
    const metrics = createMetrics();
    const told: { configMaps: readonly ConfigMapObject[]; models: readonly Model[] }[] = [];
    const controller = new Controller({
      source: { read: async () => world },
      store: new SnapshotStore(),
      codec: new ResourceCodec(loadEnvoyProtos()),
      settings: DEFAULT_SETTINGS,
      logger: silentLogger(),
      metrics,
      readiness: fakeReadiness(),
      onEndpoints: async (configMaps, models) => void told.push({ configMaps, models }),
    });
    server = createAdminServer({ registry: metrics.registry, status: () => controller.status() });
    const { port } = await listenHttp(server, '127.0.0.1:0');
    await controller.start();
    controller.stop();
    const status = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as { models: { model: string; state: string }[]; modelEndpoints: ModelEndpoints[] };

    expect(status.models.map((m) => [m.model, m.state])).toEqual([['bert', 'serving'], ['resnet50', 'serving']]);
    const resnet = status.modelEndpoints.find((m) => m.model === 'resnet50');
    expect(resnet?.probe).toEqual({ enabled: true, port: 'http' });
    expect(resnet?.counts).toEqual({ ready: 2, loading: 0, 'not-loaded': 1, 'probe-failing': 0, unprobed: 0, draining: 0 });
    expect(resnet?.backends.find((b) => b.name === 'stable')?.endpoints).toEqual([
      { address: '127.0.0.11:8001', pod: 'resnet50-triton-0', zone: 'zone-a', health: 'healthy', state: 'ready' },
      { address: '127.0.0.12:8001', pod: 'resnet50-triton-1', zone: 'zone-b', health: 'unhealthy', state: 'not-loaded', reason: 'UNAVAILABLE: unloaded' },
    ]);
    const bert = status.modelEndpoints.find((m) => m.model === 'bert');
    expect(bert?.serving).toBe(2);
    expect(bert?.backends.flatMap((b) => b.endpoints.map((e) => [e.health, e.state, e.fallback]))).toEqual([
      ['healthy', 'probe-failing', 'probing failed for every endpoint; routing by pod readiness'],
      ['healthy', 'probe-failing', 'probing failed for every endpoint; routing by pod readiness'],
    ]);

    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toContain('infermesh_model_endpoints{model="resnet50",state="ready"} 2');
    expect(text).toContain('infermesh_model_endpoints{model="resnet50",state="not-loaded"} 1');
    expect(text).toContain('infermesh_model_endpoints{model="bert",state="probe-failing"} 2');

    expect(told).toHaveLength(1);
    expect(told[0]?.models.map((m) => m.policy.model).sort()).toEqual(['bert', 'resnet50']);
    expect(told[0]?.configMaps.map((cm) => cm.name).sort()).toEqual(['bert-policy', 'resnet50-policy']);
  });
});
