import { describe, expect, it } from 'vitest';
import { EMPTY_LAST_GOOD, reconcileWorld } from '../../src/controller/reconcile.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { encodeProto3Json } from '../../src/envoy/proto-json.ts';
import { routeConfiguration } from '../../src/envoy/route-config.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { assembleSnapshot } from '../../src/snapshot/assemble.ts';
import { ResourceCodec } from '../../src/snapshot/codec.ts';
import { readFolder } from '../../src/sources/folder.ts';

describe('the shared RouteConfiguration assembled from encoded routes', () => {
  it('is byte for byte the encoding of the whole configuration built as JSON', async () => {
    const root = loadEnvoyProtos();
    const codec = new ResourceCodec(root);
    const result = reconcileWorld(await readFolder('examples/basic'), EMPTY_LAST_GOOD, codec, DEFAULT_SETTINGS);
    const assembled = assembleSnapshot(result.encoded, DEFAULT_SETTINGS, codec, '1');
    if (!assembled.ok) throw new Error(assembled.problems.join());
    const json = routeConfiguration(result.encoded.map((m) => m.routes), DEFAULT_SETTINGS);
    const expected = encodeProto3Json(root, 'envoy.config.route.v3.RouteConfiguration', json);
    expect(expected.errors).toEqual([]);
    const anyType = root.lookupType('google.protobuf.Any');
    const any = anyType.toObject(anyType.decode(assembled.snapshot.resources('route').get('infermesh')!.any)) as { value: Uint8Array };
    expect(Buffer.from(any.value).equals(Buffer.from(expected.bytes!))).toBe(true);
  });
});
