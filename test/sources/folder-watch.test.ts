import { watch, type FSWatcher } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderSource, type FolderSourceOptions } from '../../src/sources/folder.ts';
import { ChangeSignal, configMapYaml, readUntil, saveAtomically, temporaryFolder, versions } from './changes.ts';

let dir: string;
let remove: () => Promise<void>;
let source: FolderSource | undefined;
let signal: ChangeSignal;

beforeEach(async () => {
  ({ dir, remove } = await temporaryFolder());
  signal = new ChangeSignal();
});
afterEach(async () => {
  source?.close();
  source = undefined;
  await remove();
});

/** A watching source; by default without rescans or settling, so every notification comes from a watch. */
async function watching(options: FolderSourceOptions = {}): Promise<FolderSource> {
  source = new FolderSource(dir, { rescanMs: 0, settleMs: 0, ...options });
  source.watch(signal.notify);
  await source.read();
  return source;
}

/** Makes an edit, then waits for a notification that came after it and a read that shows it. */
async function expectNoticed(what: string, edit: () => Promise<void>, accept: (v: Record<string, string | undefined>) => boolean): Promise<void> {
  const seen = signal.count;
  await edit();
  await signal.after(seen, what);
  await readUntil(source!, signal, (world) => accept(versions(world)), what);
}

describe('FolderSource watching', () => {
  it('notices every one of 200 atomic saves of one file, then in-place edits of it', async () => {
    const file = path.join(dir, 'policy.yaml');
    await writeFile(file, configMapYaml('policy', '0'));
    await watching();
    for (let version = 1; version <= 200; version += 1) {
      await expectNoticed(`atomic save ${version}`, () => saveAtomically(file, configMapYaml('policy', String(version))), (v) => v['policy'] === String(version));
    }
    for (const version of ['in-place-1', 'in-place-2', 'in-place-3']) {
      await expectNoticed(`in-place edit ${version}`, () => writeFile(file, configMapYaml('policy', version)), (v) => v['policy'] === version);
    }
  });

  it('notices a file moved in from outside the folder, and files in a new subfolder', async () => {
    const outside = await mkdtemp(path.join(tmpdir(), 'infermesh-outside-'));
    try {
      await watching();
      await writeFile(path.join(outside, 'moved.yaml'), configMapYaml('moved', '1'));
      await expectNoticed('mv into the folder', () => rename(path.join(outside, 'moved.yaml'), path.join(dir, 'moved.yaml')), (v) => v['moved'] === '1');
      await expectNoticed('a new subfolder with a file', async () => {
        await mkdir(path.join(dir, 'team-a'));
        await writeFile(path.join(dir, 'team-a', 'sub.yaml'), configMapYaml('sub', '1'));
      }, (v) => v['sub'] === '1');
      await expectNoticed('an in-place edit in the new subfolder', () => writeFile(path.join(dir, 'team-a', 'sub.yaml'), configMapYaml('sub', '2')), (v) => v['sub'] === '2');
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('keeps serving through a deleted config folder, and follows it once recreated', async () => {
    await writeFile(path.join(dir, 'policy.yaml'), configMapYaml('policy', '1'));
    await watching({ rescanMs: 50 });
    const seen = signal.count;
    await rm(dir, { recursive: true });
    await signal.after(seen, 'deleting the folder');
    const gone = await readUntil(source!, signal, (world) => world.readErrors.length > 0, 'the missing folder reported');
    expect(gone.readErrors).toEqual([{ origin: dir, message: expect.stringContaining('cannot read the config folder (ENOENT') }]);
    expect(versions(gone)).toEqual({ policy: '1' });

    await expectNoticed('recreating the folder', async () => {
      await mkdir(dir);
      await writeFile(path.join(dir, 'policy.yaml'), configMapYaml('policy', '2'));
    }, (v) => v['policy'] === '2');
    await expectNoticed('an in-place edit in the recreated folder', () => writeFile(path.join(dir, 'policy.yaml'), configMapYaml('policy', '3')), (v) => v['policy'] === '3');
    expect((await source!.read()).readErrors).toEqual([]);
  });

  it('re-watches a recreated folder even when no rescan timer runs (one rescan re-syncs the watches)', async () => {
    await writeFile(path.join(dir, 'policy.yaml'), configMapYaml('policy', '1'));
    await watching();
    await rm(dir, { recursive: true });
    await mkdir(dir);
    await writeFile(path.join(dir, 'policy.yaml'), configMapYaml('policy', '2'));
    await source!.rescan();
    await readUntil(source!, signal, (world) => versions(world)['policy'] === '2', 'the recreated folder read');
    await expectNoticed('an in-place edit, seen by the new watch alone', () => writeFile(path.join(dir, 'policy.yaml'), configMapYaml('policy', '3')), (v) => v['policy'] === '3');
  });

  it('survives a watch that fails, reports it, and watches again after the retry delay', async () => {
    let now = 1_000_000;
    const watchers: FSWatcher[] = [];
    const watchDirectory = (watched: string, onEvent: (eventType: string, filename: string | null) => void) => {
      const watcher = watch(watched, { persistent: false }, (eventType, filename) => onEvent(eventType, filename));
      watchers.push(watcher);
      return watcher;
    };
    await writeFile(path.join(dir, 'policy.yaml'), configMapYaml('policy', '1'));
    await watching({ watchDirectory, now: () => now });
    expect(watchers).toHaveLength(1);

    const seen = signal.count;
    expect(() => watchers[0]?.emit('error', Object.assign(new Error('EACCES: permission denied, watch'), { code: 'EACCES' }))).not.toThrow();
    await signal.after(seen, 'the watch failing (changes may have been missed)');
    const reported = await source!.read();
    expect(reported.readErrors).toEqual([{ origin: dir, message: expect.stringMatching(/^watch failed: EACCES.*changes there go unnoticed$/) }]);
    expect(versions(reported)).toEqual({ policy: '1' });
    expect(watchers).toHaveLength(1);

    now += 1_000;
    await source!.rescan();
    expect(watchers).toHaveLength(2);
    expect((await source!.read()).readErrors).toEqual([]);
    await expectNoticed('an in-place edit, seen by the new watch', () => writeFile(path.join(dir, 'policy.yaml'), configMapYaml('policy', '2')), (v) => v['policy'] === '2');
  });

  it('notices changes no watch reports by rescanning, and does not churn when nothing changed', async () => {
    const deaf = () => ({ on: () => undefined, close: () => undefined });
    const file = path.join(dir, 'policy.yaml');
    await writeFile(file, configMapYaml('policy', '1'));
    await watching({ watchDirectory: deaf });
    await source!.rescan();
    await source!.rescan();
    expect(signal.count).toBe(0);
    for (const [version, edit] of [['2', () => writeFile(file, configMapYaml('policy', '2'))], ['3', () => saveAtomically(file, configMapYaml('policy', '3'))]] as const) {
      await edit();
      await source!.rescan();
      expect(signal.count, `rescan after edit ${version}`).toBeGreaterThan(0);
      expect(versions(await source!.read())).toEqual({ policy: version });
      signal.count = 0;
    }
  });

  it('stops notifying after close()', async () => {
    await writeFile(path.join(dir, 'policy.yaml'), configMapYaml('policy', '1'));
    await watching({ rescanMs: 20 });
    source!.close();
    const seen = signal.count;
    await writeFile(path.join(dir, 'policy.yaml'), configMapYaml('policy', '2'));
    await expect(signal.after(seen, 'an edit after close()', 200)).rejects.toThrow('no change noticed');
  });
});
