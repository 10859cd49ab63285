import { VIRTUAL_HOST } from '../envoy/route-config.ts';
import { Pieces } from './pieces.ts';
import { fieldsOf, routeConfiguration, taggedRoutes, VIRTUAL_HOST_ROUTES, virtualHostHead } from './route-bytes.ts';

/*
 * A model name's own RouteConfiguration, from its encoded routes, with the model's retry policy written once
 * on the virtual host instead of on every route: routes without a policy of their own take the host's
 * (Envoy, and gRPC clients per gRFC A44). Every model route carries the model's policy (an explicit empty
 * one when retries are off); only error routes, which abort before any upstream attempt, have none, so
 * nothing inherits a policy it did not have. The policy is about 500 of a 2.5 KB table's bytes per route.
 * Field numbers from route.proto and route_components.proto.
 */

const ROUTE_ACTION = 2;
const RETRY_POLICY = 9;
const VIRTUAL_HOST_REQUEST_HEADERS_TO_REMOVE = 13;
const VIRTUAL_HOST_PER_FILTER_CONFIG = 15;
const VIRTUAL_HOST_RETRY_POLICY = 16;

/** The encoded RetryPolicy of a Route's RouteAction (Route.route.retry_policy), if it has one. */
export function routeRetryPolicy(route: Uint8Array): Uint8Array | undefined {
  const action = fieldsOf(route).find((f) => f.number === ROUTE_ACTION)?.value;
  return action && fieldsOf(action).find((f) => f.number === RETRY_POLICY)?.value;
}

/** The same Route without its RouteAction's retry policy. */
function withoutRetryPolicy(route: Uint8Array): Uint8Array {
  return Buffer.concat(
    fieldsOf(route).map((span) => {
      if (span.number !== ROUTE_ACTION || !span.value) return span.raw;
      const action = Buffer.concat(fieldsOf(span.value).flatMap((f) => (f.number === RETRY_POLICY ? [] : [f.raw])));
      return new Pieces().field(ROUTE_ACTION, action).finish();
    }),
  );
}

/** The one retry policy every route that has one carries, or undefined when they differ (then none is moved). */
function sharedPolicy(routes: readonly Uint8Array[]): Uint8Array | undefined {
  let shared: Buffer | undefined;
  for (const route of routes) {
    const policy = routeRetryPolicy(route);
    if (!policy) continue;
    if (!shared) shared = Buffer.from(policy);
    else if (!shared.equals(policy)) return undefined;
  }
  return shared;
}

/** A model's table routes as every one of its names' tables holds them: the shared policy moved to the host. */
export interface TableRoutes {
  routes: readonly Uint8Array[];
  hostRetryPolicy?: Uint8Array;
  /**
   * Encoded VirtualHost request_headers_to_remove and typed_per_filter_config entries, tags included (the
   * model's rate limit, its acceptance of body routing).
   */
  hostFilters?: Uint8Array;
}

/** The request_headers_to_remove and typed_per_filter_config entries (tags included) of an encoded VirtualHost, in field order. */
export function hostExtrasOf(virtualHost: Uint8Array): Uint8Array {
  const kept = new Set([VIRTUAL_HOST_REQUEST_HEADERS_TO_REMOVE, VIRTUAL_HOST_PER_FILTER_CONFIG]);
  return Buffer.concat(fieldsOf(virtualHost).flatMap((f) => (kept.has(f.number) ? [f.raw] : [])));
}

/** Works out once per model what each of its names' tables repeats (aliases share the routes). */
export function tableRoutes(routes: readonly Uint8Array[], hostFilters?: Uint8Array): TableRoutes {
  const policy = sharedPolicy(routes);
  const table: TableRoutes = policy ? { routes: routes.map(withoutRetryPolicy), hostRetryPolicy: policy } : { routes };
  return hostFilters ? { ...table, hostFilters } : table;
}

export function modelTableBytes(name: string, table: TableRoutes): Uint8Array {
  const host = virtualHostHead(VIRTUAL_HOST).append(taggedRoutes(VIRTUAL_HOST_ROUTES, table.routes));
  // Field order as protoc writes it: routes (3), request_headers_to_remove (13), typed_per_filter_config (15),
  // retry_policy (16).
  if (table.hostFilters) host.raw(table.hostFilters);
  if (table.hostRetryPolicy) host.field(VIRTUAL_HOST_RETRY_POLICY, table.hostRetryPolicy);
  return routeConfiguration(name, host).finish();
}
