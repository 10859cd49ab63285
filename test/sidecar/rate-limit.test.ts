/**
 * Per-model rate limit (policy `rateLimit`, README "Policy reference") through a real Envoy sidecar on every
 * pinned version (delta ADS, on-demand scopes and clusters): a burst beyond a model's bucket answers REST
 * callers 429 and gRPC callers RESOURCE_EXHAUSTED, both with x-infermesh-rate-limited naming the model;
 * another model on the same sidecar is not limited, and an alias has a bucket of its own; calls pass again
 * once the bucket refills.
 * Pods on 127.0.0.120-127.0.0.139.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TritonClient } from '../../demo/fake-model-server.ts';
import { RATE_LIMITED_HEADER } from '../../src/envoy/rate-limit.ts';
import { eventually } from '../support/eventually.ts';
import { Mesh, type PodSpec } from '../support/mesh.ts';
import { Sidecar, trackFailures } from '../support/sidecar.ts';
import { describeWithTool, envoyBinaries } from '../support/tools.ts';
import { grpcInfer, restInfer, sidecarClient, type GrpcOutcome, type RestOutcome } from './resilience-calls.ts';

const PODS: PodSpec[] = [{ kind: 'triton', host: '127.0.0.120', pod: 'rl-a', service: 'rl', models: ['limited', 'limitedgrpc', 'free'], version: '1' }];

const RATE = 2;
const BURST = 4;
const model = (name: string, protocol: 'http' | 'grpc', rest = '') => `model: ${name}
server: triton
protocol: ${protocol}
backends: [{ name: main, service: rl, port: ${protocol} }]
retries: { attempts: 0 }
${rest}`;

const POLICIES: Record<string, string> = {
  limited: model('limited', 'http', `aliases: [limited-alias]
rateLimit: { requestsPerSecond: ${RATE}, burst: ${BURST} }`),
  limitedgrpc: model('limitedgrpc', 'grpc', `rateLimit: { requestsPerSecond: ${RATE}, burst: ${BURST} }`),
  free: model('free', 'http'),
};

const LIMITED_PATH = '/v2/models/limited/infer';
const FREE_PATH = '/v2/models/free/infer';
/** Long enough for an emptied bucket to fill up again (BURST / RATE seconds, filled once a second). */
const REFILL_MS = Math.ceil(BURST / RATE) * 1_000 + 300;
const CALLS = 10;

/** A REST call to `limited` by its alias, in the model header. */
async function aliasInfer(sidecar: Sidecar): Promise<{ status: number; headers: Headers }> {
  const response = await fetch(`${sidecar.url}/v2/models/limited/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-model': 'limited-alias' },
    body: '{"inputs":[]}',
    signal: AbortSignal.timeout(5_000),
  });
  await response.text();
  return { status: response.status, headers: response.headers };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A full bucket lets BURST calls through; one fill (RATE tokens) may land while the burst is under way. The
 * rest are refused.
 */
function expectBurstLimited(passed: number, refused: number): void {
  expect(passed).toBeGreaterThanOrEqual(BURST);
  expect(passed).toBeLessThanOrEqual(BURST + RATE);
  expect(refused).toBe(CALLS - passed);
}

describeWithTool('per-model rate limit through a real Envoy sidecar', envoyBinaries(), (binaries) => {
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
      let client: TritonClient;

      beforeAll(async () => {
        sidecar = await Sidecar.start(mesh, binary, `rate-limit-${process.pid}-${binary.version}`);
        client = sidecarClient(sidecar);
        // Loads each model's table and clusters (on demand) before anything is counted.
        for (const path of [LIMITED_PATH, FREE_PATH]) await eventually(async () => expect((await restInfer(sidecar, path)).status).toBe(200));
        await eventually(async () => expect(await grpcInfer(client, 'limitedgrpc')).toMatchObject({ ok: true }));
      }, 30_000);
      afterAll(async () => {
        client?.close();
        await sidecar?.stop(failures.failed);
      });

      it('REST: a burst beyond the bucket gets 429 naming the model; another model is not limited; an alias has its own bucket; calls pass after refill', async () => {
        await sleep(REFILL_MS);
        const outcomes: RestOutcome[] = await Promise.all(Array.from({ length: CALLS }, () => restInfer(sidecar, LIMITED_PATH)));
        const refused = outcomes.filter((o) => o.status === 429);
        expectBurstLimited(outcomes.filter((o) => o.status === 200).length, refused.length);
        for (const answer of refused) {
          expect(answer.headers.get(RATE_LIMITED_HEADER)).toBe('limited');
          expect(answer.headers.get('content-type')).toBe('application/json');
          expect(JSON.parse(answer.body)).toEqual({ error: 'rate_limited', model: 'limited', message: 'model limited is over its rate limit in this sidecar: retry later' });
        }
        for (const answer of outcomes.filter((o) => o.status === 200)) expect(answer.headers.get(RATE_LIMITED_HEADER)).toBeNull();

        // Same sidecar, same pod, bucket of `limited` empty: `free` has no limit.
        const free = await Promise.all(Array.from({ length: CALLS }, () => restInfer(sidecar, FREE_PATH)));
        expect(free.map((o) => o.status)).toEqual(Array.from({ length: CALLS }, () => 200));

        // An alias has its own table, so its own bucket; its refusals still name the model.
        const viaAlias = await Promise.all(Array.from({ length: CALLS }, () => aliasInfer(sidecar)));
        const aliasRefused = viaAlias.filter((o) => o.status === 429);
        expectBurstLimited(viaAlias.filter((o) => o.status === 200).length, aliasRefused.length);
        for (const answer of aliasRefused) expect(answer.headers.get(RATE_LIMITED_HEADER)).toBe('limited');

        await sleep(REFILL_MS);
        const again = await restInfer(sidecar, LIMITED_PATH);
        expect(again.status).toBe(200);
        expect(sidecar.envoy.log()).not.toContain('NACK');
      }, 20_000);

      it('gRPC: a burst beyond the bucket gets RESOURCE_EXHAUSTED naming the model; calls pass after refill', async () => {
        await sleep(REFILL_MS);
        const outcomes: GrpcOutcome[] = await Promise.all(Array.from({ length: CALLS }, () => grpcInfer(client, 'limitedgrpc')));
        const refused = outcomes.filter((o) => !o.ok);
        expectBurstLimited(outcomes.filter((o) => o.ok).length, refused.length);
        for (const outcome of refused) {
          expect(outcome).toMatchObject({
            ok: false,
            code: grpc.status.RESOURCE_EXHAUSTED,
            details: 'model limitedgrpc is over its rate limit in this sidecar: retry later',
            metadata: { [RATE_LIMITED_HEADER]: 'limitedgrpc' },
          });
        }

        await sleep(REFILL_MS);
        expect(await grpcInfer(client, 'limitedgrpc')).toMatchObject({ ok: true });
      }, 20_000);
    });
  });
});
