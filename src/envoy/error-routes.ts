import { BLACKHOLE_CLUSTER, FAULT_FILTER } from './names.ts';
import { EXTENSION_TYPES } from './type-urls.ts';

type Json = Record<string, unknown>;

/** gRPC status codes used by error routes. */
export const GRPC_NOT_FOUND = 5;
export const GRPC_INVALID_ARGUMENT = 3;

/**
 * A route that always fails the request with a gRPC status, using only what every data plane supports:
 * a route action (to an EDS cluster with no endpoints, never reached) plus a per-route fault-filter abort.
 * direct_response would be nicer for Envoy, but proxyless gRPC clients NACK the whole RouteConfiguration.
 */
export function abortRoute(name: string, match: Json, grpcStatus: number): Json {
  return {
    name,
    match,
    route: { cluster: BLACKHOLE_CLUSTER },
    typed_per_filter_config: {
      [FAULT_FILTER]: {
        '@type': EXTENSION_TYPES.fault,
        abort: { grpc_status: grpcStatus, percentage: { numerator: 100, denominator: 'HUNDRED' } },
      },
    },
  };
}
