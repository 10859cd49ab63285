/**
 * Policy `coldStart` with proxyless gRPC clients: while the model has no ready pod, its own table (the one a
 * per-model target xds:///infermesh/<model> reads) carries the optional ext_proc override, and so do its
 * version routes (version 2 never has a pod: its route keeps its own override after version 1 is ready). gRPC has no
 * ext_proc: every client must accept the table (no NACK) and is not held by the control plane; gRPC's own
 * wait-for-ready does the waiting, up to the call's deadline. grpc-js-xds in this process; gRPC C-core from
 * Python (Debian python3-grpcio 1.51 and grpcio from PyPI) and grpc-go (both client programs always set
 * wait-for-ready with a 10 s deadline). Pods on 127.0.4.2.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tritonInfer } from '../../demo/fake-model-server.ts';
import { HOLD_VERSION_METADATA } from '../../src/envoy/cold-start.ts';
import { EXT_PROC_FILTER } from '../../src/envoy/names.ts';
import { eventually } from '../support/eventually.ts';
import { Mesh } from '../support/mesh.ts';
import { tritonOverXds } from '../support/xds-client.ts';
import { describeProcessClients, nacks } from './proxyless-clients.ts';

const POLICY = `
model: coldp
server: triton
protocol: grpc
backends:
  - { name: main, service: csp, port: grpc, version: "1", weight: 1 }
  - { name: next, service: csp-next, port: grpc, version: "2", weight: 0 }
retries: { attempts: 0 }
coldStart: { holdFor: 30s }
`;
const TARGET = 'infermesh/coldp';

let mesh: Mesh;

beforeAll(async () => {
  mesh = await Mesh.start(
    [{ kind: 'triton', host: '127.0.4.2', pod: 'csp-a', service: 'csp', models: [], version: '1', onlyListedModels: true }],
    { 'coldp-policy': POLICY },
    undefined,
    { probeIntervalMs: 1_000 },
  );
});

afterAll(async () => {
  await mesh?.close();
});

function isServiceError(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && 'code' in error;
}

async function callCold(options: { waitForReady?: boolean; timeoutMs: number }): Promise<{ ok: boolean; code?: grpc.status; ms: number }> {
  const channel = { ...mesh.channelOptions(`grpc-js-cold-${process.pid}-${String(options.waitForReady)}`), 'grpc.default_authority': encodeURIComponent(TARGET) };
  const client = tritonOverXds(channel, `xds:///${TARGET}`);
  const metadata = new grpc.Metadata();
  metadata.set('x-model', 'coldp');
  if (options.waitForReady) metadata.setOptions({ waitForReady: true });
  const started = performance.now();
  try {
    await tritonInfer(client, 'coldp', { metadata, timeoutMs: options.timeoutMs });
    return { ok: true, ms: performance.now() - started };
  } catch (error) {
    if (!isServiceError(error)) throw error;
    return { ok: false, code: error.code, ms: performance.now() - started };
  } finally {
    client.close();
  }
}

it('the model\'s own table carries the optional ext_proc override while it has no ready pod, on its version routes too', async () => {
  await eventually(() => {
    const table = JSON.stringify(mesh.server.store.current()?.resources('route').get(TARGET)?.json);
    expect(table).toContain(EXT_PROC_FILTER);
    expect(table).toContain(HOLD_VERSION_METADATA);
  });
});

it('grpc-js-xds accepts it (no NACK) and, without wait-for-ready, fails at once with UNAVAILABLE', async () => {
  const before = await nacks(mesh);
  const outcome = await callCold({ timeoutMs: 10_000 });
  expect(outcome).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
  expect(outcome.ms).toBeLessThan(5_000);
  expect(await nacks(mesh)).toBe(before);
});

describeProcessClients(() => mesh, 'proxyless-cold', (call, { label }) => {

  it(`${label} accepts it (no NACK) and waits (wait_for_ready) until its own deadline`, async () => {
    const before = await nacks(mesh);
    const { pods, errors } = await call('triton', 'coldp', 1, { 'x-model': 'coldp' }, { target: TARGET });
    expect(pods).toEqual({});
    expect(errors).toEqual({ DEADLINE_EXCEEDED: 1 });
    expect(await nacks(mesh)).toBe(before);
  }, 30_000);
});

it('grpc-js-xds with wait-for-ready waits for the pod and succeeds once it loads the model', async () => {
  const before = await nacks(mesh);
  const call = callCold({ waitForReady: true, timeoutMs: 20_000 });
  // Give the call time to start waiting before the model exists anywhere.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  await mesh.pod('csp-a').load('coldp');
  const outcome = await call;
  expect(outcome.ok).toBe(true);
  expect(outcome.ms).toBeGreaterThan(1_000);
  // The split serves now; version 2's route still holds for itself, and the client took that table too.
  const table = JSON.stringify(mesh.server.store.current()?.resources('route').get(TARGET)?.json);
  expect(table).toContain(HOLD_VERSION_METADATA);
  expect(await nacks(mesh)).toBe(before);
}, 30_000);
