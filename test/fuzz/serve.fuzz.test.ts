import { copyFile, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
import { ServeProcess } from '../support/serve-process.ts';
import { Fuzz, policyConfigMap } from './mutations.ts';

const SEED = Number(process.env['INFERMESH_FUZZ_SEED'] ?? 20261202);
const EDITS = 300;
const EXAMPLE = path.resolve(import.meta.dirname, '../../examples/basic');

interface ModelState {
  model: string;
  state: string;
}

let dir: string;
let serve: ServeProcess | undefined;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'infermesh-serve-fuzz-'));
  for (const file of ['bert-policy.yaml', 'endpointslices.yaml', 'resnet50-policy.yaml']) await copyFile(path.join(EXAMPLE, file), path.join(dir, file));
});

afterEach(async () => {
  serve?.kill();
  serve = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function models(port: number): Promise<ModelState[]> {
  const response = await fetch(`http://127.0.0.1:${port}/status`, { signal: AbortSignal.timeout(5_000) });
  const status = (await response.json()) as { models: ModelState[] };
  return status.models;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe(`a running serve under ${EDITS} generated edits (seed ${SEED})`, () => {
  it('never dies, keeps the untouched model serving, and applies the edit that follows', async () => {
    serve = await ServeProcess.start(dir);
    const admin = serve.adminPort;
    const target = path.join(dir, 'resnet50-policy.yaml');
    const fuzz = new Fuzz(SEED);
    for (let edit = 0; edit < EDITS; edit++) {
      const text = policyConfigMap(fuzz, edit);
      // Editors save in place or by renaming a temporary file over the old one; both must be seen.
      if (fuzz.chance(0.5)) {
        await writeFile(target, text);
      } else {
        await writeFile(`${target}.tmp`, text);
        await rename(`${target}.tmp`, target);
      }
      await pause(fuzz.int(15));
      if (edit % 50 === 49) {
        expect(serve.running, `serve died after edit ${edit}:\n${serve.output.slice(-20).join('\n')}`).toBe(true);
        expect((await models(admin)).find((m) => m.model === 'bert')?.state).toBe('serving');
      }
    }
    const fixed = (await readFile(path.join(EXAMPLE, 'resnet50-policy.yaml'), 'utf8')).replace('    model: resnet50', '    model: fuzz-survivor');
    await writeFile(target, fixed);
    await eventually(async () => {
      const now = await models(admin);
      expect(now.find((m) => m.model === 'fuzz-survivor')?.state, `${JSON.stringify(now).slice(0, 3_000)}\n${serve?.output.slice(-10).join('\n').slice(0, 3_000)}`).toBe('serving');
    }, { timeoutMs: 20_000, intervalMs: 100 });
    expect((await models(admin)).find((m) => m.model === 'bert')?.state).toBe('serving');
    expect(serve.running).toBe(true);
  }, 120_000);
});
