import type { MeshSettings } from '../model/types.ts';
import type { Snapshot } from '../snapshot/snapshot.ts';

/** gRPC clients refuse a message over 4 MiB by default (grpc.max_receive_message_length). */
export const GRPC_RECEIVE_LIMIT_BYTES = 4 * 1024 * 1024;
/** Warn from three quarters of it: well before clients on xds:///<grpc target> start to fail. */
export const GRPC_TABLE_WARNING_BYTES = 3 * 1024 * 1024;

export interface GrpcTableBudget {
  bytes: number;
  /** Set from GRPC_TABLE_WARNING_BYTES on. */
  warning?: string;
}

/** The size of the header-routed gRPC table (every model in one resource) against gRPC's receive limit. */
export function grpcTableBudget(snapshot: Snapshot, settings: MeshSettings): GrpcTableBudget {
  const bytes = snapshot.resources('route').get(settings.grpcTarget)?.any.length ?? 0;
  if (bytes < GRPC_TABLE_WARNING_BYTES) return { bytes };
  const mb = (n: number) => (n / (1024 * 1024)).toFixed(1);
  const state = bytes > GRPC_RECEIVE_LIMIT_BYTES ? 'is over' : 'nears';
  return {
    bytes,
    warning: `the route table of xds:///${settings.grpcTarget} is ${mb(bytes)} MiB and ${state} gRPC clients' default ${mb(GRPC_RECEIVE_LIMIT_BYTES)} MiB receive limit: have proxyless clients dial per-model targets (xds:///${settings.grpcTarget}/<model>) or raise grpc.max_receive_message_length`,
  };
}
