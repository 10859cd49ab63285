import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every metric infermesh exports, in one registry owned by the caller (no global state). */
export interface Metrics {
  registry: Registry;
  connectedStreams: Gauge;
  pushes: Counter<'type'>;
  pushedBytes: Counter<'type'>;
  acks: Counter<'type'>;
  nacks: Counter<'type'>;
  refusedStreams: Counter<'reason'>;
  buildSeconds: Histogram;
  encodeSeconds: Histogram;
  snapshotVersion: Gauge;
  grpcRouteTableBytes: Gauge;
  models: Gauge<'state'>;
  modelEndpoints: Gauge<'model' | 'state'>;
  /** 1 per served backend with its version ("" when none): the recording rules join it onto Envoy's stats. */
  backendInfo: Gauge<'model' | 'backend' | 'version'>;
  /** 1 while a model is in a problem state (model-problems.ts); no series otherwise. */
  modelProblem: Gauge<'model' | 'problem'>;
  policyErrors: Gauge<'kind'>;
  events: Counter<'outcome'>;
  rollout: Gauge<'state'>;
  convergenceSeconds: Histogram;
  /** Model-server probes (one per pod per interval), by server kind and result: ok, failure, timeout, too-large. */
  probeRequests: Counter<'server' | 'result'>;
  probeSeconds: Histogram<'server'>;
  /** Requests a sidecar is holding here (coldStart) until their model has a ready pod. */
  coldStartHeld: Gauge<'model'>;
  /** How long each held request waited, by how it ended: released, timed_out, cancelled, shutdown, overflow. */
  coldStartHoldSeconds: Histogram<'model' | 'outcome'>;
}

export function createMetrics(options: { processMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'infermesh_' });
  const registers = [registry];
  const typeLabel = ['type'] as const;
  return {
    registry,
    connectedStreams: new Gauge({ name: 'infermesh_xds_connected_streams', help: 'Open ADS streams.', registers }),
    pushes: new Counter({ name: 'infermesh_xds_pushes_total', help: 'DiscoveryResponses sent, by resource type.', labelNames: typeLabel, registers }),
    pushedBytes: new Counter({ name: 'infermesh_xds_pushed_resource_bytes_total', help: 'Encoded resource bytes sent, by resource type.', labelNames: typeLabel, registers }),
    acks: new Counter({ name: 'infermesh_xds_acks_total', help: 'ACKs received, by resource type.', labelNames: typeLabel, registers }),
    nacks: new Counter({ name: 'infermesh_xds_nacks_total', help: 'NACKs received (client rejected a response), by resource type.', labelNames: typeLabel, registers }),
    refusedStreams: new Counter({
      name: 'infermesh_xds_refused_streams_total',
      help: 'ADS streams refused or ended by a limit: max_streams, max_streams_per_connection, node_too_large, request_rate.',
      labelNames: ['reason'] as const,
      registers,
    }),
    buildSeconds: new Histogram({
      name: 'infermesh_snapshot_build_seconds',
      help: 'Time to turn sources into a snapshot (parse, translate, validate, encode).',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    encodeSeconds: new Histogram({
      name: 'infermesh_snapshot_encode_seconds',
      help: 'Time spent validating and encoding resources within a build.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    snapshotVersion: new Gauge({ name: 'infermesh_snapshot_version', help: 'Sequence number of the snapshot being served.', registers }),
    grpcRouteTableBytes: new Gauge({ name: 'infermesh_grpc_route_table_bytes', help: "Encoded size of the header-routed gRPC target's route table (every model); gRPC clients refuse over 4 MiB by default.", registers }),
    models: new Gauge({ name: 'infermesh_models', help: 'Models by state: serving, stale (last good kept), rejected, conflict.', labelNames: ['state'] as const, registers }),
    modelEndpoints: new Gauge({
      name: 'infermesh_model_endpoints',
      help: "Endpoints of each served model by what its model server says: ready, loading, not-loaded, probe-failing, unprobed (probing off or no answer yet: routes by pod readiness), draining.",
      labelNames: ['model', 'state'] as const,
      registers,
    }),
    backendInfo: new Gauge({
      name: 'infermesh_backend_info',
      help: 'One series per served model backend, with the version its policy gives ("" when none); always 1.',
      labelNames: ['model', 'backend', 'version'] as const,
      registers,
    }),
    modelProblem: new Gauge({
      name: 'infermesh_model_problem',
      help: 'Set to 1 while a model has a problem: degraded (a proxy NACKed its change), not_live (a proxy has not ACKed it yet), rejected, conflict, stale (last good policy kept), no_ready_endpoints. No series otherwise.',
      labelNames: ['model', 'problem'] as const,
      registers,
    }),
    policyErrors: new Gauge({ name: 'infermesh_policy_errors', help: 'Current policy problems, by kind.', labelNames: ['kind'] as const, registers }),
    rollout: new Gauge({ name: 'infermesh_model_rollout', help: "Models by the state of their latest change on the connected proxies: pending, live (every proxy using it ACKed), degraded (a proxy NACKed it).", labelNames: ['state'] as const, registers }),
    convergenceSeconds: new Histogram({
      name: 'infermesh_model_convergence_seconds',
      help: 'From a model change being observed to every connected proxy that uses the model ACKing it.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    probeRequests: new Counter({
      name: 'infermesh_probe_requests_total',
      help: 'Model readiness probes of model-server pods, by server kind and result: ok, failure, timeout, too-large.',
      labelNames: ['server', 'result'] as const,
      registers,
    }),
    coldStartHeld: new Gauge({ name: 'infermesh_cold_start_held_requests', help: 'Requests held (coldStart) until their model has a ready pod, by model.', labelNames: ['model'] as const, registers }),
    coldStartHoldSeconds: new Histogram({
      name: 'infermesh_cold_start_hold_seconds',
      help: 'Time a request was held (coldStart), by model and outcome: released (a pod became ready), timed_out (503 after holdFor), cancelled (the caller went away), shutdown, overflow (too many held).',
      labelNames: ['model', 'outcome'] as const,
      buckets: [0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    }),
    probeSeconds: new Histogram({
      name: 'infermesh_probe_duration_seconds',
      help: 'Duration of one model readiness probe of one pod (all its models), by server kind.',
      labelNames: ['server'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    events: new Counter({ name: 'infermesh_kube_events_total', help: 'Kubernetes Events about policies: written, failed, dropped (rate limit).', labelNames: ['outcome'] as const, registers }),
  };
}
