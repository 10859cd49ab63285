import { rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderSource, type FolderSourceOptions } from '../../src/sources/folder.ts';
import { ChangeSignal, configMapYaml, temporaryFolder, versions } from './changes.ts';

let dir: string;
let file: string;
let remove: () => Promise<void>;
let source: FolderSource | undefined;

beforeEach(async () => {
  ({ dir, remove } = await temporaryFolder());
  file = path.join(dir, 'policies.yaml');
});
afterEach(async () => {
  source?.close();
  source = undefined;
  await remove();
});

/** Reads only when told to: no watches, no rescans, no settle window unless a test asks for one. */
function reading(options: FolderSourceOptions = {}): FolderSource {
  source = new FolderSource(dir, { rescanMs: 0, settleMs: 0, ...options });
  return source;
}

const twoConfigMaps = (version: string) => `${configMapYaml('p', version)}---\n${configMapYaml('q', version)}`;

const brokenEdits: [string, string][] = [
  ['a YAML syntax error', `${configMapYaml('p', '2')}---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: q, namespace: models\n`],
  ['duplicate keys', `${configMapYaml('p', '2')}data: { version: "3" }\n`],
  ['a ConfigMap without metadata.name', `${configMapYaml('p', '2')}---\napiVersion: v1\nkind: ConfigMap\nmetadata: { namespace: models }\n`],
  ['an EndpointSlice without its service label', `${configMapYaml('p', '2')}---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: s }\n`],
  ['a half-written file (cut inside the second object)', twoConfigMaps('2').slice(0, twoConfigMaps('2').indexOf('name: q') + 4)],
  ['zero bytes (truncated, the rest not written yet)', ''],
  ['whitespace only', '\n   \n'],
  ['101 aliases', `${configMapYaml('p', '2')}---\nx: &a v\nl: [${Array.from({ length: 101 }, () => '*a').join(', ')}]\n`],
];

describe('FolderSource keeps each file at its last good version', () => {
  it.each(brokenEdits)('%s: keeps serving every object the file held, names the file, and recovers when it is fixed', async (_, brokenText) => {
    await writeFile(file, twoConfigMaps('1'));
    await writeFile(path.join(dir, 'other.yaml'), configMapYaml('other', '1'));
    const folder = reading();
    expect(versions(await folder.read())).toEqual({ other: '1', p: '1', q: '1' });

    await writeFile(file, brokenText);
    await writeFile(path.join(dir, 'other.yaml'), configMapYaml('other', '2'));
    const broken = await folder.read();
    expect(versions(broken)).toEqual({ other: '2', p: '1', q: '1' });
    expect(broken.readErrors.length).toBeGreaterThan(0);
    expect(broken.readErrors.every((e) => e.origin.startsWith('policies.yaml'))).toBe(true);
    expect(broken.readErrors.at(-1)).toEqual({ origin: 'policies.yaml', message: expect.stringMatching(/keeps serving the 2 objects it held/) });

    await writeFile(file, twoConfigMaps('3'));
    const fixed = await folder.read();
    expect(fixed.readErrors).toEqual([]);
    expect(versions(fixed)).toEqual({ other: '2', p: '3', q: '3' });
  });

  it('tells how to remove the objects of a file left empty', async () => {
    await writeFile(file, twoConfigMaps('1'));
    const folder = reading();
    await folder.read();
    await writeFile(file, '');
    expect((await folder.read()).readErrors).toEqual([{ origin: 'policies.yaml', message: expect.stringContaining('delete the file to remove them') }]);
  });

  it('removes the objects of a deleted file, and of a file rewritten to hold none', async () => {
    await writeFile(file, twoConfigMaps('1'));
    await writeFile(path.join(dir, 'other.yaml'), configMapYaml('other', '1'));
    const folder = reading();
    await folder.read();
    await rm(path.join(dir, 'other.yaml'));
    expect(versions(await folder.read())).toEqual({ p: '1', q: '1' });
    await writeFile(file, '# deleted: nothing here any more\n');
    expect(await folder.read()).toEqual({ configMaps: [], endpointSlices: [], readErrors: [] });
  });

  it('serves what parsed of a file that never read cleanly, and forgets a broken file once it is deleted', async () => {
    await writeFile(file, `${configMapYaml('p', '1')}---\na: [unclosed\n`);
    const folder = reading();
    const first = await folder.read();
    expect(versions(first)).toEqual({ p: '1' });
    expect(first.readErrors).toEqual([{ origin: 'policies.yaml#1', message: expect.stringContaining('YAML syntax error') }]);
    await rm(file);
    expect(await folder.read()).toEqual({ configMaps: [], endpointSlices: [], readErrors: [] });
  });

  it('does not trust a file modified within the settle window: last good until it settles, then re-reads by itself', async () => {
    await writeFile(file, twoConfigMaps('1'));
    const { mtimeMs: firstWrite } = await stat(file);
    let now = firstWrite + 1_000;
    // Deaf watches and no rescans: the only notification can be the source's own re-read after settling.
    const deaf = () => ({ on: () => undefined, close: () => undefined });
    const folder = reading({ settleMs: 50, now: () => now, watchDirectory: deaf });
    const signal = new ChangeSignal();
    folder.watch(signal.notify);
    expect(versions(await folder.read())).toEqual({ p: '1', q: '1' });

    // What a reader sees mid-write may parse cleanly and still be a prefix: here, the first object alone.
    await writeFile(file, configMapYaml('p', '2'));
    const { mtimeMs } = await stat(file);
    now = mtimeMs + 10;
    const seen = signal.count;
    const unsettled = await folder.read();
    expect(versions(unsettled)).toEqual({ p: '1', q: '1' });
    expect(unsettled.readErrors).toEqual([]);
    await signal.after(seen, 'the re-read scheduled after the settle window');

    now = mtimeMs + 60;
    expect(versions(await folder.read())).toEqual({ p: '2' });
  });

  it('serves a file unsettled at the first read as it is (there is no last good to keep)', async () => {
    await writeFile(file, twoConfigMaps('1'));
    const { mtimeMs } = await stat(file);
    const folder = reading({ settleMs: 50, now: () => mtimeMs });
    expect(versions(await folder.read())).toEqual({ p: '1', q: '1' });
  });

  it('invents no creation time, whatever the clock says, across edits and broken reads', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    await writeFile(file, twoConfigMaps('1'));
    const folder = reading({ now: () => now });
    expect((await folder.read()).configMaps.map((c) => c.creationTimestamp)).toEqual(['', '']);
    now = Date.parse('2026-02-01T00:00:00Z');
    await writeFile(file, 'a: [unclosed\n');
    await folder.read();
    await writeFile(file, twoConfigMaps('2'));
    const world = await folder.read();
    // A made-up time would differ between replicas and across restarts (see NO_CREATION_TIME).
    expect(world.configMaps.map((c) => c.creationTimestamp)).toEqual(['', '']);
  });
});
