import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { Fuzz, policyConfigMap } from './mutations.ts';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

const SEED = Number(process.env['INFERMESH_FUZZ_SEED'] ?? 20261202);
const BATCHES = 50;
const FILES_PER_BATCH = 200;

// What every output line of validate may be: a file's problem (its path), a ConfigMap's problem (namespace/
// name, then its key or the ConfigMap as a whole), a model that failed to build, a warning, or the summary.
const NAMED_LINE = [
  /^batch-\d+\/doc-\d+\.yaml(#\d+)?: /,
  /^.*?\/.*? key "[^"]*"/,
  /^.*?\/.*?: no policy documents: /,
  /^model \S+ \([^)]* key "/,
  /^warning: /,
  /^invalid: \d+ problem\(s\) in \d+ policy ConfigMap\(s\)$/,
  /^valid: \d+ policy ConfigMap\(s\), \d+ backend cluster\(s\)$/,
];

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'infermesh-fuzz-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe(`validate on ${BATCHES * FILES_PER_BATCH} generated files (seed ${SEED}; INFERMESH_FUZZ_SEED to change)`, () => {
  it('exits 0 or 1, names the file or ConfigMap and key of every problem, never prints a stack or a control character', async () => {
    const fuzz = new Fuzz(SEED);
    const unnamed: string[] = [];
    for (let batch = 0; batch < BATCHES; batch++) {
      const dir = path.join(scratch, `batch-${batch}`);
      const files = Array.from({ length: FILES_PER_BATCH }, (_, i) => path.join(dir, `doc-${i}.yaml`));
      await mkdir(dir, { recursive: true });
      await Promise.all(files.map((file, i) => writeFile(file, policyConfigMap(fuzz, batch * FILES_PER_BATCH + i))));
      const out = new Capture();
      const err = new Capture();
      const previous = process.cwd();
      process.chdir(scratch);
      let code: number;
      try {
        code = await main(['validate', dir], out, err);
      } finally {
        process.chdir(previous);
      }
      const output = `${out.text}${err.text}`;
      expect(code, `batch ${batch}: exit code\n${output.slice(0, 2_000)}`).toBeOneOf([0, 1]);
      expect(output, `batch ${batch}: a stack trace`).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
      expect(output, `batch ${batch}: a raw control character`).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/u);
      const lines = output.split('\n').filter((line) => line !== '');
      for (const line of lines) {
        if (!NAMED_LINE.some((pattern) => pattern.test(line))) unnamed.push(`batch ${batch}: ${line.slice(0, 300)}`);
        if (line.length > 2_000) unnamed.push(`batch ${batch}: a line of ${line.length} characters`);
      }
    }
    expect(unnamed.slice(0, 20)).toEqual([]);
  }, 240_000);
});
