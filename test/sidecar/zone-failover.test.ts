/**
 * Zone failover (`zoneFailover: { enabled: true }`) through a real Envoy sidecar on every pinned Envoy (delta
 * ADS, as every sidecar), started with --service-zone zone-a as `infermesh inject` starts it: the scenarios
 * of test/e2e/zone-failover-scenarios.ts, called over gRPC (ModelInfer with x-model) on the sidecar port;
 * also failover on EndpointSlice readiness and on outlier ejection alone (pods that stay ready but fail).
 * Pods on 127.0.2.1-4.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTritonClient, type TritonClient } from '../../demo/fake-model-server.ts';
import { eventually } from '../support/eventually.ts';
import { Mesh } from '../support/mesh.ts';
import { Sidecar, trackFailures } from '../support/sidecar.ts';
import { describeWithTool, envoyBinaries } from '../support/tools.ts';
import { CALLER_ZONE, channelRun, ENVOY_PARTIAL, ZONED_MODEL, ZONE_POLICIES, ZONE_PROBE_INTERVAL_MS, zoneFailoverScenarios, zonePods } from '../e2e/zone-failover-scenarios.ts';

/** Zone failover with consecutive-error ejection: a pod ejected after 3 failed calls in a row, for 2 s. */
const EJECTING_MODEL = 'zonal-ejecting';
const EJECTION_MS = 2_000;
const POLICIES = {
  ...ZONE_POLICIES,
  'ejecting-policy': `
model: ${EJECTING_MODEL}
server: triton
protocol: grpc
backends: [{ name: main, service: zonal, port: grpc }]
outlierDetection: { consecutiveErrors: 3, interval: 100ms, baseEjectionTime: 2s, maxEjectionPercent: 50, failurePercentage: null }
retries: { attempts: 0 }
zoneFailover: { enabled: true }
`,
};

let mesh: Mesh;
const failures = trackFailures();

beforeAll(async () => {
  mesh = await Mesh.start(zonePods('127.0.2.1'), POLICIES, undefined, { probeIntervalMs: ZONE_PROBE_INTERVAL_MS });
}, 30_000);

afterAll(async () => {
  await mesh?.close();
});

describeWithTool('zone failover through an Envoy sidecar', envoyBinaries(), (binaries) => {
  for (const binary of binaries) {
    describe(`Envoy ${binary.version} (--service-zone ${CALLER_ZONE})`, () => {
      let sidecar: Sidecar | undefined;
      let client: TritonClient | undefined;
      beforeAll(async () => {
        sidecar = await Sidecar.start(mesh, binary, `zone-${process.pid}-${binary.version}`, { extraArgs: ['--service-zone', CALLER_ZONE] });
        client = createTritonClient(sidecar.authority, grpc.credentials.createInsecure());
      });
      afterAll(async () => {
        client?.close();
        await sidecar?.stop(failures.failed);
      });
      const run = channelRun(() => {
        if (!client) throw new Error(`no sidecar for Envoy ${binary.version} (beforeAll failed)`);
        return client;
      }, (model) => ({ 'x-model': model }));
      zoneFailoverScenarios(`Envoy ${binary.version}`, () => mesh, () => run, ENVOY_PARTIAL);

      it('zone-a pods not ready in their EndpointSlices (pod readiness, no model probe involved): calls move to zone-b, and back once they are ready', async () => {
        const zoneA = ['za-0', 'za-1'].map((name) => mesh.pod(name));
        const shareIn = async (prefix: string) => (await run(ZONED_MODEL, 50, 0)).outcomes.filter((pod) => pod.startsWith(prefix)).length;
        try {
          for (const pod of zoneA) pod.setReady(false);
          await mesh.writeSlices();
          await eventually(async () => expect(await shareIn('zb-')).toBe(50), { timeoutMs: 10_000, intervalMs: 100 });
        } finally {
          for (const pod of zoneA) pod.setReady(true);
          await mesh.writeSlices();
        }
        await eventually(async () => expect(await shareIn('za-')).toBe(50), { timeoutMs: 10_000, intervalMs: 100 });
      });

      it('zone-a pods stay ready but fail every call: outlier detection ejects them, calls fail over to zone-b, and return after the ejection', async () => {
        const zoneA = ['za-0', 'za-1'].map((name) => mesh.pod(name));
        const inZone = (outcomes: string[], prefix: string) => outcomes.filter((pod) => pod.startsWith(prefix)).length;
        await eventually(async () => expect(inZone((await run(EJECTING_MODEL, 20, 0)).outcomes, 'za-')).toBe(20), { timeoutMs: 20_000, intervalMs: 200 });
        let failing: string[];
        let restoredAt: number;
        try {
          for (const pod of zoneA) pod.setFailure({ kind: 'always', code: grpc.status.UNAVAILABLE });
          failing = (await run(EJECTING_MODEL, 60, 0)).outcomes;
        } finally {
          for (const pod of zoneA) pod.setFailure({ kind: 'none' });
          restoredAt = performance.now();
        }
        // 3 failures in a row eject a pod at once (not at the next interval): about 3 per zone-a pod. With one
        // of the two ejected, Envoy already sends part of the calls to zone-b (ENVOY_PARTIAL); with both, all.
        const failed = failing.filter((outcome) => !outcome.startsWith('z')).length;
        const afterLastFailure = failing.length - 1 - failing.findLastIndex((outcome) => !outcome.startsWith('z'));
        expect(failed, failing.join(' ')).toBeGreaterThanOrEqual(3);
        expect(failed, failing.join(' ')).toBeLessThanOrEqual(8);
        expect(inZone(failing.slice(-afterLastFailure), 'zb-'), failing.join(' ')).toBe(afterLastFailure);
        expect(afterLastFailure, failing.join(' ')).toBeGreaterThanOrEqual(45);
        // No probe or EndpointSlice saw anything: zone-a is back once its ejection ends (2 s, checked every 100 ms).
        await eventually(async () => expect(inZone((await run(EJECTING_MODEL, 20, 0)).outcomes, 'za-')).toBe(20), { timeoutMs: 10_000, intervalMs: 100 });
        const returnMs = performance.now() - restoredAt;
        console.log(`Envoy ${binary.version}: outlier ejection in zone-a: ${failed} calls failed, then the last ${afterLastFailure} of 60 all went to zone-b; zone-a served again ${Math.round(returnMs)} ms after it recovered`);
        expect(returnMs).toBeGreaterThanOrEqual(EJECTION_MS - 500);
      });

      it('a zone from the bootstrap (infermesh bootstrap --zone zone-b) keeps calls in zone-b; an empty --service-zone (a pod without the zone label) spreads them', async () => {
        const cases: [string, { zone?: string; extraArgs?: string[] }, string | undefined][] = [
          ['zone-b', { zone: 'zone-b' }, 'zb-'],
          ['none', { extraArgs: ['--service-zone', ''] }, undefined],
        ];
        for (const [zone, options, expected] of cases) {
          const other = await Sidecar.start(mesh, binary, `zone-${zone}-${process.pid}-${binary.version}`, options);
          const otherClient = createTritonClient(other.authority, grpc.credentials.createInsecure());
          try {
            const call = channelRun(() => otherClient, (model) => ({ 'x-model': model }));
            const { outcomes } = await call(ZONED_MODEL, 100, 0);
            if (expected) expect(outcomes.filter((pod) => pod.startsWith(expected)).length, outcomes.join(' ')).toBe(100);
            else for (const prefix of ['za-', 'zb-']) expect(outcomes.filter((pod) => pod.startsWith(prefix)).length, outcomes.join(' ')).toBeGreaterThan(10);
          } finally {
            otherClient.close();
            await other.stop(failures.failed);
          }
        }
      }, 60_000);
    });
  }
});
