/**
 * Folders and files made unreadable with chmod 000. chmod denies nothing to root, and CI runs as root: there
 * this file runs itself again in a child vitest as the user nobody (uid 65534) and passes only if the child
 * ran and passed both cases; as any other user it runs them directly.
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderSource } from '../../src/sources/folder.ts';
import { ChangeSignal, clean, configMapYaml, openWatchedPolicyFolder, readUntil, reportsProblem, versions } from './changes.ts';

const NOBODY = 65534;
const runsAsRoot = process.getuid?.() === 0;

if (runsAsRoot) {
  describe('chmod 000 (as root: run as the user nobody in a child vitest)', () => {
    it('both chmod cases pass as nobody', () => {
      const vitest = path.join(import.meta.dirname, '..', '..', 'node_modules', 'vitest', 'vitest.mjs');
      const child = spawnSync(process.execPath, [vitest, 'run', '--configLoader', 'runner', import.meta.filename], {
        cwd: path.join(import.meta.dirname, '..', '..'),
        uid: NOBODY,
        gid: NOBODY,
        env: { ...process.env, HOME: '/tmp', TMPDIR: '/tmp', NO_COLOR: '1', FORCE_COLOR: '0' },
        encoding: 'utf8',
        timeout: 60_000,
      });
      const output = `${child.stdout}${child.stderr}`;
      expect(child.status, output).toBe(0);
      expect(output).toMatch(/Tests\s+2 passed \(2\)/);
    }, 90_000);
  });
} else {
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

  describe('an unreadable config folder or file (chmod 000)', () => {
    it('chmod 000 on the folder: nothing throws, the problem is reported, the last objects keep serving', async () => {
      const seen = signal.count;
      await chmod(dir, 0o000);
      try {
        await signal.after(seen, 'chmod 000 on the folder');
        const denied = await readUntil(source, signal, reportsProblem(dir), 'the unreadable folder reported');
        expect(denied.readErrors).toEqual([{ origin: dir, message: expect.stringContaining('EACCES') }]);
        expect(versions(denied)).toEqual({ policy: '1' });
      } finally {
        await chmod(dir, 0o755);
      }
      await writeFile(path.join(dir, 'policy.yaml'), configMapYaml('policy', '2'));
      const recovered = await readUntil(source, signal, (world) => clean(world) && versions(world)['policy'] === '2', 'recovery after chmod 755');
      expect(recovered.readErrors).toEqual([]);
    });

    it('chmod 000 on a file or a subfolder: their objects keep serving, the rest is read, both recover', async () => {
      await mkdir(path.join(dir, 'team'));
      await writeFile(path.join(dir, 'team', 'team.yaml'), configMapYaml('team', '1'));
      await readUntil(source, signal, (world) => versions(world)['team'] === '1', 'the subfolder read');
      await chmod(path.join(dir, 'policy.yaml'), 0o000);
      await chmod(path.join(dir, 'team'), 0o000);
      try {
        await writeFile(path.join(dir, 'other.yaml'), configMapYaml('other', '1'));
        const denied = await readUntil(source, signal, (world) => versions(world)['other'] === '1' && world.readErrors.length >= 2, 'both problems reported');
        expect(versions(denied)).toEqual({ other: '1', policy: '1', team: '1' });
        expect(denied.readErrors).toEqual([
          { origin: 'team/', message: expect.stringContaining('cannot list: EACCES') },
          { origin: 'policy.yaml', message: expect.stringContaining('cannot read: EACCES') },
          { origin: 'policy.yaml', message: expect.stringContaining('keeps serving the 1 object') },
        ]);
      } finally {
        await chmod(path.join(dir, 'policy.yaml'), 0o644);
        await chmod(path.join(dir, 'team'), 0o755);
      }
      await readUntil(source, signal, clean, 'recovery after chmod back (a permission change alone, no content change)');
    });
  });
}
