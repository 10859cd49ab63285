import * as grpc from '@grpc/grpc-js';
import * as xds from '@grpc/grpc-js-xds';
import { createTfServingClient, createTritonClient, tfServingPredict, tritonInfer, type InferenceIdentity, type TfServingClient, type TritonClient } from '../../demo/fake-model-server.ts';

let registered = false;

/** Registers the xds: scheme with grpc-js once per process (the real proxyless client under test). */
export function registerXds(): void {
  if (!registered) xds.register();
  registered = true;
}

export function tritonOverXds(options: grpc.ChannelOptions, target = 'xds:///infermesh'): TritonClient {
  registerXds();
  return createTritonClient(target, grpc.credentials.createInsecure(), options);
}

export function tfServingOverXds(options: grpc.ChannelOptions, target = 'xds:///infermesh'): TfServingClient {
  registerXds();
  return createTfServingClient(target, grpc.credentials.createInsecure(), options);
}

export type CallOutcome = { ok: true; identity: InferenceIdentity } | { ok: false; code: grpc.status; details: string };

function outcome(promise: Promise<InferenceIdentity>): Promise<CallOutcome> {
  return promise.then(
    (identity) => ({ ok: true as const, identity }),
    (error: grpc.ServiceError) => ({ ok: false as const, code: error.code, details: error.details }),
  );
}

export function infer(client: TritonClient, headers: Record<string, string>, model = 'resnet50'): Promise<CallOutcome> {
  return outcome(tritonInfer(client, model, { metadata: headers, timeoutMs: 5_000 }));
}

export function predict(client: TfServingClient, headers: Record<string, string>, model = 'bert'): Promise<CallOutcome> {
  return outcome(tfServingPredict(client, model, { metadata: headers, timeoutMs: 5_000 }));
}

/** Runs calls with bounded concurrency and counts who served them. */
export async function tally(count: number, call: () => Promise<CallOutcome>, concurrency = 20): Promise<{ byPod: Map<string, number>; failures: CallOutcome[] }> {
  const byPod = new Map<string, number>();
  const failures: CallOutcome[] = [];
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started += 1;
      const result = await call();
      if (result.ok) byPod.set(result.identity.pod, (byPod.get(result.identity.pod) ?? 0) + 1);
      else failures.push(result);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { byPod, failures };
}
