import { describe, expect, it } from 'vitest';
import type protobuf from 'protobufjs';
import { EMPTY_LAST_GOOD, reconcileWorld } from '../../src/controller/reconcile.ts';
import { SIDECAR_ROUTE_CONFIG } from '../../src/envoy/names.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { fromMessageObject } from '../../src/protobuf/message-object.ts';
import type { ModelRoutes } from '../../src/envoy/route-config.ts';
import { routeConfiguration, sidecarRouteConfiguration } from '../envoy/route-config-json.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { assembleSnapshot } from '../../src/snapshot/assemble.ts';
import { ResourceCodec } from '../../src/snapshot/codec.ts';
import type { Snapshot } from '../../src/snapshot/snapshot.ts';
import { readFolder } from '../../src/sources/folder.ts';
import type { SourceWorld } from '../../src/sources/types.ts';

const root = loadEnvoyProtos();

async function assembled(world: SourceWorld): Promise<{ snapshot: Snapshot; parts: ModelRoutes[] }> {
  const codec = new ResourceCodec(root);
  const result = reconcileWorld(world, EMPTY_LAST_GOOD, codec, DEFAULT_SETTINGS);
  const outcome = assembleSnapshot(result.encoded, DEFAULT_SETTINGS, codec, 1);
  if (!outcome.ok) throw new Error(outcome.problems.join());
  return { snapshot: outcome.snapshot, parts: result.encoded.map((m) => m.routes) };
}

/** The RouteConfiguration bytes inside a snapshot resource's Any. */
function routeBytes(snapshot: Snapshot, name: string, rootTypes: protobuf.Root): Buffer {
  const anyType = rootTypes.lookupType('google.protobuf.Any');
  const resource = snapshot.resources('route').get(name);
  if (!resource) throw new Error(`no route configuration ${name}`);
  return Buffer.from((anyType.toObject(anyType.decode(resource.any)) as { value: Uint8Array }).value);
}

function encodedJson(json: object): Buffer {
  const type = 'envoy.config.route.v3.RouteConfiguration';
  const expected = fromMessageObject(root, type, json);
  expect(expected.errors).toEqual([]);
  return Buffer.from(root.lookupType(type).encode(expected.message!).finish());
}

describe('route configurations assembled from encoded routes', () => {
  it('the gRPC list is byte for byte the encoding of the whole configuration built (and validated) as JSON', async () => {
    const { snapshot, parts } = await assembled(await readFolder('examples/basic'));
    expect(routeBytes(snapshot, DEFAULT_SETTINGS.grpcTarget, root).equals(encodedJson(routeConfiguration(parts, DEFAULT_SETTINGS)))).toBe(true);
  });

  it('the sidecar matcher tree is byte for byte the encoding of the whole configuration built (and validated) as JSON', async () => {
    const { snapshot, parts } = await assembled(await readFolder('examples/basic'));
    const json = sidecarRouteConfiguration(parts, DEFAULT_SETTINGS);
    expect(JSON.stringify(json)).toContain('exact_match_map');
    expect(routeBytes(snapshot, SIDECAR_ROUTE_CONFIG, root).equals(encodedJson(json))).toBe(true);
  });

  it.each(['best-effort', 'canary-and-aliases', 'endpoints-and-protocols'])(
    'the sidecar table is byte for byte its JSON form, and every route keeps its retry policy, own or inherited (%s)',
    async (name) => {
      const { snapshot, parts } = await assembled(await readFolder(`test/golden/cases/${name}/input`));
      const json = sidecarRouteConfiguration(parts, DEFAULT_SETTINGS);
      expect(routeBytes(snapshot, SIDECAR_ROUTE_CONFIG, root).equals(encodedJson(json))).toBe(true);
      const host = (json['virtual_hosts'] as Record<string, any>[])[0]!;
      const sidecarRoutes: Record<string, any>[] = [
        ...Object.values(host['matcher']['matcher_tree']['exact_match_map']['map'] as Record<string, any>).flatMap((m) => m.action.typed_config.routes),
        ...host['matcher']['on_no_match']['action']['typed_config']['routes'],
      ];
      const grpcRoutes = ((routeConfiguration(parts, DEFAULT_SETTINGS)['virtual_hosts'] as Record<string, any>[])[0]!['routes'] as Record<string, any>[]).filter((r) => r['route']['cluster'] !== 'infermesh|blackhole');
      expect(grpcRoutes.length).toBeGreaterThan(0);
      for (const route of grpcRoutes) {
        const twin = sidecarRoutes.find((r) => r['name'] === route['name']);
        expect(twin?.['route']['retry_policy'] ?? host['retry_policy'], route['name']).toEqual(route['route']['retry_policy']);
      }
    },
  );

  it('with no models the sidecar table is the fallback list alone (an exact-match map may not be empty)', async () => {
    const { snapshot, parts } = await assembled({ ...(await readFolder('examples/basic')), configMaps: [] });
    const json = sidecarRouteConfiguration(parts, DEFAULT_SETTINGS);
    expect(JSON.stringify(json)).not.toContain('matcher');
    expect(routeBytes(snapshot, SIDECAR_ROUTE_CONFIG, root).equals(encodedJson(json))).toBe(true);
  });
});
