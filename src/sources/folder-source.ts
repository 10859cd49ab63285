/** The source behind `serve --config-dir`: reads the folder, and watches it (folder-watch.ts). */
import path from 'node:path';
import { folderFingerprint, listFolder, type FolderListing } from './folder-listing.ts';
import { FolderWatch, type WatchDirectory } from './folder-watch.ts';
import type { SourceReadError, SourceWorld } from './types.ts';
import { readYamlFile, type FileObjects, type FileRead } from './yaml-file.ts';

export const DEFAULT_RESCAN_MS = 3_000;
export const DEFAULT_SETTLE_MS = 100;

export interface FolderSourceOptions {
  /** How often to stat every YAML file in case a watch missed a change; 0 turns the rescan off. */
  rescanMs?: number;
  /** A file modified less than this long before it is read is re-read after this long before it is trusted. */
  settleMs?: number;
  /** Clock (ms since epoch) for the settle window and first-seen creation times. */
  now?: () => number;
  /** How one directory is watched (tests inject failures). */
  watchDirectory?: WatchDirectory;
}

export class FolderSource {
  readonly dir: string;
  readonly #rescanMs: number;
  readonly #settleMs: number;
  readonly #now: () => number;
  readonly #watchDirectory: WatchDirectory | undefined;
  readonly #firstSeen = new Map<string, string>();
  /** By file: what the last read served, kept whole while the folder (or a directory in it) cannot be listed. */
  #served = new Map<string, FileObjects>();
  #listedOnce = false;
  #fingerprint: string | undefined;
  #watch: FolderWatch | undefined;
  #onChange: (() => void) | undefined;
  #settleTimer: NodeJS.Timeout | undefined;

  constructor(dir: string, options: FolderSourceOptions = {}) {
    this.dir = path.resolve(dir);
    this.#rescanMs = options.rescanMs ?? DEFAULT_RESCAN_MS;
    this.#settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
    this.#now = options.now ?? Date.now;
    this.#watchDirectory = options.watchDirectory;
  }

  /**
   * The folder now, each file at its last good version where it cannot be trusted. Rejects only when the
   * folder has never been listed (there is nothing good to serve, and nothing should be served).
   */
  async read(): Promise<SourceWorld> {
    const listing = await listFolder(this.dir);
    if (!listing.root.ok) return this.#folderUnreadable(listing, listing.root.message);
    this.#watch?.sync(listing.directories);
    this.#listedOnce = true;
    const readErrors: SourceReadError[] = [];
    const served = new Map<string, FileObjects>();
    for (const unlisted of listing.unlisted) {
      readErrors.push({ origin: this.#directoryOrigin(unlisted.path), message: `cannot list: ${unlisted.message}; its files keep serving what was last read from them` });
      const below = `${path.relative(this.dir, unlisted.path)}${path.sep}`;
      for (const [file, objects] of this.#served) if (file.startsWith(below)) served.set(file, objects);
    }
    const fingerprints = new Map<string, string>();
    let unsettled = false;
    for (const file of listing.files) {
      const relative = path.relative(this.dir, file);
      const read = await readYamlFile(file, relative, { seenAt: (key) => this.#seenAt(key), settleMs: this.#settleMs, now: this.#now });
      const kept = this.#keep(relative, read);
      served.set(relative, kept.objects);
      for (const error of kept.errors) readErrors.push(error);
      // An unsettled file never matches a rescan's fingerprint, so even a lost re-read timer is made up for.
      fingerprints.set(file, read.settled ? read.fingerprint : 'unsettled');
      unsettled ||= !read.settled;
    }
    for (const problem of this.#watch?.problems() ?? []) {
      const noticed = this.#rescanMs > 0 ? `changes there are noticed only by the rescan every ${this.#rescanMs} ms` : 'changes there go unnoticed';
      readErrors.push({ origin: this.#directoryOrigin(problem.path), message: `${problem.message}; ${noticed}` });
    }
    this.#fingerprint = folderFingerprint(listing, fingerprints);
    this.#served = served;
    if (unsettled) this.#rereadAfterSettling();
    return this.#world(readErrors);
  }

  /** Calls onChange (without arguments) whenever a read could give another world; the caller debounces and reads. */
  watch(onChange: () => void): void {
    this.#watch?.close();
    this.#onChange = onChange;
    this.#watch = new FolderWatch({
      dir: this.dir,
      onChange,
      lastRead: () => this.#fingerprint,
      rescanMs: this.#rescanMs,
      now: this.#now,
      ...(this.#watchDirectory ? { watchDirectory: this.#watchDirectory } : {}),
    });
    this.#watch.start();
  }

  /** One rescan now (the periodic one runs every rescanMs): re-syncs the watches, calls onChange if anything changed. */
  async rescan(): Promise<void> {
    await this.#watch?.rescan();
  }

  close(): void {
    clearTimeout(this.#settleTimer);
    this.#settleTimer = undefined;
    this.#watch?.close();
    this.#watch = undefined;
    this.#onChange = undefined;
  }

  /** What to serve for one file. */
  #keep(_file: string, read: FileRead): { objects: FileObjects; errors: SourceReadError[] } {
    return { objects: read.objects, errors: read.errors };
  }

  #folderUnreadable(listing: FolderListing, reason: string): SourceWorld {
    this.#fingerprint = folderFingerprint(listing, new Map());
    if (!this.#listedOnce) throw new Error(`cannot read the config folder ${this.dir}: ${reason}`);
    return this.#world([{ origin: this.dir, message: `cannot read the config folder (${reason}); serving what was last read from it until it can be read again` }]);
  }

  #world(readErrors: SourceReadError[]): SourceWorld {
    const world: SourceWorld = { configMaps: [], endpointSlices: [], readErrors };
    for (const file of [...this.#served.keys()].sort()) {
      const objects = this.#served.get(file);
      for (const configMap of objects?.configMaps ?? []) world.configMaps.push(configMap);
      for (const slice of objects?.endpointSlices ?? []) world.endpointSlices.push(slice);
    }
    return world;
  }

  #rereadAfterSettling(): void {
    if (!this.#onChange || this.#settleTimer) return;
    this.#settleTimer = setTimeout(() => {
      this.#settleTimer = undefined;
      this.#onChange?.();
    }, this.#settleMs).unref();
  }

  #seenAt(key: string): string {
    const existing = this.#firstSeen.get(key);
    if (existing) return existing;
    const stamp = new Date(this.#now()).toISOString();
    this.#firstSeen.set(key, stamp);
    return stamp;
  }

  #directoryOrigin(directory: string): string {
    return directory === this.dir ? this.dir : `${path.relative(this.dir, directory)}/`;
  }
}
