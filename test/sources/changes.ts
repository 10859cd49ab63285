/** Helpers for folder-source tests: wait on change notifications (never blind sleeps), write files as editors do. */
import { chmod, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FolderSource } from '../../src/sources/folder.ts';
import type { SourceWorld } from '../../src/sources/types.ts';

/** Counts a source's change notifications; waits for ones that come after a given count. */
export class ChangeSignal {
  count = 0;
  #waiters = new Set<() => void>();

  readonly notify = (): void => {
    this.count += 1;
    for (const wake of [...this.#waiters]) wake();
  };

  /** Resolves once a notification after `seen` has arrived; rejects after timeoutMs, naming what was awaited. */
  after(seen: number, what: string, timeoutMs = 3_000): Promise<void> {
    if (this.count > seen) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const wake = () => {
        if (this.count <= seen) return;
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        reject(new Error(`no change noticed within ${timeoutMs} ms after ${what}`));
      }, timeoutMs);
      this.#waiters.add(wake);
    });
  }
}

/**
 * Reads until `accept` holds, waiting for a change notification between reads (a read may land between the
 * truncate and the write of an in-place save). Fails after timeoutMs with what was awaited and the last world.
 */
export async function readUntil(source: { read(): Promise<SourceWorld> }, signal: ChangeSignal, accept: (world: SourceWorld) => boolean, what: string, timeoutMs = 3_000): Promise<SourceWorld> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = signal.count;
    const world = await source.read();
    if (accept(world)) return world;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`${what}: not read within ${timeoutMs} ms; last read ${JSON.stringify({ configMaps: world.configMaps.map((c) => c.data), readErrors: world.readErrors })}`);
    await signal.after(seen, what, left);
  }
}

export function configMapYaml(name: string, version: string): string {
  return `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: ${name}, namespace: models }\ndata: { version: "${version}" }\n`;
}

/** The `data.version` of every ConfigMap read, by name. */
export function versions(world: SourceWorld): Record<string, string | undefined> {
  return Object.fromEntries(world.configMaps.map((configMap) => [configMap.name, configMap.data['version']]));
}

/** An editor's atomic save: the new text goes to a temporary file in the same folder, renamed over the target. */
export async function saveAtomically(file: string, text: string): Promise<void> {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.swp`);
  await writeFile(temporary, text);
  await rename(temporary, file);
}

export async function temporaryFolder(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const parent = await mkdtemp(path.join(tmpdir(), 'infermesh-folder-'));
  // The config folder is a child, so tests can delete and recreate it.
  const dir = path.join(parent, 'config');
  await mkdir(dir);
  const remove = async () => {
    // A test that failed while the folder was unreadable must not leave it behind.
    await chmod(dir, 0o755).catch(() => undefined);
    await rm(parent, { recursive: true, force: true });
  };
  return { dir, remove };
}

export interface WatchedPolicyFolder {
  dir: string;
  remove: () => Promise<void>;
  source: FolderSource;
  signal: ChangeSignal;
}

/**
 * A temporary folder holding policy.yaml at version 1, read once and watched for real with a fast rescan
 * (recovery from an unreadable folder may be seen by either). Close the source and remove the folder after.
 */
export async function openWatchedPolicyFolder(): Promise<WatchedPolicyFolder> {
  const { dir, remove } = await temporaryFolder();
  await writeFile(path.join(dir, 'policy.yaml'), configMapYaml('policy', '1'));
  const signal = new ChangeSignal();
  const source = new FolderSource(dir, { rescanMs: 50, settleMs: 0 });
  source.watch(signal.notify);
  const first = await source.read();
  if (versions(first)['policy'] !== '1') throw new Error(`the new folder did not read as policy version 1: ${JSON.stringify(versions(first))}`);
  return { dir, remove, source, signal };
}

export const reportsProblem = (origin: string) => (world: SourceWorld) => world.readErrors.some((e) => e.origin === origin);
export const clean = (world: SourceWorld) => world.readErrors.length === 0;
