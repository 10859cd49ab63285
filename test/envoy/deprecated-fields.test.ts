import protobuf from 'protobufjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderWorld, snapshotJson } from '../../src/cli/render.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { ResourceCodec } from '../../src/snapshot/codec.ts';
import { readFolder } from '../../src/sources/folder.ts';

/**
 * Envoy refuses fields marked disallowed_by_default, and logs every deprecated field it sees. infermesh uses
 * exactly two deprecated fields, on purpose, because gRPC 1.51 needs them; this test keeps it that way.
 */
const ALLOWED_DEPRECATED = [
  'envoy.config.route.v3.HeaderMatcher.exact_match', // gRPC 1.51 NACKs HeaderMatcher.string_match
  'envoy.config.route.v3.WeightedCluster.total_weight', // gRPC 1.51 defaults it to 100 otherwise
];

function fieldsUsed(root: protobuf.Root, type: protobuf.Type, json: unknown, found: Set<string>): void {
  if (typeof json !== 'object' || json === null) return;
  if (Array.isArray(json)) {
    for (const item of json) fieldsUsed(root, type, item, found);
    return;
  }
  for (const [key, value] of Object.entries(json)) {
    if (key === '@type') continue;
    const field = type.fields[key];
    if (!field) continue;
    const options = field.options ?? {};
    if (options['deprecated'] || options['(envoy.annotations.disallowed_by_default)']) found.add(`${type.fullName.slice(1)}.${key}`);
    const resolved = field.resolve().resolvedType;
    if (!(resolved instanceof protobuf.Type)) continue;
    if (resolved.fullName === '.google.protobuf.Any') {
      const typeUrl = (value as { '@type'?: string })['@type'];
      if (typeUrl) fieldsUsed(root, root.lookupType(typeUrl.slice(typeUrl.lastIndexOf('/') + 1)), value, found);
    } else if (field.map && typeof value === 'object' && value !== null) {
      for (const entry of Object.values(value)) fieldsUsed(root, resolved, entry, found);
    } else {
      fieldsUsed(root, resolved, value, found);
    }
  }
}

let root: protobuf.Root;
beforeAll(() => {
  root = loadEnvoyProtos();
});

describe('deprecated Envoy fields', () => {
  it('the example uses only the deprecated fields gRPC 1.51 compatibility requires, and none disallowed by default', async () => {
    const rendered = snapshotJson(renderWorld(await readFolder('examples/basic'), DEFAULT_SETTINGS, new ResourceCodec(root)).snapshot);
    const types: Record<string, string> = {
      listeners: 'envoy.config.listener.v3.Listener',
      routes: 'envoy.config.route.v3.RouteConfiguration',
      scopedRoutes: 'envoy.config.route.v3.ScopedRouteConfiguration',
      clusters: 'envoy.config.cluster.v3.Cluster',
      endpoints: 'envoy.config.endpoint.v3.ClusterLoadAssignment',
    };
    const found = new Set<string>();
    for (const [kind, resources] of Object.entries(rendered)) fieldsUsed(root, root.lookupType(types[kind]!), resources, found);
    expect([...found].sort()).toEqual(ALLOWED_DEPRECATED);
  });
});
