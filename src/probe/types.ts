import type { ModelReadinessState } from '../model/types.ts';

/** The server kinds whose own API says which models a pod has loaded; `generic` pods are never probed. */
export type ProbedServerKind = 'triton' | 'tfserving';

/** One (model, optional version) a pod is expected to serve. Without a version: any version ready will do. */
export interface ModelRef {
  model: string;
  version?: string;
}

/** One model-server pod to ask, on its REST port, about every model routed to it. */
export interface ProbeTarget {
  server: ProbedServerKind;
  address: string;
  /** The server's REST (HTTP) port on this pod: the policy's `probe.port`, resolved from the EndpointSlice. */
  port: number;
  models: readonly ModelRef[];
  podName?: string;
}

/** What the server said about one model (and version) in one probe. */
export interface ModelAnswer {
  state: Exclude<ModelReadinessState, 'probe-failing'>;
  /** The server's own words (Triton's state reason, TF Serving's status.error_message, the HTTP status). */
  reason?: string;
}

/** Key of a ModelRef in answers and lookups. */
export function modelRefKey(ref: ModelRef): string {
  return ref.version === undefined ? ref.model : `${ref.model}\u0000${ref.version}`;
}

/**
 * Asks one pod once about the models of its target. Resolves with an answer per model (by modelRefKey) or
 * rejects (connection refused, timeout, non-JSON, too large...): a failure of the pod, not of a model.
 */
export type ProbePod = (target: ProbeTarget, signal: AbortSignal) => Promise<ReadonlyMap<string, ModelAnswer>>;

/** Per-model readiness as the controller reads it; the prober (src/probe/prober.ts) is the implementation. */
export interface ReadinessSource {
  /**
   * What is known of `ref` on the pod address:port (port = the probe port): undefined while not probed yet
   * (the endpoint then routes by pod readiness, as without probing).
   */
  lookup(address: string, port: number, ref: ModelRef): { state: ModelReadinessState; reason?: string } | undefined;
  /** Called (without arguments) whenever what lookup answers may have changed. Returns an unsubscribe. */
  subscribe(listener: () => void): () => void;
  /** The pods and models to probe from now on; new pods are probed at once, pods no longer listed are dropped. */
  setTargets(targets: readonly ProbeTarget[]): void;
  close(): void;
}
