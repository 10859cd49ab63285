/**
 * Shared by the per-model readiness acceptance tests (issue 14): test/e2e/model-readiness.test.ts (proxyless
 * grpc-js-xds and gRPC C-core) and test/sidecar/model-readiness.test.ts (real Envoy). The pods, the policies,
 * a steady background load whose outcomes are kept, and a watch on the pods' own counters: when traffic
 * starts or stops reaching a pod is measured where it arrives, so it is the same clock for every data plane.
 */
import * as grpc from '@grpc/grpc-js';
import { tfServingPredict, tritonInfer, type FakeModelServer, type InferenceIdentity, type TfServingClient, type TritonClient } from '../../demo/fake-model-server.ts';
import type { PodSpec } from '../support/mesh.ts';

/**
 * The probe interval every control plane of these tests runs with (the default is 5 s). At 300 ms the rest of
 * the path (reconcile, push, the client's pick) was as long as an interval on a loaded 2-core CI machine
 * (1.3 s measured once against a 0.85 s bound), which made the test measure the machine, not the probing.
 */
export const PROBE_INTERVAL_MS = 1_000;
/**
 * "Within 2 probe intervals" plus this: the prober's +-20% jitter is inside the 2 intervals already; the
 * slack covers the reconcile, the EDS push, the client's pick and the 5 ms counter poll on a busy machine.
 */
export const SLACK_MS = 500;
export const WITHIN_MS = 2 * PROBE_INTERVAL_MS + SLACK_MS;

/**
 * Three pods behind one Service `multi`: a and b hold resnet50 (and densenet), c only densenet. inception
 * v1 on its own Service; its v2 pod starts with nothing loaded (it loads v2 during the test). mnist pods
 * are probed on a port nothing listens on. TF Serving: bert-a and bert-b hold bert, bert-c nothing. `base`
 * is "127.0.0.N": pods take N .. N+9.
 */
export function readinessPods(base: string): PodSpec[] {
  const prefix = base.slice(0, base.lastIndexOf('.') + 1);
  const first = Number(base.slice(base.lastIndexOf('.') + 1));
  const host = (i: number): string => `${prefix}${first + i}`;
  return [
    { kind: 'triton', host: host(0), pod: 'multi-a', service: 'multi', models: ['resnet50', 'densenet'], version: '1', onlyListedModels: true },
    { kind: 'triton', host: host(1), pod: 'multi-b', service: 'multi', models: ['resnet50', 'densenet'], version: '1', onlyListedModels: true },
    { kind: 'triton', host: host(2), pod: 'multi-c', service: 'multi', models: ['densenet'], version: '1', onlyListedModels: true },
    { kind: 'triton', host: host(3), pod: 'inception-v1-a', service: 'inception-v1', models: ['inception'], version: '1', onlyListedModels: true },
    { kind: 'triton', host: host(4), pod: 'inception-v2-a', service: 'inception-v2', models: ['densenet'], version: '2', onlyListedModels: true },
    { kind: 'triton', host: host(5), pod: 'mnist-a', service: 'mnist', models: ['mnist'], version: '1', onlyListedModels: true },
    { kind: 'triton', host: host(6), pod: 'mnist-b', service: 'mnist', models: ['mnist'], version: '1', onlyListedModels: true },
    { kind: 'tfserving', host: host(7), pod: 'bert-a', service: 'bert', models: ['bert'], version: '1', onlyListedModels: true },
    { kind: 'tfserving', host: host(8), pod: 'bert-b', service: 'bert', models: ['bert'], version: '1', onlyListedModels: true },
    { kind: 'tfserving', host: host(9), pod: 'bert-c', service: 'bert', models: [], version: '1', onlyListedModels: true },
  ];
}

/** The pods that do not hold resnet50 (Triton) and bert (TF Serving) at first, and the one loading inception v2. */
export const LATE_POD = 'multi-c';
export const LATE_TF_POD = 'bert-c';
export const LOADING_POD = 'inception-v2-a';

/**
 * Retries cover the gap between a pod unloading a model and the next probe where they can: real Triton (and
 * the fake) answer inference naming an unloaded version UNAVAILABLE, which `unavailable` retries on another
 * host (the previous_hosts predicate every retry policy carries); naming no version, NOT_FOUND, which no
 * gRPC retry condition names. TF Serving answers NOT_FOUND either way.
 */
export function readinessPolicies(closedPort: number): Record<string, string> {
  return {
    'resnet50-policy': `
model: resnet50
server: triton
backends:
  - { name: main, service: multi, port: grpc, weight: 100 }
timeout: 5s
retries: { attempts: 3, perTryTimeout: 1s, retryOn: [unavailable, connect-failure] }
# Off: the calls an unloaded pod answers in the gap before the next probe are errors, and 5 in a row
# (the default consecutiveErrors) eject it from Envoy for 30 s, long after it loads the model again.
outlierDetection: null
probe: { enabled: true, port: http }
`,
    // v2 takes no unpinned traffic: only x-model-version: 2 reaches it.
    'inception-policy': `
model: inception
server: triton
backends:
  - { name: v1, service: inception-v1, port: grpc, version: "1", weight: 100 }
  - { name: v2, service: inception-v2, port: grpc, version: "2", weight: 0 }
retries: { attempts: 0 }
probe: { enabled: true }
`,
    'bert-policy': `
model: bert
server: tfserving
backends:
  - { name: main, service: bert, port: grpc, weight: 100 }
outlierDetection: null
`,
    // Probing cannot work: the probe port is closed on every pod. Routing must stay as without probing.
    'mnist-policy': `
model: mnist
server: triton
backends:
  - { name: main, service: mnist, port: grpc, weight: 100 }
probe: { enabled: true, port: ${closedPort} }
`,
  };
}

/** Inference calls for `model` that reached a pod, whatever it answered. */
export function arrivals(pod: FakeModelServer, model: string): number {
  return pod.requestsFor(model);
}

export interface Watch {
  /** Milliseconds from `since` to the first call reaching `pod` after it; rejects after timeoutMs. */
  firstArrival(since: number, timeoutMs: number): Promise<number>;
  /** Watches `pod` for windowMs after `since`; resolves with ms from `since` to the last arrival (0: none). */
  lastArrival(since: number, windowMs: number): Promise<number>;
}

const POLL_MS = 5;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function watch(pod: FakeModelServer, model: string): Watch {
  return {
    async firstArrival(since, timeoutMs) {
      const before = arrivals(pod, model);
      for (;;) {
        if (arrivals(pod, model) > before) return performance.now() - since;
        if (performance.now() - since > timeoutMs) throw new Error(`no call reached ${pod.pod} within ${timeoutMs} ms`);
        await sleep(POLL_MS);
      }
    },
    async lastArrival(since, windowMs) {
      let seen = arrivals(pod, model);
      let last = 0;
      while (performance.now() - since < windowMs) {
        await sleep(POLL_MS);
        const now = arrivals(pod, model);
        if (now !== seen) {
          seen = now;
          last = performance.now() - since;
        }
      }
      return last;
    },
  };
}

/** One call's outcome: the pod that served it, or the error (code: the gRPC status name). */
export type Outcome = { ok: true; pod: string } | { ok: false; code: string; error: string };

/** What a batch of calls came to, as test/interop's clients print it. */
export interface Tally {
  pods: Record<string, number>;
  errors: Record<string, number>;
  messages: Record<string, string>;
  outcomes: string[];
}

export interface BatchOptions {
  /** The server's API to call: Triton ModelInfer (default) or TF Serving Predict. */
  kind?: 'triton' | 'tfserving';
  /** Pause between calls (default 0). */
  gapMs?: number;
  /** model_version in the request body (Triton answers an unloaded version UNAVAILABLE, no version NOT_FOUND). */
  version?: string;
}

/** One data plane under test: runs `calls` ModelInfer calls for `model` with these headers, one at a time. */
export interface DataPlane {
  name: string;
  batch(model: string, calls: number, headers: Record<string, string>, options?: BatchOptions): Promise<Tally>;
}

/** A batch made of single calls in this process (grpc-js-xds, or a plain gRPC client to an Envoy sidecar). */
export async function inProcessBatch(
  call: (model: string, headers: Record<string, string>, version: string | undefined) => Promise<Outcome>,
  model: string,
  calls: number,
  headers: Record<string, string>,
  { gapMs = 0, version }: BatchOptions = {},
): Promise<Tally> {
  const tally: Tally = { pods: {}, errors: {}, messages: {}, outcomes: [] };
  for (let i = 0; i < calls; i += 1) {
    if (i > 0 && gapMs > 0) await sleep(gapMs);
    const outcome = await call(model, headers, version);
    if (outcome.ok) {
      tally.pods[outcome.pod] = (tally.pods[outcome.pod] ?? 0) + 1;
      tally.outcomes.push(outcome.pod);
    } else {
      const { code } = outcome;
      tally.errors[code] = (tally.errors[code] ?? 0) + 1;
      tally.messages[code] = outcome.error;
      tally.outcomes.push(code);
    }
  }
  return tally;
}

function outcome(call: Promise<InferenceIdentity>): Promise<Outcome> {
  return call.then(
    (identity): Outcome => ({ ok: true, pod: identity.pod }),
    (error: grpc.ServiceError): Outcome => ({ ok: false, code: grpc.status[error.code] ?? String(error.code), error: error.details }),
  );
}

/** One ModelInfer through `client` (an xds: channel, or a plain one to an Envoy sidecar), as an Outcome. */
export function callTriton(client: TritonClient, model: string, headers: Record<string, string>, version: string | undefined): Promise<Outcome> {
  return outcome(tritonInfer(client, model, { metadata: headers, timeoutMs: 10_000, ...(version === undefined ? {} : { version }) }));
}

/** One TF Serving Predict, likewise. */
export function callTfServing(client: TfServingClient, model: string, headers: Record<string, string>, version: string | undefined): Promise<Outcome> {
  return outcome(tfServingPredict(client, model, { metadata: headers, timeoutMs: 10_000, ...(version === undefined ? {} : { version }) }));
}
