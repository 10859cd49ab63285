/**
 * Zone failover (`zoneFailover: { enabled: true }`) through a real Envoy sidecar on every pinned Envoy (delta
 * ADS, as every sidecar), started with --service-zone zone-a as `infermesh inject` starts it: the scenarios
 * of test/e2e/zone-failover-scenarios.ts, called over gRPC (ModelInfer with x-model) on the sidecar port.
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

let mesh: Mesh;
const failures = trackFailures();

beforeAll(async () => {
  mesh = await Mesh.start(zonePods('127.0.2.1'), ZONE_POLICIES, undefined, { probeIntervalMs: ZONE_PROBE_INTERVAL_MS });
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
