import { BLACKHOLE_CLUSTER, FAULT_FILTER } from './names.ts';
import type { Route, RouteMatch } from './messages.ts';
import { typedConfig } from './typed-config.ts';

/** gRPC status codes used by error routes. */
export const GRPC_NOT_FOUND = 5;
export const GRPC_INVALID_ARGUMENT = 3;

/**
 * A route that always fails the request with a gRPC status, using only what every data plane supports:
 * a route action (to an EDS cluster with no endpoints, never reached) plus a per-route fault-filter abort.
 * direct_response would be nicer for Envoy, but proxyless gRPC clients NACK the whole RouteConfiguration.
 */
export function abortRoute(name: string, match: RouteMatch, grpcStatus: number): Route {
  return faultAbortRoute(name, match, { grpc_status: grpcStatus });
}

/**
 * The same with an HTTP status, for routes only REST callers reach (paths like /v2/models/M/versions/V/infer,
 * which no gRPC method has): Envoy answers it with that status, where a grpc_status abort answers HTTP 200.
 */
export function httpAbortRoute(name: string, match: RouteMatch, httpStatus: number): Route {
  return faultAbortRoute(name, match, { http_status: httpStatus });
}

/** Always: 100 of HUNDRED (the default denominator, so not written). */
function faultAbortRoute(name: string, match: RouteMatch, status: { grpc_status: number } | { http_status: number }): Route {
  return {
    name,
    match,
    route: { cluster: BLACKHOLE_CLUSTER },
    typed_per_filter_config: {
      [FAULT_FILTER]: typedConfig('fault', { abort: { ...status, percentage: { numerator: 100 } } }),
    },
  };
}
