/**
 * Session affinity (`affinity: { header: x-session-id }`) through a real Envoy sidecar on every pinned Envoy
 * (delta ADS, as every sidecar): ring hash on the header within a backend. The same session id keeps reaching
 * the same pod, ids spread over the pods, and when a 5th pod joins the Service about 1/5 of the ids move to it
 * (and some more between the old pods: the ring gives each host ceil(1024/N) points), and all come back when
 * it leaves.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFakeModelServer } from '../../demo/fake-model-server.ts';
import { eventually } from '../support/eventually.ts';
import { Mesh, type PodSpec } from '../support/mesh.ts';
import { trackFailures, type Sidecar } from '../support/sidecar.ts';
import { describeWithTool, envoyBinaries } from '../support/tools.ts';
import { describeSidecars, tallyPods } from './routing-support.ts';

const POLICY = `
model: sticky
server: generic
protocol: http
backends: [{ name: main, service: sticky, port: http }]
affinity: { header: x-session-id }
`;

const pod = (i: number): PodSpec => ({ kind: 'triton', host: `127.0.0.${100 + i}`, pod: `sticky-${i}`, service: 'sticky', models: ['sticky'], version: '1' });
const PODS = [0, 1, 2, 3].map(pod);
/** Runs from the start; only the EndpointSlices decide whether Envoy knows it. */
const ADDED = pod(4);
const INFER = '/v2/models/sticky/infer';

let mesh: Mesh;
const failures = trackFailures();

beforeAll(async () => {
  mesh = await Mesh.start(PODS, { 'sticky-policy': POLICY });
  mesh.pods.set(ADDED.pod, await startFakeModelServer(ADDED));
}, 30_000);

afterAll(async () => {
  await mesh?.close();
});

async function servedPod(sidecar: Sidecar, session?: string): Promise<string> {
  const headers: Record<string, string> = { 'x-model': 'sticky', 'content-type': 'application/json' };
  if (session !== undefined) headers['x-session-id'] = session;
  const response = await fetch(`${sidecar.url}${INFER}`, { method: 'POST', headers, body: '{"inputs":[]}', signal: AbortSignal.timeout(5_000) });
  const body = (await response.json()) as { served_by?: unknown };
  if (response.status !== 200 || typeof body.served_by !== 'string') throw new Error(`${session}: ${response.status} ${JSON.stringify(body)}`);
  return body.served_by;
}

/** The pod each session id reaches (one call per id, 20 at a time). */
async function placement(sidecar: Sidecar, ids: readonly string[]): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  let next = 0;
  const { errors } = await tallyPods(ids.length, 20, async () => {
    const id = ids[next++] ?? '';
    const served = await servedPod(sidecar, id);
    result.set(id, served);
    return served;
  });
  expect(errors).toEqual([]);
  return result;
}

async function knowsHosts(sidecar: Sidecar, count: number): Promise<void> {
  await eventually(async () => {
    const clusters = await sidecar.envoy.admin('/clusters');
    const hosts = new Set([...clusters.matchAll(/^infermesh\|sticky\|main::(127\.0\.0\.\d+:\d+)::health_flags::healthy$/gm)].map((m) => m[1]));
    expect(hosts.size).toBe(count);
  });
}

const ids = (count: number) => Array.from({ length: count }, (_, i) => `session-${i}`);

describeWithTool('session affinity through an Envoy sidecar', envoyBinaries(), (binaries) => {
  for (const binary of binaries) {
    describeSidecars(binary, () => mesh, failures, (sidecar) => {
      it('200 calls with 20 session ids: each id always reaches the same pod, and the ids spread over the pods', async () => {
        await eventually(() => servedPod(sidecar()));
        await knowsHosts(sidecar(), 4);
        const sessions = ids(20);
        const rounds = [];
        for (let round = 0; round < 10; round++) rounds.push(await placement(sidecar(), sessions));
        for (const id of sessions) expect(new Set(rounds.map((r) => r.get(id))), id).toHaveLength(1);
        // 20 ids over 4 pods of equal ring share: at least 3 pods get some (all on <= 2 pods: p < 1e-5).
        expect(new Set(rounds[0]?.values()).size).toBeGreaterThanOrEqual(3);
        // Without the header, Envoy picks a random pod (a random hash).
        const { byPod, errors } = await tallyPods(40, 10, () => servedPod(sidecar()));
        expect(errors).toEqual([]);
        expect(byPod.size).toBeGreaterThanOrEqual(2);
      });

      it('a pod added to the Service takes about 1/5 of 200 session ids, under half move in all; they return when it leaves', async () => {
        const sessions = ids(200);
        await knowsHosts(sidecar(), 4);
        const before = await placement(sidecar(), sessions);
        mesh.specs.push(ADDED);
        try {
          await mesh.writeSlices();
          await knowsHosts(sidecar(), 5);
          const after = await placement(sidecar(), sessions);
          const moved = sessions.filter((id) => after.get(id) !== before.get(id));
          const toNew = moved.filter((id) => after.get(id) === ADDED.pod).length / sessions.length;
          const share = moved.length / sessions.length;
          console.log(`Envoy ${binary.version}: ${moved.length}/${sessions.length} session ids moved (${(100 * share).toFixed(1)}%), ${(100 * toNew).toFixed(1)}% to the new pod, when a 5th pod joined`);
          // The new pod takes its ring share, 1/5 (sampling sd over 200 ids: 2.8 points). Envoy's ring (as gRPC's,
          // gRFC A42) gives each host ceil(1024/N) points, so each old pod also loses 1/5 of its points and the
          // keys of those go to the next point clockwise, often another old pod: about 3/5 x 1/5 = 12% more.
          expect(toNew).toBeGreaterThan(0.1);
          expect(toNew).toBeLessThan(0.3);
          expect(share).toBeLessThan(0.45);
        } finally {
          mesh.specs.pop();
          await mesh.writeSlices();
        }
        await knowsHosts(sidecar(), 4);
        expect(await placement(sidecar(), sessions)).toEqual(before);
      });
    });
  }
});
