import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateEnvoyTypes, listFiles } from '../../scripts/gen-envoy-types.ts';

/** The committed Envoy message types are what `npm run gen:types` produces from the installed protos today. */
describe('src/envoy/types', () => {
  const committed = path.resolve('src/envoy/types');
  const fresh = mkdtempSync(path.join(os.tmpdir(), 'infermesh-types-check-'));
  afterAll(() => rmSync(fresh, { recursive: true, force: true }));

  it('is current: regenerating yields no difference (run npm run gen:types after changing the protos or the script)', () => {
    generateEnvoyTypes(fresh);
    const files = listFiles(fresh);
    expect(listFiles(committed)).toEqual(files);
    const differing = files.filter((file) => readFileSync(path.join(fresh, file), 'utf8') !== readFileSync(path.join(committed, file), 'utf8'));
    expect(differing).toEqual([]);
  });
});
