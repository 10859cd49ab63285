import type http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminServer, listenHttp } from '../../src/admin/server.ts';
import { EMPTY_LAST_GOOD, reconcileWorld } from '../../src/controller/reconcile.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { explainModel, type Explanation } from '../../src/explain/explain.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { ResourceCodec } from '../../src/snapshot/codec.ts';
import { readFolder } from '../../src/sources/folder.ts';
import { createMetrics } from '../../src/metrics/metrics.ts';
import type { Endpoint } from '../../src/model/types.ts';
import { allModelEndpoints } from '../../src/status/model-endpoints.ts';
import { closeNow } from '../support/close-http.ts';
import { testModel, testPolicy } from '../support/models.ts';
import { runCli as run } from '../support/cli-run.ts';

const example = path.resolve(import.meta.dirname, '../../examples/basic');

async function explain(...argv: string[]): Promise<Explanation> {
  const { code, out, err } = await run('explain', ...argv, '-o', 'json');
  expect(err).toBe('');
  expect(code).toBe(0);
  return JSON.parse(out) as Explanation;
}

/**
 * A running control plane's view of the example's resnet50 (same clusters and addresses as
 * examples/basic): pod 0 has it, pod 1 does not, the canary pod is still loading version 2.
 */
function liveResnet50() {
  const ep = (address: string, podName: string, extra: Partial<Endpoint>): Endpoint => ({ address, port: 8001, health: 'healthy', podName, probePort: 8000, ...extra });
  const model = testModel(testPolicy(), []);
  model.backends[0]!.endpoints = [
    ep('127.0.0.11', 'resnet50-triton-0', { readiness: { state: 'ready' } }),
    ep('127.0.0.12', 'resnet50-triton-1', { health: 'unhealthy', readiness: { state: 'not-loaded', reason: 'UNAVAILABLE: unloaded' } }),
  ];
  model.backends[1]!.endpoints = [ep('127.0.0.13', 'resnet50-triton-v2-0', { health: 'unhealthy', readiness: { state: 'loading', reason: 'loading' } })];
  return allModelEndpoints([model]);
}

describe('infermesh explain: per-endpoint readiness', () => {
  let server: http.Server | undefined;
  let address = '';
  beforeAll(async () => {
    const status = { ready: true, models: [], policyErrors: [], readErrors: [], warnings: [], modelEndpoints: liveResnet50() };
    server = createAdminServer({ registry: createMetrics().registry, status: () => status });
    const { port } = await listenHttp(server, '127.0.0.1:0');
    address = `127.0.0.1:${port}`;
  });
  afterAll(() => closeNow(server));

  it('shows the probe settings with their provenance, and says that only a running control plane knows readiness', async () => {
    const e = await explain('--model', 'resnet50', '--config-dir', example);
    expect(e.settings.filter((s) => s.field.startsWith('probe.'))).toEqual([
      { field: 'probe.enabled', value: 'true', from: 'builtin' },
      { field: 'probe.port', value: 'http', from: 'builtin' },
    ]);
    expect(e.readiness).toBe('probing is on (port http): only a running control plane knows which endpoints have the model loaded; give --server HOST:PORT to ask one');
    expect(e.backends[0]?.endpoints[0]?.state).toBeUndefined();
  });

  it('with --server, shows each endpoint as the running control plane sees it: state, the server reason, pod', async () => {
    const e = await explain('--model', 'resnet', '--config-dir', example, '--server', address);
    expect(e.readiness).toBe(`from the control plane at ${address}`);
    expect(e.backends.map((b) => [b.cluster, b.endpoints.map((x) => [x.address, x.health, x.pod, x.state, x.reason])])).toEqual([
      ['infermesh|resnet50|stable', [
        ['127.0.0.11:8001', 'HEALTHY', 'resnet50-triton-0', 'ready', undefined],
        ['127.0.0.12:8001', 'UNHEALTHY', 'resnet50-triton-1', 'not-loaded', 'UNAVAILABLE: unloaded'],
      ]],
      ['infermesh|resnet50|canary', [['127.0.0.13:8001', 'UNHEALTHY', 'resnet50-triton-v2-0', 'loading', 'loading']]],
    ]);
  });

  it('says so when the control plane does not serve the model', async () => {
    const bert = await explain('--model', 'bert', '--config-dir', example, '--server', address);
    expect(bert.readiness).toBe(`the control plane at ${address} does not serve this model`);
    expect(bert.backends.flatMap((b) => b.endpoints.map((x) => x.state))).toEqual(bert.backends.flatMap((b) => b.endpoints.map(() => undefined)));
  });

  it('marks an endpoint the control plane does not know (yet) as unknown', async () => {
    const world = await readFolder(example);
    const result = reconcileWorld(world, EMPTY_LAST_GOOD, new ResourceCodec(loadEnvoyProtos()), DEFAULT_SETTINGS);
    const live = liveResnet50();
    live[0]!.backends[0]!.endpoints = live[0]!.backends[0]!.endpoints.slice(0, 1);
    const e = explainModel(result, DEFAULT_SETTINGS, 'resnet50', undefined, { from: 'there', models: live });
    expect(e.backends[0]?.endpoints.map((x) => [x.address, x.state])).toEqual([
      ['127.0.0.11:8001', 'ready'],
      ['127.0.0.12:8001', 'unknown'],
    ]);
  });

  it('prints the states in text', async () => {
    const { code, out } = await run('explain', '--model', 'resnet50', '--config-dir', example, '--server', address);
    expect(code).toBe(0);
    expect(out).toMatch(/127\.0\.0\.12:8001\s+UNHEALTHY\s+resnet50-triton-1 zone-b\s+not loaded: UNAVAILABLE: unloaded/);
    expect(out).toMatch(/127\.0\.0\.13:8001\s+UNHEALTHY\s+resnet50-triton-v2-0 zone-a\s+loading: loading/);
    expect(out).toContain(`readiness  from the control plane at ${address}`);
    expect(out).toMatch(/probe\.port\s+http\s+builtin/);
  });

  it('fails with a hint when --server does not answer', async () => {
    const closed = createAdminServer({ registry: createMetrics().registry, status: () => ({ ready: true, models: [], policyErrors: [], readErrors: [], warnings: [] }) });
    const { port } = await listenHttp(closed, '127.0.0.1:0');
    await closeNow(closed);
    const { code, err } = await run('explain', '--model', 'resnet50', '--config-dir', example, '--server', `127.0.0.1:${port}`, '--timeout', '2s');
    expect(code).toBe(1);
    expect(err).toContain(`cannot read http://127.0.0.1:${port}/status`);
    expect(err).toContain('kubectl port-forward');
  });
});
