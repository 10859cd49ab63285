/**
 * Notices changes below a config folder: one non-recursive watch per directory (Node's recursive watch on
 * Linux loses track of files replaced by a rename), re-synced with every listing, and a periodic rescan
 * that compares stat fingerprints, as a safety net for whatever the watches miss.
 */
import { watch } from 'node:fs';
import path from 'node:path';
import { listFolder, scanFingerprint, type WatchedDirectory } from './folder-listing.ts';

export interface DirectoryWatcher {
  on(event: 'error', listener: (error: Error) => void): unknown;
  close(): void;
}

/** Watches one directory, not recursively; `filename` is the entry that changed. */
export type WatchDirectory = (dir: string, onEvent: (eventType: string, filename: string | null) => void) => DirectoryWatcher;

const watchWithNode: WatchDirectory = (dir, onEvent) =>
  watch(dir, { persistent: false }, (eventType, filename) => onEvent(eventType, filename === null ? null : String(filename)));

export interface FolderWatchOptions {
  dir: string;
  onChange: () => void;
  /** The folder's fingerprint (folder-listing.ts) as last read; undefined before the first read. */
  lastRead: () => string | undefined;
  /** Rescan interval in ms; 0 rescans only when rescan() is called. */
  rescanMs: number;
  watchDirectory?: WatchDirectory;
  now?: () => number;
}

export class FolderWatch {
  readonly #options: FolderWatchOptions;
  readonly #watches = new Map<string, { ino: number; watcher: DirectoryWatcher }>();
  readonly #problems = new Map<string, string>();
  /** Directories whose watch failed, and when: not re-watched at once, so a failing watch cannot loop. */
  readonly #lostAt = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #scanning: Promise<void> | undefined;
  #closed = false;

  constructor(options: FolderWatchOptions) {
    this.#options = options;
  }

  start(): void {
    void this.rescan();
    if (this.#options.rescanMs > 0) this.#timer = setInterval(() => void this.rescan(), this.#options.rescanMs).unref();
  }

  /** Watches exactly these directories: new ones added, vanished or replaced ones (another inode) dropped. */
  sync(directories: readonly WatchedDirectory[]): void {
    if (this.#closed) return;
    const wanted = new Map(directories.map((directory) => [directory.path, directory.ino]));
    for (const [dir, entry] of this.#watches) {
      if (wanted.get(dir) !== entry.ino) this.#drop(dir, entry.watcher);
    }
    for (const dir of this.#problems.keys()) if (!wanted.has(dir)) this.#problems.delete(dir);
    for (const [dir, ino] of wanted) {
      if (!this.#watches.has(dir) && !this.#recentlyLost(dir)) this.#add(dir, ino);
    }
  }

  /** Directories that are not watched, and why. */
  problems(): { path: string; message: string }[] {
    return [...this.#problems].map(([dir, message]) => ({ path: dir, message }));
  }

  /** Lists the folder, re-syncs the watches, and calls onChange if a read now could differ from the last one. */
  rescan(): Promise<void> {
    this.#scanning ??= this.#scan().finally(() => {
      this.#scanning = undefined;
    });
    return this.#scanning;
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const [dir, entry] of this.#watches) this.#drop(dir, entry.watcher);
    this.#problems.clear();
  }

  async #scan(): Promise<void> {
    try {
      const listing = await listFolder(this.#options.dir);
      if (this.#closed) return;
      if (listing.root.ok) this.sync(listing.directories);
      const last = this.#options.lastRead();
      if (last === undefined) return;
      if ((await scanFingerprint(listing)) !== last && !this.#closed) this.#options.onChange();
    } catch (error) {
      // listFolder and scanFingerprint report rather than throw; this only keeps a timer callback from crashing.
      this.#problems.set(this.#options.dir, `rescan failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  #add(dir: string, ino: number): void {
    const watchDirectory = this.#options.watchDirectory ?? watchWithNode;
    try {
      const watcher = watchDirectory(dir, (eventType, filename) => this.#event(dir, eventType, filename));
      watcher.on('error', (error) => this.#lost(dir, watcher, error));
      this.#watches.set(dir, { ino, watcher });
      this.#problems.delete(dir);
    } catch (error) {
      this.#problems.set(dir, `cannot watch: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  #event(dir: string, eventType: string, filename: string | null): void {
    // The watched directory itself deleted or moved (inotify names it by its own basename): that watch is
    // dead even if a new directory reuses the inode number, so drop it and let the next listing watch anew.
    const entry = this.#watches.get(dir);
    if (eventType === 'rename' && filename === path.basename(dir) && entry) this.#drop(dir, entry.watcher);
    this.#options.onChange();
  }

  #lost(dir: string, watcher: DirectoryWatcher, error: Error): void {
    if (this.#watches.get(dir)?.watcher === watcher) this.#drop(dir, watcher);
    else watcher.close();
    this.#problems.set(dir, `watch failed: ${error.message}`);
    this.#lostAt.set(dir, this.#now());
    if (!this.#closed) this.#options.onChange();
  }

  #drop(dir: string, watcher: DirectoryWatcher): void {
    this.#watches.delete(dir);
    try {
      watcher.close();
    } catch {
      // Closing a watcher whose directory is gone may fail; it is gone either way.
    }
  }

  #recentlyLost(dir: string): boolean {
    const at = this.#lostAt.get(dir);
    if (at === undefined) return false;
    const retryMs = this.#options.rescanMs > 0 ? this.#options.rescanMs : 1_000;
    if (this.#now() - at < retryMs) return true;
    this.#lostAt.delete(dir);
    return false;
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }
}
