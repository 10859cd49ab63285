import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderWorld, snapshotJson } from '../../src/cli/render.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { ResourceCodec } from '../../src/snapshot/codec.ts';
import { readFolder } from '../../src/sources/folder.ts';

/**
 * Golden tests in Envoy Gateway's style: a folder of Kubernetes YAML in, every Envoy resource and every
 * problem out. Run with UPDATE_GOLDEN=1 (npm run golden:update) to rewrite expected.json after an intended
 * change, then review the diff.
 */
const casesDir = path.join(import.meta.dirname, 'cases');
const repoRoot = path.resolve(import.meta.dirname, '../..');
const cases = [
  { name: 'examples/basic', input: path.join(repoRoot, 'examples/basic'), expected: path.join(casesDir, 'examples-basic.expected.json') },
  ...readdirSync(casesDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => ({ name: entry.name, input: path.join(casesDir, entry.name, 'input'), expected: path.join(casesDir, entry.name, 'expected.json') })),
];
const codec = new ResourceCodec(loadEnvoyProtos());

describe('golden: YAML folder in, Envoy resources out', () => {
  it.each(cases)('$name', async ({ input, expected }) => {
    const rendered = renderWorld(await readFolder(input), DEFAULT_SETTINGS, codec);
    const actual = { problems: rendered.problems, warnings: rendered.warnings, ...snapshotJson(rendered.snapshot) };
    const text = `${JSON.stringify(actual, null, 2)}\n`;
    if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(expected)) {
      if (process.env['CI'] && !existsSync(expected)) throw new Error(`missing golden file ${expected}; run npm run golden:update`);
      writeFileSync(expected, text);
    }
    expect(JSON.parse(text)).toEqual(JSON.parse(readFileSync(expected, 'utf8')));
  });
});
