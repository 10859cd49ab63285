/**
 * Unreadable folders and files, made so by replacing them (a regular file where the folder was, a dangling
 * symbolic link where a file was). The chmod cases are in folder-chmod.test.ts.
 */
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderSource } from '../../src/sources/folder.ts';
import { ChangeSignal, clean, configMapYaml, openWatchedPolicyFolder, readUntil, reportsProblem, versions } from './changes.ts';

let dir: string;
let remove: () => Promise<void>;
let source: FolderSource;
let signal: ChangeSignal;

beforeEach(async () => {
  ({ dir, remove, source, signal } = await openWatchedPolicyFolder());
});
afterEach(async () => {
  source.close();
  await remove();
});

describe('an unreadable config folder or file', () => {
  it('the folder replaced by a regular file: nothing throws, the problem is reported, the last objects keep serving', async () => {
    const seen = signal.count;
    await rename(dir, `${dir}.moved`);
    await writeFile(dir, 'not a folder\n');
    await signal.after(seen, 'moving the folder away');
    const replaced = await readUntil(source, signal, reportsProblem(dir), 'the unreadable folder reported');
    expect(replaced.readErrors).toEqual([{ origin: dir, message: expect.stringContaining('ENOTDIR') }]);
    expect(versions(replaced)).toEqual({ policy: '1' });

    await rm(dir);
    await rename(`${dir}.moved`, dir);
    await writeFile(path.join(dir, 'policy.yaml'), configMapYaml('policy', '2'));
    await readUntil(source, signal, (world) => clean(world) && versions(world)['policy'] === '2', 'recovery when the folder is back');
  });

  it('a file replaced by a dangling symbolic link: its objects keep serving, the problem names it, and it recovers', async () => {
    await writeFile(path.join(dir, 'other.yaml'), configMapYaml('other', '1'));
    await rename(path.join(dir, 'policy.yaml'), path.join(dir, '.policy.yaml.bak'));
    await symlink(path.join(dir, 'nowhere.yaml.target'), path.join(dir, 'policy.yaml'));
    const dangling = await readUntil(source, signal, reportsProblem('policy.yaml'), 'the unreadable file reported');
    expect(versions(dangling)).toEqual({ other: '1', policy: '1' });
    expect(dangling.readErrors).toEqual([
      { origin: 'policy.yaml', message: expect.stringContaining('cannot read: ENOENT') },
      { origin: 'policy.yaml', message: expect.stringContaining('keeps serving the 1 object') },
    ]);

    await writeFile(path.join(dir, 'nowhere.yaml.target'), configMapYaml('policy', '2'));
    await readUntil(source, signal, (world) => clean(world) && versions(world)['policy'] === '2', 'recovery once the link resolves');
  });

  it('a folder that cannot be read at the first read: rejects (nothing good to serve), then serves it once it appears', async () => {
    const missing = path.join(dir, 'later');
    const later = new FolderSource(missing, { rescanMs: 20, settleMs: 0 });
    const appeared = new ChangeSignal();
    later.watch(appeared.notify);
    try {
      await expect(later.read()).rejects.toThrow(`cannot read the config folder ${missing}: ENOENT`);
      const seen = appeared.count;
      await mkdir(missing);
      await writeFile(path.join(missing, 'late.yaml'), configMapYaml('late', '1'));
      await appeared.after(seen, 'the folder appearing');
      expect(versions(await later.read())).toEqual({ late: '1' });
    } finally {
      later.close();
    }
  });
});
