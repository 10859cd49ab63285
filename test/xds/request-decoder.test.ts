import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { discoveryRequestDecoder, toNodeInfo } from '../../src/xds/messages.ts';
import { Subscription } from '../../src/xds/subscription.ts';

const root = loadEnvoyProtos();
const requestType = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
const encode = (request: Record<string, unknown>) => Buffer.from(requestType.encode(requestType.fromObject(request)).finish());

/** The decoder as it was: the whole message through protobufjs to objects. The lean one must read the same. */
function reference(bytes: Buffer) {
  const raw = requestType.toObject(requestType.decode(bytes), { defaults: false, arrays: true, objects: true }) as Record<string, any>;
  return {
    versionInfo: raw['version_info'] ?? '',
    ...(raw['node'] ? { node: toNodeInfo(raw['node']) } : {}),
    resourceNames: raw['resource_names'] ?? [],
    typeUrl: raw['type_url'] ?? '',
    responseNonce: raw['response_nonce'] ?? '',
    ...(raw['error_detail'] ? { errorDetail: { code: raw['error_detail'].code ?? 0, message: raw['error_detail'].message ?? '' } } : {}),
  };
}

const EDS = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
const node = {
  id: 'sidecar-1.models',
  cluster: 'models',
  user_agent_name: 'envoy',
  user_agent_build_version: { version: { major_number: 1, minor_number: 39, patch: 3 } },
  metadata: { fields: { POD_NAME: { string_value: 'sidecar-1' }, POD_NAMESPACE: { string_value: 'models' }, n: { number_value: 2 } } },
  locality: { zone: 'z1' },
};

describe('discoveryRequestDecoder', () => {
  const decode = discoveryRequestDecoder(root);

  it('reads every field the server uses as the whole-message decode does', () => {
    const requests = [
      { version_info: 'v1', node, resource_names: ['infermesh|a|stable', 'infermesh|b|canary', 'ünïcode'], type_url: EDS, response_nonce: '7' },
      { type_url: EDS, response_nonce: '8', version_info: 'v0', error_detail: { code: 3, message: 'rejected: bad cluster', details: [{ type_url: 'x', value: Buffer.from('y') }] } },
      { node: { id: 'bare' }, type_url: 'type.googleapis.com/envoy.config.listener.v3.Listener' },
      {},
    ];
    for (const request of requests) expect(decode(encode(request))).toEqual(reference(encode(request)));
  });

  it('reads names that other fields split, and skips fields it does not use', () => {
    const writer = protobuf.Writer.create();
    writer.uint32(26).string('a').uint32(34).string(EDS).uint32(26).string('b').uint32((7 << 3) | 2).string('resource_locators? skipped').uint32(26).string('c');
    const bytes = Buffer.from(writer.finish());
    expect(decode(bytes)).toEqual({ versionInfo: '', resourceNames: ['a', 'b', 'c'], typeUrl: EDS, responseNonce: '' });
  });

  it('hands out one frozen array for the same list, so an ACK naming it again is seen unchanged at a glance', () => {
    const names = Array.from({ length: 2000 }, (_, i) => `infermesh|model-${i >> 1}|${i % 2 ? 'canary' : 'stable'}`);
    const first = decode(encode({ node, type_url: EDS, resource_names: names }));
    const ack = decode(encode({ node, type_url: EDS, resource_names: names, version_info: 'v1', response_nonce: '1' }));
    const other = decode(encode({ type_url: EDS, resource_names: names.slice(1) }));
    expect(ack.resourceNames).toBe(first.resourceNames);
    expect(Object.isFrozen(first.resourceNames)).toBe(true);
    expect(other.resourceNames).not.toBe(first.resourceNames);
    expect(other.resourceNames).toEqual(names.slice(1));

    const subscription = Subscription.sotw('endpoint', first.resourceNames);
    expect(subscription.replace(ack.resourceNames)).toBe(false);
    expect(subscription.replace(other.resourceNames)).toBe(true);
    expect(subscription.names.size).toBe(1999);
    // Two streams naming the same list share one set.
    expect(Subscription.sotw('endpoint', first.resourceNames).names).toBe(Subscription.sotw('endpoint', ack.resourceNames).names);
  });
});
