/**
 * A read after a change parses only the files that changed: the others give back the very objects they gave
 * last time (which is also what lets reconcile skip unchanged models by identity).
 */
import { utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { FolderSource } from '../../src/sources/folder.ts';
import { configMapYaml, temporaryFolder, versions } from './changes.ts';

let dir: string;
let remove: () => Promise<void>;
let source: FolderSource;

beforeEach(async () => {
  ({ dir, remove } = await temporaryFolder());
  await writeFile(path.join(dir, 'a.yaml'), configMapYaml('a', '1'));
  await writeFile(path.join(dir, 'b.yaml'), configMapYaml('b', '1'));
  source = new FolderSource(dir, { settleMs: 0 });
});
afterEach(async () => {
  source.close();
  await remove();
});

const configMap = (world: Awaited<ReturnType<FolderSource['read']>>, name: string) => world.configMaps.find((cm) => cm.name === name);

it('gives back the same objects for files that did not change, and new ones for the file that did', async () => {
  const first = await source.read();
  const second = await source.read();
  expect(configMap(second, 'a')).toBe(configMap(first, 'a'));
  expect(configMap(second, 'b')).toBe(configMap(first, 'b'));

  await writeFile(path.join(dir, 'b.yaml'), configMapYaml('b', '2'));
  const third = await source.read();
  expect(versions(third)).toEqual({ a: '1', b: '2' });
  expect(configMap(third, 'a')).toBe(configMap(first, 'a'));
  expect(configMap(third, 'b')).not.toBe(configMap(first, 'b'));
});

it('reads a file again when only its times changed (same size and content written back)', async () => {
  const first = await source.read();
  const later = new Date(Date.now() + 5_000);
  await utimes(path.join(dir, 'a.yaml'), later, later);
  const second = await source.read();
  expect(configMap(second, 'a')).not.toBe(configMap(first, 'a'));
  expect(configMap(second, 'a')).toEqual(configMap(first, 'a'));
});
