import protobuf from 'protobufjs';

/**
 * A RouteConfiguration written around already-encoded Route messages: a repeated message field is just its
 * elements' bytes one after another, so a change to one model re-encodes that model's routes only, however
 * many models there are. Field numbers from route.proto / route_components.proto.
 */
export function routeConfigurationBytes(name: string, virtualHost: { name: string; domains: readonly string[] }, routes: Iterable<Uint8Array>): Uint8Array {
  const host = protobuf.Writer.create();
  host.uint32((1 << 3) | 2).string(virtualHost.name);
  for (const domain of virtualHost.domains) host.uint32((2 << 3) | 2).string(domain);
  for (const route of routes) host.uint32((3 << 3) | 2).bytes(route);
  const hostBytes = host.finish();
  return protobuf.Writer.create().uint32((1 << 3) | 2).string(name).uint32((2 << 3) | 2).bytes(hostBytes).finish();
}
