/**
 * The xDS request-rate limit (README, "Limits on the xDS port") against the client it must never trip: a real
 * Envoy sidecar (delta ADS, scopes, tables and clusters loaded on demand) whose application calls 200 models
 * it has never called all at once, then 200 more one after another (each waiting for its model to load:
 * Envoy cannot merge their requests), on every pinned Envoy version. The control plane keeps its default rate
 * but a burst of 500, less than the calls in turn need, so they pass only if the default rate sustains them.
 * Pods on 127.0.0.230.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/cli/serve.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import type { MeshSettings } from '../../src/model/types.ts';
import { DEFAULT_XDS_LIMITS } from '../../src/xds/stream-limits.ts';
import { Mesh, type PodSpec } from '../support/mesh.ts';
import { Sidecar, trackFailures } from '../support/sidecar.ts';
import { describeWithTool, envoyBinaries } from '../support/tools.ts';
import { restInfer } from './resilience-calls.ts';

const AT_ONCE = Array.from({ length: 200 }, (_, i) => `burst${i}`);
const IN_TURN = Array.from({ length: 200 }, (_, i) => `turn${i}`);
const MODELS = [...AT_ONCE, ...IN_TURN];
const PODS: PodSpec[] = [{ kind: 'triton', host: '127.0.0.230', pod: 'burst-a', service: 'burst', models: MODELS, version: '1' }];
const POLICIES = Object.fromEntries(
  MODELS.map((name) => [name, `model: ${name}\nserver: triton\nprotocol: http\nbackends: [{ name: main, service: burst, port: http, version: "1" }]\nretries: { attempts: 0 }\n`]),
);

const BURST = 500;

const sum = async (metric: { get(): Promise<{ values: { value: number }[] }> }) => (await metric.get()).values.reduce((total, v) => total + v.value, 0);

describeWithTool('a real Envoy loading 200 models on demand at once stays under the request-rate limit', envoyBinaries(), (binaries) => {
  const failures = trackFailures();
  let mesh: Mesh;

  beforeAll(async () => {
    mesh = await Mesh.start(PODS, POLICIES);
  });
  afterAll(async () => {
    await mesh?.close();
  });

  binaries.forEach((binary) => {
    describe(`Envoy ${binary.version}`, () => {
      let sidecar: Sidecar;
      beforeAll(async () => {
        const withSmallBurst = (xdsAddress: string, settings: MeshSettings) =>
          startServer({ source: { kind: 'folder', dir: mesh.dir }, xdsAddress, adminAddress: '127.0.0.1:0', settings, logger: silentLogger(), holdoffMs: 20, xdsLimits: { requestBurst: BURST } });
        sidecar = await Sidecar.start(mesh, binary, `burst-${process.pid}-${binary.version}`, {}, withSmallBurst);
      }, 30_000);
      afterAll(async () => {
        await sidecar?.stop(failures.failed);
      });

      it('answers 200 first calls made at once, then 200 made one after another, and its ADS stream is never ended', async () => {
        const { metrics } = sidecar.controlPlane;
        const atOnce = await Promise.all(AT_ONCE.map((name) => restInfer(sidecar, `/v2/models/${name}/infer`, 15_000)));
        expect(atOnce.map((answer) => answer.status).filter((status) => status !== 200)).toEqual([]);
        const acksAtOnce = await sum(metrics.acks);
        const started = performance.now();
        for (const name of IN_TURN) expect((await restInfer(sidecar, `/v2/models/${name}/infer`, 15_000)).status).toBe(200);
        const seconds = (performance.now() - started) / 1000;
        const acksInTurn = (await sum(metrics.acks)) - acksAtOnce;
        // Each ACK follows a response to a subscription request: requests are about twice the ACKs.
        console.log(
          `Envoy ${binary.version}: 200 models at once -> ${acksAtOnce} ACKs; 200 in turn over ${seconds.toFixed(1)} s -> ${acksInTurn} ACKs (burst ${BURST}, ${DEFAULT_XDS_LIMITS.requestsPerSecond}/s)`,
        );
        // The calls in turn needed more requests than the burst holds: the rate, not the burst, carried them.
        expect(acksInTurn).toBeGreaterThan(BURST);
        expect(await sum(metrics.refusedStreams)).toBe(0);
        expect(await sum(metrics.connectedStreams)).toBe(1);
        expect(sidecar.controlPlane.xds.streams()).toHaveLength(1);
      }, 90_000);
    });
  });
});
