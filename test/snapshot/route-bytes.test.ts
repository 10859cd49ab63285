import { describe, expect, it } from 'vitest';
import type protobuf from 'protobufjs';
import { EMPTY_LAST_GOOD, reconcileWorld } from '../../src/controller/reconcile.ts';
import { modelTableName } from '../../src/envoy/names.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { fromMessageObject } from '../../src/protobuf/message-object.ts';
import type { ModelRoutes } from '../../src/envoy/route-config.ts';
import { modelTableConfiguration, routeConfiguration } from '../envoy/route-config-json.ts';
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

  it.each(['examples/basic', 'test/golden/cases/best-effort/input', 'test/golden/cases/canary-and-aliases/input', 'test/golden/cases/endpoints-and-protocols/input'])(
    "each model name's own table is byte for byte its JSON form (%s)",
    async (folder) => {
      const { snapshot, parts } = await assembled(await readFolder(folder));
      let tables = 0;
      for (const part of parts) {
        for (const { name } of part.byName) {
          const json = modelTableConfiguration(part, DEFAULT_SETTINGS, name);
          expect(routeBytes(snapshot, modelTableName(DEFAULT_SETTINGS.grpcTarget, name), root).equals(encodedJson(json)), name).toBe(true);
          tables += 1;
        }
      }
      expect(tables).toBeGreaterThan(0);
    },
  );
});
