import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderWorld, snapshotJson, type RenderedWorld } from '../../src/cli/render.ts';
import { EMPTY_LAST_GOOD } from '../../src/controller/reconcile.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { DEFAULT_SETTINGS, type MeshSettings } from '../../src/model/types.ts';
import { ResourceCodec } from '../../src/snapshot/codec.ts';
import { readFolder } from '../../src/sources/folder.ts';
import { RESOURCE_KINDS } from '../../src/envoy/type-urls.ts';
import { EXPECTED_FILES, deleteOrphans, listCases, orphans, type ExpectedFile, type GoldenCase } from './case-layout.ts';

/**
 * Golden tests in Envoy Gateway's style (internal/xds/translator/testdata): a folder of Kubernetes YAML in,
 * one expected file per resource type out, plus every model's state and a digest of the encoded bytes.
 * `npm run golden:update` (UPDATE_GOLDEN=1) rewrites the expected files and deletes those whose input is
 * gone; review the diff. Without it a missing or extra file fails. Layout: see case-layout.ts.
 */
const casesDir = path.join(import.meta.dirname, 'cases');
const updating = process.env['UPDATE_GOLDEN'] === '1';
const cases = listCases(casesDir);
const protos = loadEnvoyProtos();
// Objects without a creationTimestamp get this one, so conflicts and outputs never depend on the clock.
function settingsOf(golden: GoldenCase): MeshSettings {
  if (!golden.settingsFile) return DEFAULT_SETTINGS;
  return { ...DEFAULT_SETTINGS, ...(JSON.parse(readFileSync(golden.settingsFile, 'utf8')) as Partial<MeshSettings>) };
}

/** What the controller would serve after seeing `before` (if any) and then `input`. */
async function render(golden: GoldenCase): Promise<RenderedWorld> {
  const settings = settingsOf(golden);
  // One codec per case, shared by its steps as the controller shares one: no case sees another's caches.
  const codec = new ResourceCodec(protos);
  const read = (dir: string) => readFolder(dir);
  const lastGood = golden.before ? renderWorld(await read(golden.before), settings, codec).lastGood : EMPTY_LAST_GOOD;
  return renderWorld(await read(golden.input), settings, codec, lastGood);
}

function status(rendered: RenderedWorld) {
  const provenance = new Map(rendered.policies.map((p) => [p.model, p.provenance]));
  return {
    problems: rendered.problems,
    warnings: rendered.warnings,
    models: rendered.statuses.map((s) => ({
      model: s.model,
      state: s.state,
      source: s.source ? `${s.source.namespace}/${s.source.configMap} key ${JSON.stringify(s.source.key)} [doc ${s.source.index}]` : null,
      problems: s.problems,
      ...(s.state === 'serving' || s.state === 'stale' ? { provenance: provenance.get(s.model) ?? {} } : {}),
    })),
  };
}

function encodedDigests(rendered: RenderedWorld): Record<string, Record<string, string>> {
  return Object.fromEntries(
    RESOURCE_KINDS.map((kind) => [
      kind,
      Object.fromEntries(
        [...rendered.snapshot.resources(kind).values()]
          .sort((a, b) => (a.name < b.name ? -1 : 1))
          .map((r) => [r.name, createHash('sha256').update(r.any).digest('hex').slice(0, 16)]),
      ),
    ]),
  );
}

function outputs(rendered: RenderedWorld): Record<ExpectedFile, unknown> {
  const resources = snapshotJson(rendered.snapshot);
  return {
    'listeners.json': resources['listeners'],
    'routes.json': resources['routes'],
    'scoped-routes.json': resources['scopedRoutes'],
    'clusters.json': resources['clusters'],
    'endpoints.json': resources['endpoints'],
    'status.json': status(rendered),
    'encoded.json': encodedDigests(rendered),
  };
}

describe('golden: YAML folder in, one file per Envoy resource type out', () => {
  it('has at least 15 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
  });

  it.each(cases)('$name', async (golden) => {
    const actual = outputs(await render(golden));
    for (const file of EXPECTED_FILES) {
      const expectedPath = path.join(golden.dir, file);
      const text = `${JSON.stringify(actual[file], null, 2)}\n`;
      if (updating) writeFileSync(expectedPath, text);
      if (!existsSync(expectedPath)) throw new Error(`missing golden file ${path.relative(casesDir, expectedPath)}; run npm run golden:update and review the diff`);
      expect.soft(JSON.parse(text), `${golden.name}/${file}`).toEqual(JSON.parse(readFileSync(expectedPath, 'utf8')));
    }
  });

  it('keeps no output whose input is gone', () => {
    const found = orphans(casesDir);
    if (updating) deleteOrphans(found);
    else expect(found.map((file) => path.relative(casesDir, file)), 'run npm run golden:update to delete them').toEqual([]);
  });
});
