import { describe, expect, it } from 'vitest';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { encodeDiscoveryResponse } from '../../src/xds/messages.ts';

const root = loadEnvoyProtos();
const responseType = root.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
const anyType = root.lookupType('google.protobuf.Any');

function decode(bytes: Buffer): Record<string, any> {
  return responseType.toObject(responseType.decode(bytes), { defaults: false }) as Record<string, any>;
}

describe('encodeDiscoveryResponse', () => {
  const resources = ['a', 'b'].map((name) => anyType.encode({ type_url: 'type.googleapis.com/x', value: Buffer.from(name) }).finish());
  const base = { versionInfo: 'v1', resources, typeUrl: 'type.googleapis.com/x', controlPlaneId: 'cp' };

  it('writes a DiscoveryResponse that Envoy\'s proto decodes, per stream nonce included', () => {
    for (const nonce of ['1', '2']) {
      const decoded = decode(encodeDiscoveryResponse({ ...base, nonce }));
      expect(decoded).toMatchObject({ version_info: 'v1', type_url: 'type.googleapis.com/x', nonce, control_plane: { identifier: 'cp' } });
      expect(decoded['resources'].map((r: { value: Uint8Array }) => Buffer.from(r.value).toString())).toEqual(['a', 'b']);
    }
  });

  it('writes the version and type it is given', () => {
    expect(decode(encodeDiscoveryResponse({ ...base, nonce: '1' }))['version_info']).toBe('v1');
    expect(decode(encodeDiscoveryResponse({ ...base, versionInfo: 'v2', nonce: '2' }))['version_info']).toBe('v2');
    expect(decode(encodeDiscoveryResponse({ ...base, typeUrl: 'type.googleapis.com/y', nonce: '3' }))['type_url']).toBe('type.googleapis.com/y');
  });
});
