import { truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_ALIAS_COUNT, MAX_FILE_BYTES, MAX_NESTING_DEPTH, readFolder, readYamlFiles } from '../../src/sources/folder.ts';
import { configMapYaml, temporaryFolder, versions } from './changes.ts';

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => {
  ({ dir, remove } = await temporaryFolder());
});
afterEach(async () => {
  await remove();
});

/** A ConfigMap whose data key holds `uses` aliases of one anchor. */
function aliasesYaml(uses: number): string {
  const items = Array.from({ length: uses }, () => '    - *word').join('\n');
  return `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: aliased, namespace: models }\nanchors:\n  word: &word lol\n  uses:\n${items}\n`;
}

function nestedYaml(depth: number): string {
  // metadata and name are two levels; the rest nests under data.
  const inner = `${'['.repeat(depth - 3)}x${']'.repeat(depth - 3)}`;
  return `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: deep, namespace: models }\ndata: { deep: ${inner} }\n`;
}

describe('reading YAML files statelessly (validate, render)', () => {
  it(`names the file of a document with more than ${MAX_ALIAS_COUNT} aliases, and still reads every other file`, async () => {
    await writeFile(path.join(dir, 'a-good.yaml'), configMapYaml('first', '1'));
    await writeFile(path.join(dir, 'b-aliases.yaml'), `${configMapYaml('before', '1')}---\n${aliasesYaml(MAX_ALIAS_COUNT + 1)}---\n${configMapYaml('after', '1')}`);
    await writeFile(path.join(dir, 'c-good.yaml'), configMapYaml('last', '1'));
    const world = await readFolder(dir);
    expect(world.readErrors).toEqual([{ origin: 'b-aliases.yaml#1', message: expect.stringContaining(`exceed the limit of ${MAX_ALIAS_COUNT} expansions`) }]);
    expect(Object.keys(versions(world))).toEqual(['first', 'before', 'after', 'last']);
  });

  it('accepts aliases up to the limit (yaml counts the anchor as one)', async () => {
    await writeFile(path.join(dir, 'aliases.yaml'), aliasesYaml(MAX_ALIAS_COUNT - 1));
    const world = await readFolder(dir);
    expect(world.readErrors).toEqual([]);
    expect(world.configMaps.map((c) => c.name)).toEqual(['aliased']);
  });

  it(`rejects documents nested deeper than ${MAX_NESTING_DEPTH} levels, by file and document`, async () => {
    await writeFile(path.join(dir, 'deep.yaml'), `${nestedYaml(MAX_NESTING_DEPTH)}---\n${nestedYaml(MAX_NESTING_DEPTH + 1)}`);
    const world = await readFolder(dir);
    expect(world.readErrors).toEqual([{ origin: 'deep.yaml#1', message: `nested deeper than ${MAX_NESTING_DEPTH} levels` }]);
    expect(world.configMaps).toHaveLength(1);
  });

  it('refuses a file larger than the limit without reading it, and names it', async () => {
    await writeFile(path.join(dir, 'good.yaml'), configMapYaml('good', '1'));
    // Sparse: the size is over the limit, the disk holds nothing.
    await writeFile(path.join(dir, 'huge.yaml'), '');
    await truncate(path.join(dir, 'huge.yaml'), MAX_FILE_BYTES + 1);
    const world = await readFolder(dir);
    expect(world.readErrors).toEqual([{ origin: 'huge.yaml', message: expect.stringContaining(`more than the ${MAX_FILE_BYTES}-byte limit`) }]);
    expect(versions(world)).toEqual({ good: '1' });
  });

  it('reports syntax errors, duplicate keys and nameless objects by file and document, one line each, keeping the good documents', async () => {
    await writeFile(path.join(dir, 'mixed.yaml'), [configMapYaml('kept', '1'), 'a: [unclosed\n', 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x, name: y }\n', 'apiVersion: v1\nkind: ConfigMap\nmetadata: { namespace: models }\n', '"just a string"\n'].join('---\n'));
    const world = await readYamlFiles([path.join(dir, 'mixed.yaml')], dir);
    expect(world.readErrors.map((e) => e.origin)).toEqual(['mixed.yaml#1', 'mixed.yaml#2', 'mixed.yaml#3', 'mixed.yaml#4']);
    expect(world.readErrors[0]?.message).toMatch(/^YAML syntax error: .* at line 7, column 1$/);
    expect(world.readErrors[1]?.message).toContain('Map keys must be unique');
    expect(world.readErrors[2]?.message).toBe('ConfigMap without metadata.name');
    expect(world.readErrors[3]?.message).toContain('not a Kubernetes object');
    expect(world.readErrors.every((e) => !e.message.includes('\n'))).toBe(true);
    expect(versions(world)).toEqual({ kept: '1' });
  });

  it('reports a file it cannot read, or that is not a file, and reads the others', async () => {
    await writeFile(path.join(dir, 'good.yaml'), configMapYaml('good', '1'));
    const world = await readYamlFiles([path.join(dir, 'missing.yaml'), dir, path.join(dir, 'good.yaml')], dir);
    expect(world.readErrors).toEqual([
      { origin: 'missing.yaml', message: expect.stringContaining('cannot read: ENOENT') },
      { origin: path.basename(dir), message: 'cannot read: not a regular file' },
    ]);
    expect(versions(world)).toEqual({ good: '1' });
  });

  it('throws, naming the folder, only when the folder itself cannot be listed', async () => {
    await expect(readFolder(path.join(dir, 'nowhere'))).rejects.toThrow(`cannot read the config folder ${path.join(dir, 'nowhere')}`);
  });
});
