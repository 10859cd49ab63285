import { readFileSync } from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromProto3Json, toProto3Json } from '../support/proto3-json/index.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { validateMessage } from '../../src/protobuf/pgv.ts';
import { renderBootstrap } from '../../src/inject/bootstrap.ts';

/**
 * envoy/bootstrap.yaml read the way Envoy reads it: Envoy's own Bootstrap proto (strict: an unknown or
 * misspelt field is an error), then its protoc-gen-validate rules.
 */

const BOOTSTRAP = 'envoy.config.bootstrap.v3.Bootstrap';
// The overload manager's connection monitor; harmless once protos/envoy-roots.json lists it too.
const EXTRA_PROTOS = ['envoy/extensions/resource_monitors/downstream_connections/v3/downstream_connections.proto'];
const bootstrapFile = path.resolve(import.meta.dirname, '../../envoy/bootstrap.yaml');
const template = readFileSync(bootstrapFile, 'utf8');

let root: protobuf.Root;
beforeAll(() => {
  root = loadEnvoyProtos(EXTRA_PROTOS);
});

/** The bootstrap as Envoy sees it: canonical proto3 JSON after a strict read and validation. */
function readBootstrap(text: string): Record<string, any> {
  const { message, errors } = fromProto3Json(root, BOOTSTRAP, parse(text));
  expect(errors).toEqual([]);
  expect(validateMessage(root, BOOTSTRAP, message!)).toEqual([]);
  return toProto3Json(root, BOOTSTRAP, message!) as Record<string, any>;
}

function named<T extends { name?: string }>(items: T[] | undefined, name: string): T {
  const item = items?.find((candidate) => candidate.name === name);
  expect(item, `no item named ${name}`).toBeDefined();
  return item!;
}

function socketAddress(cluster: Record<string, any>): unknown {
  return cluster['load_assignment'].endpoints[0].lb_endpoints[0].endpoint.address.socket_address;
}

describe('envoy/bootstrap.yaml', () => {
  it('is a valid Envoy Bootstrap: no unknown fields, no validation errors', () => {
    readBootstrap(template);
  });

  it('gets listeners over one delta ADS stream, waits for them without a timeout, and subscribes to no cluster by wildcard', () => {
    const { dynamic_resources: dynamic } = readBootstrap(template);
    expect(dynamic.ads_config).toEqual({
      api_type: 'DELTA_GRPC',
      transport_api_version: 'V3',
      grpc_services: [{ envoy_grpc: { cluster_name: 'infermesh-xds' } }],
      set_node_on_first_message_only: true,
    });
    // Clusters come on demand (the listener's on_demand filter); a cds_config would ask for all of them.
    expect(dynamic.cds_config).toBeUndefined();
    for (const source of [dynamic.lds_config]) {
      // "0s" is set (not left out): unset would mean Envoy's default of 15s, then start with no config.
      expect(source).toEqual({ ads: {}, resource_api_version: 'V3', initial_fetch_timeout: '0s' });
    }
  });

  it('leaves the node to --service-cluster / --service-node (no placeholders in the file)', () => {
    expect(readBootstrap(template)['node']).toBeUndefined();
  });

  it('reaches the control plane Service over HTTP/2 with keepalive', () => {
    const xds = named(readBootstrap(template)['static_resources'].clusters, 'infermesh-xds') as Record<string, any>;
    expect(xds['type']).toBe('STRICT_DNS');
    expect(socketAddress(xds)).toEqual({ address: 'infermesh.infermesh-system.svc.cluster.local', port_value: 18000 });
    const http = xds['typed_extension_protocol_options']['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
    expect(http['@type']).toBe('type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions');
    expect(http.explicit_http_config.http2_protocol_options.connection_keepalive).toEqual({ interval: '30s', timeout: '10s' });
    expect(xds['upstream_connection_options'].tcp_keepalive.keepalive_time).toBe(300);
    expect(xds['circuit_breakers'].thresholds[0].max_requests).toBeGreaterThan(1024);
  });

  it('binds the admin interface to loopback only', () => {
    expect(readBootstrap(template)['admin']).toEqual({ address: { socket_address: { address: '127.0.0.1', port_value: 9901 } } });
  });

  it('exposes exactly readiness and Prometheus stats from the admin interface on 0.0.0.0:15021', () => {
    const resources = readBootstrap(template)['static_resources'];
    const health = named(resources.listeners, 'infermesh-health') as Record<string, any>;
    expect(health['address']).toEqual({ socket_address: { address: '0.0.0.0', port_value: 15021 } });
    const manager = health['filter_chains'][0].filters[0].typed_config;
    expect(manager['http_filters'].map((filter: { name: string }) => filter.name)).toEqual(['envoy.filters.http.router']);
    expect(manager['route_config'].virtual_hosts[0].routes).toEqual([
      { match: { path: '/healthz/ready' }, route: { cluster: 'envoy-admin', prefix_rewrite: '/ready' } },
      { match: { path: '/stats/prometheus' }, route: { cluster: 'envoy-admin' } },
    ]);
    expect(socketAddress(named(resources.clusters, 'envoy-admin'))).toEqual({ address: '127.0.0.1', port_value: 9901 });
  });

  it('uses no deprecated field, and none Envoy disallows by default', () => {
    const { message } = fromProto3Json(root, BOOTSTRAP, parse(template));
    expect(deprecatedFieldsUsed(root.lookupType(BOOTSTRAP), toProto3Json(root, BOOTSTRAP, message!))).toEqual([]);
  });

  it('documents its settings: most lines are comments', () => {
    const lines = template.split('\n').filter((line) => line.trim() !== '');
    const comments = lines.filter((line) => line.trim().startsWith('#'));
    expect(comments.length).toBeGreaterThan(lines.length / 3);
  });
});

describe('renderBootstrap', () => {
  it('writes the xDS address into the infermesh-xds cluster and changes nothing else', () => {
    const rendered = renderBootstrap(template, { xdsAddress: { host: 'cp.mesh.svc', port: 9000 } });
    const changed = rendered.split('\n').filter((line, i) => line !== template.split('\n')[i]);
    expect(changed.map((line) => line.trim())).toEqual(['address: cp.mesh.svc', 'port_value: 9000']);
    const xds = named(readBootstrap(rendered)['static_resources'].clusters, 'infermesh-xds');
    expect(socketAddress(xds)).toEqual({ address: 'cp.mesh.svc', port_value: 9000 });
  });

  it('quotes what would not read back as the same string (IPv6)', () => {
    const xds = named(readBootstrap(renderBootstrap(template, { xdsAddress: { host: 'fd00::1', port: 18000 } }))['static_resources'].clusters, 'infermesh-xds');
    expect(socketAddress(xds)).toEqual({ address: 'fd00::1', port_value: 18000 });
  });

  it('writes several xDS addresses as hosts of the one infermesh-xds cluster, first where the one address goes', () => {
    const addresses = [{ host: '127.0.0.1', port: 18000 }, { host: 'cp-1.mesh.svc', port: 18001 }, { host: 'fd00::2', port: 18002 }];
    const rendered = renderBootstrap(template, { xdsAddress: addresses });
    const xds = named(readBootstrap(rendered)['static_resources'].clusters, 'infermesh-xds') as Record<string, any>;
    expect(xds['type']).toBe('STRICT_DNS');
    expect(xds['load_assignment'].endpoints).toHaveLength(1);
    const hosts = xds['load_assignment'].endpoints[0].lb_endpoints.map((e: any) => e.endpoint.address.socket_address);
    expect(hosts).toEqual(addresses.map(({ host, port }) => ({ address: host, port_value: port })));
    // Everything else, comments included, as written: the one-address rendering plus the extra endpoints.
    const single = renderBootstrap(template, { xdsAddress: addresses[0]! }).split('\n');
    const lines = rendered.split('\n');
    expect(lines.filter((line) => !single.includes(line)).map((line) => line.trim())).toEqual([
      'address: cp-1.mesh.svc', 'port_value: 18001', 'address: "fd00::2"', 'port_value: 18002',
    ]);
    expect(lines.length - single.length).toBe(10);
    expect(renderBootstrap(template, { xdsAddress: [addresses[0]!] })).toBe(renderBootstrap(template, { xdsAddress: addresses[0]! }));
  });

  it('returns the template itself for the default address', () => {
    expect(renderBootstrap(template, { xdsAddress: { host: 'infermesh.infermesh-system.svc.cluster.local', port: 18000 } })).toBe(template);
  });
});

/** `Type.field` names of deprecated or disallowed-by-default fields set in `json` (Any payloads included). */
function deprecatedFieldsUsed(type: protobuf.Type, json: unknown): string[] {
  if (typeof json !== 'object' || json === null) return [];
  if (Array.isArray(json)) return json.flatMap((item) => deprecatedFieldsUsed(type, item));
  const found: string[] = [];
  for (const [key, value] of Object.entries(json)) {
    const field = type.fields[key];
    if (!field) continue;
    const options = field.options ?? {};
    if (options['deprecated'] || options['(envoy.annotations.disallowed_by_default)']) found.push(`${type.name}.${key}`);
    const resolved = field.resolve().resolvedType;
    if (!(resolved instanceof protobuf.Type)) continue;
    const values = field.map ? Object.values(value as object) : [value];
    for (const item of values) {
      const typeUrl = resolved.fullName === '.google.protobuf.Any' ? (item as { '@type'?: string })['@type'] : undefined;
      const itemType = typeUrl ? root.lookupType(typeUrl.slice(typeUrl.lastIndexOf('/') + 1)) : resolved;
      found.push(...deprecatedFieldsUsed(itemType, item));
    }
  }
  return found;
}
