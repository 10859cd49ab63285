/**
 * Zone failover (`zoneFailover: { enabled: true }`) with proxyless gRPC clients whose bootstrap node carries
 * `locality: { zone: zone-a }`: they read the EDS priorities (gRFC A27's priority LB) as Envoy does. The
 * scenarios of test/e2e/zone-failover-scenarios.ts through @grpc/grpc-js-xds in this process and through gRPC
 * C-core from Python (Debian's python3-grpcio and grpcio from PyPI) and through grpc-go, each on xds:///infermesh and one
 * timeline per process. No client NACKs. Pods on 127.0.2.11-14.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TritonClient } from '../../demo/fake-model-server.ts';
import { Mesh } from '../support/mesh.ts';
import { tritonOverXds } from '../support/xds-client.ts';
import { CALLER_ZONE, channelRun, GRPC_PARTIAL, ZONED_MODEL, ZONE_POLICIES, ZONE_PROBE_INTERVAL_MS, zoneFailoverScenarios, zonePods, type TimedRun } from '../e2e/zone-failover-scenarios.ts';
import { describeProcessClients, nacks } from './proxyless-clients.ts';

let mesh: Mesh;
let nacksBefore = 0;

beforeAll(async () => {
  mesh = await Mesh.start(zonePods('127.0.2.11'), ZONE_POLICIES, undefined, { probeIntervalMs: ZONE_PROBE_INTERVAL_MS });
  nacksBefore = await nacks(mesh);
}, 30_000);

afterAll(async () => {
  await mesh?.close();
});

describe(`@grpc/grpc-js-xds (node zone ${CALLER_ZONE})`, () => {
  let client: TritonClient | undefined;
  beforeAll(() => {
    client = tritonOverXds(mesh.channelOptions(`grpc-js-zone-${process.pid}`, CALLER_ZONE));
  });
  afterAll(() => {
    client?.close();
  });
  const run = channelRun(() => {
    if (!client) throw new Error('no client (beforeAll failed)');
    return client;
  }, (model) => ({ 'x-model': model }));
  zoneFailoverScenarios('grpc-js-xds', () => mesh, () => run, GRPC_PARTIAL);

  it('on the per-model target xds:///infermesh/zonal too: every call to zone-a', async () => {
    // grpc-js sends the target path as :authority unencoded, which the pods refuse: set it encoded (README).
    const options = { ...mesh.channelOptions(`grpc-js-zone-target-${process.pid}`, CALLER_ZONE), 'grpc.default_authority': encodeURIComponent(`infermesh/${ZONED_MODEL}`) };
    const own = tritonOverXds(options, `xds:///infermesh/${ZONED_MODEL}`);
    try {
      const { outcomes } = await channelRun(() => own, () => ({}))(ZONED_MODEL, 50, 0);
      expect(outcomes.filter((pod) => pod.startsWith('za-')), outcomes.join(' ')).toHaveLength(50);
    } finally {
      own.close();
    }
  });
});

describeProcessClients(() => mesh, 'proxyless-zone', (call, { label }) => {
  const run: TimedRun = async (model, calls, gapMs) => {
    const tally = await call('triton', model, calls, { 'x-model': model }, { gapMs });
    return { times: tally.times, outcomes: tally.outcomes };
  };
  // A process takes about a second to start and fetch its resources: its pods fail later in the timeline.
  zoneFailoverScenarios(label, () => mesh, () => run, GRPC_PARTIAL, { failAfterMs: 2_500, calls: 1_400 });

  it(`${label} on the per-model target xds:///infermesh/zonal too: every call to zone-a`, async () => {
    const tally = await call('triton', ZONED_MODEL, 50, {}, { target: `infermesh/${ZONED_MODEL}` });
    expect(tally.errors).toEqual({});
    expect(Object.keys(tally.pods).every((pod) => pod.startsWith('za-')), JSON.stringify(tally.pods)).toBe(true);
  }, 60_000);
}, CALLER_ZONE);

it('no client NACKed the priorities', async () => {
  expect(await nacks(mesh)).toBe(nacksBefore);
});
