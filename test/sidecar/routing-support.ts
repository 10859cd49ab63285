/**
 * Shared by the routing-contract tests through a real Envoy sidecar (routing-rest, routing-grpc): one sidecar
 * per Envoy version, started and stopped by the calling describe block, and a bounded tally of
 * who served a batch of requests.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import type { Mesh } from '../support/mesh.ts';
import { Sidecar } from '../support/sidecar.ts';
import type { EnvoyBinary } from '../support/tools.ts';

/**
 * `describe` with a sidecar of `binary` in front of `mesh()`; `body` reads it through the getter once
 * beforeAll has run. Logs are kept when a test of the file failed.
 */
export function describeSidecars(
  binary: EnvoyBinary,
  mesh: () => Mesh,
  failures: { readonly failed: boolean },
  body: (sidecar: () => Sidecar) => void,
): void {
  describe(`Envoy ${binary.version}`, () => {
    let sidecar: Sidecar | undefined;
    beforeAll(async () => {
      sidecar = await Sidecar.start(mesh(), binary, `routing-${process.pid}-${binary.version}`);
    });
    afterAll(async () => {
      await sidecar?.stop(failures.failed);
    });
    body(() => {
      if (!sidecar) throw new Error(`no sidecar for Envoy ${binary.version} (beforeAll failed)`);
      return sidecar;
    });
  });
}

/** Who served each of `count` calls (`call` resolves to a pod name or throws), `concurrency` at a time. */
export async function tallyPods(count: number, concurrency: number, call: () => Promise<string>): Promise<{ byPod: Map<string, number>; errors: string[] }> {
  const byPod = new Map<string, number>();
  const errors: string[] = [];
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started += 1;
      try {
        const pod = await call();
        byPod.set(pod, (byPod.get(pod) ?? 0) + 1);
      } catch (error) {
        errors.push(error instanceof Error ? error.message : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { byPod, errors };
}

/** Calls served by pods whose name starts with `prefix`. */
export function servedBy(byPod: ReadonlyMap<string, number>, prefix: string): number {
  let total = 0;
  for (const [pod, count] of byPod) if (pod.startsWith(prefix)) total += count;
  return total;
}
