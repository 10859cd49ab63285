/**
 * Zone failover (`zoneFailover: { enabled: true }`) with proxyless gRPC clients whose bootstrap node carries
 * `locality: { zone: zone-a }`: they read the EDS priorities (gRFC A27's priority LB) as Envoy does. The
 * scenarios of test/e2e/zone-failover-scenarios.ts through @grpc/grpc-js-xds in this process and through gRPC
 * C-core from Python (Debian's python3-grpcio and grpcio from PyPI) and through grpc-go, each on xds:///infermesh and one
 * timeline per process; with the process clients also failover on outlier ejection alone (failure percentage,
 * gRFC A50), pods staying ready while they fail (grpc-js-xds 1.14 does not fail over reliably then: README).
 * No client NACKs. Pods on 127.0.2.11-14.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TritonClient } from '../../demo/fake-model-server.ts';
import { Mesh } from '../support/mesh.ts';
import { tritonOverXds } from '../support/xds-client.ts';
import { CALLER_ZONE, channelRun, GRPC_PARTIAL, ZONED_MODEL, ZONE_POLICIES, ZONE_PROBE_INTERVAL_MS, zoneFailoverScenarios, zonePods, type TimedRun } from '../e2e/zone-failover-scenarios.ts';
import { describeProcessClients, nacks } from './proxyless-clients.ts';

/**
 * Zone failover with gRPC's failure-percentage ejection (gRPC has no consecutive-errors detector), for 2 s.
 * maxEjectionPercent 100: at 50 (a whole zone of 4 pods) C-core 1.51 never failed over (README).
 */
const EJECTING_MODEL = 'zonal-ejecting';
const POLICIES = {
  ...ZONE_POLICIES,
  'ejecting-policy': `
model: ${EJECTING_MODEL}
server: triton
protocol: grpc
backends: [{ name: main, service: zonal, port: grpc }]
outlierDetection: { interval: 200ms, baseEjectionTime: 2s, maxEjectionPercent: 100, failurePercentage: { threshold: 50, minimumHosts: 2, requestVolume: 5 } }
retries: { attempts: 0 }
zoneFailover: { enabled: true }
`,
};

let mesh: Mesh;
let nacksBefore = 0;

beforeAll(async () => {
  mesh = await Mesh.start(zonePods('127.0.2.11'), POLICIES, undefined, { probeIntervalMs: ZONE_PROBE_INTERVAL_MS });
  nacksBefore = await nacks(mesh);
}, 30_000);

afterAll(async () => {
  await mesh?.close();
});

/**
 * While zone-a fails every call: failures until the first ejection sweep that sees enough calls, then a run of
 * zone-b calls as long as the ejection lasts (2 s of calls 5 ms apart is some 300; a third of it is asked).
 * When the ejection ends, zone-a fails again until the next sweep: the pods were failing all along.
 */
function expectEjectionFailover(client: string, outcomes: string[]): void {
  const firstRemote = outcomes.findIndex((outcome) => outcome.startsWith('zb-'));
  let longest = 0;
  let current = 0;
  for (const outcome of outcomes) {
    current = outcome.startsWith('zb-') ? current + 1 : 0;
    longest = Math.max(longest, current);
  }
  console.log(`${client}: outlier ejection in zone-a: ${firstRemote} calls failed before the first went to zone-b; the longest run of zone-b calls was ${longest} of ${outcomes.length}`);
  expect(outcomes.some((outcome) => outcome.startsWith('za-')), outcomes.join(' ')).toBe(false);
  expect(firstRemote, outcomes.join(' ')).toBeGreaterThan(0);
  expect(firstRemote, outcomes.join(' ')).toBeLessThan(150);
  expect(longest, outcomes.join(' ')).toBeGreaterThanOrEqual(100);
}

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

  it(`${label}: zone-a pods stay ready but fail every call: failure-percentage ejection moves calls to zone-b`, async () => {
    const zoneA = ['za-0', 'za-1'].map((name) => mesh.pod(name));
    let outcomes: string[];
    try {
      for (const pod of zoneA) pod.setFailure({ kind: 'always', code: 14 });
      // About 2 s of calls, 5 ms apart, from a client that starts while zone-a fails.
      outcomes = (await run(EJECTING_MODEL, 400, 5)).outcomes;
    } finally {
      for (const pod of zoneA) pod.setFailure({ kind: 'none' });
    }
    expectEjectionFailover(label, outcomes);
  }, 60_000);

  it(`${label} on the per-model target xds:///infermesh/zonal too: every call to zone-a`, async () => {
    const tally = await call('triton', ZONED_MODEL, 50, {}, { target: `infermesh/${ZONED_MODEL}` });
    expect(tally.errors).toEqual({});
    expect(Object.keys(tally.pods).every((pod) => pod.startsWith('za-')), JSON.stringify(tally.pods)).toBe(true);
  }, 60_000);
}, CALLER_ZONE);

it('no client NACKed the priorities', async () => {
  expect(await nacks(mesh)).toBe(nacksBefore);
});
