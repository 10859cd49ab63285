import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EMPTY_LAST_GOOD, reconcileWorld } from '../../src/controller/reconcile.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { messageName, RESOURCE_KINDS } from '../../src/envoy/type-urls.ts';
import { DEFAULT_SETTINGS, type MeshSettings } from '../../src/model/types.ts';
import { encodeProto3Json } from '../support/proto3-json/index.ts';
import { assembleSnapshot } from '../../src/snapshot/assemble.ts';
import { ResourceCodec } from '../../src/snapshot/codec.ts';
import { readFolder } from '../../src/sources/folder.ts';
import { listCases, type GoldenCase } from '../golden/case-layout.ts';

/**
 * The production path (typed builder messages -> protobufjs fromObject -> encode) against the strict proto3
 * JSON path (canonical JSON -> strict reader -> encode), on every golden input and the bundled example: each
 * resource's bytes equal what the strict reader makes of its canonical JSON. protobufjs encodes every field
 * that is set, defaults too, so this fails when a builder writes a proto3 default (lb_policy ROUND_ROBIN, a
 * wrapper holding 0 as {value: 0}, a Duration with seconds: 0): its bytes would no longer be canonical.
 * The golden digests (encoded.json) pin the same bytes; this says which path disagrees and where.
 */

const root = loadEnvoyProtos();
const anyType = root.lookupType('google.protobuf.Any');
const CASES = listCases(path.resolve('test/golden/cases'));

function settingsOf(golden: GoldenCase): MeshSettings {
  if (!golden.settingsFile) return DEFAULT_SETTINGS;
  return { ...DEFAULT_SETTINGS, ...(JSON.parse(readFileSync(golden.settingsFile, 'utf8')) as Partial<MeshSettings>) };
}

async function snapshotOf(dir: string, settings: MeshSettings) {
  const codec = new ResourceCodec(root);
  const result = reconcileWorld(await readFolder(dir), EMPTY_LAST_GOOD, codec, settings);
  const outcome = assembleSnapshot(result.encoded, settings, codec, 1);
  if (!outcome.ok) throw new Error(outcome.problems.join('; '));
  return outcome.snapshot;
}

describe('typed builders encode to the canonical bytes of their proto3 JSON', () => {
  const inputs: [string, string, MeshSettings][] = [
    ['examples/basic', 'examples/basic', DEFAULT_SETTINGS],
    ...CASES.map((golden): [string, string, MeshSettings] => [golden.name, golden.input, settingsOf(golden)]),
  ];

  it('covers the golden cases', () => expect(CASES.length).toBeGreaterThanOrEqual(15));

  it.each(inputs)('%s', async (_name, dir, settings) => {
    const snapshot = await snapshotOf(dir, settings);
    let compared = 0;
    for (const kind of RESOURCE_KINDS) {
      for (const resource of snapshot.resources(kind).values()) {
        const bytes = (anyType.toObject(anyType.decode(resource.any)) as { value: Uint8Array }).value;
        const strict = encodeProto3Json(root, messageName(resource.typeUrl), resource.json);
        expect(strict.errors, resource.name).toEqual([]);
        expect(Buffer.from(strict.bytes ?? []).equals(Buffer.from(bytes)), `${kind} ${resource.name}`).toBe(true);
        compared += 1;
      }
    }
    // Even with no model: the two listeners, the gRPC table, the blackhole cluster and its endpoints.
    expect(compared).toBeGreaterThanOrEqual(5);
  });
});
