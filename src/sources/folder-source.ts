/**
 * The source behind `serve --config-dir`. The unit of trust is the file: a file that cannot be read, has any
 * bad document or object, is still being written, or turned blank keeps serving the objects it held when it
 * last read cleanly, and says so in readErrors. Deleting a file removes its objects.
 */
import path from 'node:path';
import { folderFingerprint, listFolder, type FolderListing } from './folder-listing.ts';
import { FolderWatch, type WatchDirectory } from './folder-watch.ts';
import type { SourceReadError, SourceWorld } from './types.ts';
import { NO_CREATION_TIME, objectCount, readYamlFile, type FileObjects, type FileRead } from './yaml-file.ts';

/** How many files are being read at once; the thread pool has four threads, and reads are small. */
const READ_AHEAD = 16;

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

function describeObjects(objects: FileObjects): string {
  const count = objectCount(objects);
  return count === 1 ? '1 object' : `${count} objects`;
}

export class FolderSource {
  readonly dir: string;
  readonly #rescanMs: number;
  readonly #settleMs: number;
  readonly #now: () => number;
  readonly #watchDirectory: WatchDirectory | undefined;
  /** Each listed file's last read, so a read after a change parses only the files that changed. */
  #lastReads = new Map<string, FileRead>();
  /** By file (relative path): the objects it held when it last read cleanly. */
  readonly #lastGood = new Map<string, FileObjects>();
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
    // Files are read READ_AHEAD at a time: one after another, 20,000 files spend seconds waiting on the thread pool.
    const previous = this.#lastReads;
    const reads = new Map<string, FileRead>();
    const reading = (file: string) => {
      const last = previous.get(file);
      const options = { seenAt: NO_CREATION_TIME, settleMs: this.#settleMs, now: this.#now };
      return readYamlFile(file, path.relative(this.dir, file), last ? { ...options, previous: last } : options);
    };
    const ahead: (Promise<FileRead> | undefined)[] = listing.files.slice(0, READ_AHEAD).map(reading);
    for (const [index, file] of listing.files.entries()) {
      const relative = path.relative(this.dir, file);
      const next = listing.files[index + READ_AHEAD];
      if (next !== undefined) ahead.push(reading(next));
      const read = await (ahead[index] ?? reading(file));
      ahead[index] = undefined;
      reads.set(file, read);
      const kept = this.#keep(relative, read);
      served.set(relative, kept.objects);
      for (const error of kept.errors) readErrors.push(error);
      // An unsettled file never matches a rescan's fingerprint, so even a lost re-read timer is made up for.
      fingerprints.set(file, read.settled ? read.fingerprint : 'unsettled');
      unsettled ||= !read.settled;
    }
    for (const file of this.#lastGood.keys()) if (!served.has(file)) this.#lastGood.delete(file);
    this.#lastReads = reads;
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

  /** What to serve for one file, recording its objects as last good when it read cleanly. */
  #keep(file: string, read: FileRead): { objects: FileObjects; errors: SourceReadError[] } {
    const lastGood = this.#lastGood.get(file);
    // Still being written: its errors may be the writer's, not the author's, so none are reported yet.
    if (!read.settled) return { objects: lastGood ?? read.objects, errors: [] };
    if (read.errors.length > 0) {
      if (!lastGood) return { objects: read.objects, errors: read.errors };
      const kept = { origin: file, message: `keeps serving the ${describeObjects(lastGood)} it held when it last read cleanly, until it is fixed` };
      return { objects: lastGood, errors: [...read.errors, kept] };
    }
    if (read.blank && lastGood && objectCount(lastGood) > 0) {
      const message = `is empty, as a half-written file would be, so it keeps serving the ${describeObjects(lastGood)} it held; delete the file to remove them`;
      return { objects: lastGood, errors: [{ origin: file, message }] };
    }
    this.#lastGood.set(file, read.objects);
    return { objects: read.objects, errors: [] };
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

  #directoryOrigin(directory: string): string {
    return directory === this.dir ? this.dir : `${path.relative(this.dir, directory)}/`;
  }
}
