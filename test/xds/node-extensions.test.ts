/**
 * A real Envoy's Node lists every extension built into it (55-61 KB on Envoy 1.38-1.40): the node size limit
 * must not count them (every sidecar would be refused, as the failover test found), and nothing keeps them.
 */
import { beforeAll, expect, it } from 'vitest';
import type protobuf from 'protobufjs';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { deltaRequestDecoder } from '../../src/xds/delta-messages.ts';
import { discoveryRequestDecoder } from '../../src/xds/messages.ts';
import { boundNode } from '../../src/xds/stream-limits.ts';

let root: protobuf.Root;
beforeAll(() => {
  root = loadEnvoyProtos();
});

/** 600 extensions of ~100 bytes, as Envoy sends them (name, category, type_urls). */
const extensions = Array.from({ length: 600 }, (_, i) => ({
  name: `envoy.filters.http.extension_number_${i}`,
  category: 'envoy.filters.http',
  type_urls: [`envoy.extensions.filters.http.extension_number_${i}.v3.Config`],
}));

function encode(type: string, message: Record<string, unknown>): Buffer {
  const t = root.lookupType(type);
  return Buffer.from(t.encode(t.fromObject(message)).finish());
}

it('drops a delta node\'s extensions, does not count them, and keeps the rest of the request', () => {
  const bytes = encode('envoy.service.discovery.v3.DeltaDiscoveryRequest', {
    node: { id: 'web-0.shop', cluster: 'shop', user_agent_name: 'envoy', extensions },
    type_url: 'type.googleapis.com/envoy.config.listener.v3.Listener',
    resource_names_subscribe: ['x'],
    initial_resource_versions: { x: '1' },
  });
  expect(bytes.length).toBeGreaterThan(60_000);
  const request = boundNode(deltaRequestDecoder(root), 1, 16 * 1024)(bytes);
  expect('oversizedNode' in request).toBe(false);
  expect(request.node).toMatchObject({ id: 'web-0.shop', cluster: 'shop', userAgentName: 'envoy' });
  expect(request.node?.raw['extensions'] ?? []).toEqual([]);
  expect(request).toMatchObject({ resourceNamesSubscribe: ['x'], initialResourceVersions: new Map([['x', '1']]) });
});

it('still refuses a node whose own fields are over the limit, extensions or not', () => {
  const bytes = encode('envoy.service.discovery.v3.DiscoveryRequest', {
    node: { id: 'x'.repeat(20_000), cluster: 'c', extensions },
    type_url: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
    version_info: 'v1',
  });
  const request = boundNode(discoveryRequestDecoder(root), 2, 16 * 1024)(bytes);
  expect(request).toMatchObject({ versionInfo: 'v1', oversizedNode: expect.any(Number) });
  expect((request as { oversizedNode: number }).oversizedNode).toBeGreaterThan(20_000);
  expect((request as { oversizedNode: number }).oversizedNode).toBeLessThan(21_000);
  expect(request.node).toBeUndefined();
});
