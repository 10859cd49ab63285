/** What a config folder holds right now: its YAML files, its directories, and what could not be listed. */
import type { Dirent, Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

const YAML_FILE = /\.ya?ml$/i;

export interface WatchedDirectory {
  path: string;
  /** A directory deleted and recreated under the same name is another inode, and needs another watch. */
  ino: number;
}

export interface FolderListing {
  root: { ok: true } | { ok: false; message: string };
  /** Absolute paths, sorted. Symbolic links to files count as files (a Kubernetes volume mount is made of them). */
  files: string[];
  /** The root and every subdirectory below it that is not hidden. */
  directories: WatchedDirectory[];
  /** Subdirectories that exist but could not be listed: what their files hold now is unknown. */
  unlisted: { path: string; message: string }[];
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException | undefined)?.code ?? 'error';
}

/** Hidden entries are skipped: editors' temporary files, and the `..data` twin of a mounted ConfigMap's keys. */
async function classify(directory: string, entry: Dirent): Promise<'file' | 'directory' | 'skip'> {
  if (entry.name.startsWith('.')) return 'skip';
  if (entry.isDirectory()) return 'directory';
  if (!YAML_FILE.test(entry.name)) return 'skip';
  if (entry.isFile()) return 'file';
  if (!entry.isSymbolicLink()) return 'skip';
  // A dangling link is listed so that reading it reports the problem; links to directories are not followed.
  const target = await stat(path.join(directory, entry.name)).catch(() => undefined);
  return target?.isDirectory() ? 'skip' : 'file';
}

/** Lists dir and everything below it. Never throws: a root that cannot be listed is reported in `root`. */
export async function listFolder(dir: string): Promise<FolderListing> {
  const listing: FolderListing = { root: { ok: true }, files: [], directories: [], unlisted: [] };
  let rootStats: Stats;
  try {
    rootStats = await stat(dir);
    if (!rootStats.isDirectory()) throw Object.assign(new Error('ENOTDIR: not a directory'), { code: 'ENOTDIR' });
  } catch (error) {
    return { ...listing, root: { ok: false, message: describe(error) } };
  }
  const pending: WatchedDirectory[] = [{ path: dir, ino: rootStats.ino }];
  for (let next = pending.shift(); next; next = pending.shift()) {
    let entries: Dirent[];
    try {
      entries = await readdir(next.path, { withFileTypes: true });
    } catch (error) {
      if (next.path === dir) return { ...listing, root: { ok: false, message: describe(error) } };
      if (errorCode(error) !== 'ENOENT') listing.unlisted.push({ path: next.path, message: describe(error) });
      continue;
    }
    listing.directories.push(next);
    for (const entry of entries) {
      const kind = await classify(next.path, entry);
      const full = path.join(next.path, entry.name);
      if (kind === 'file') listing.files.push(full);
      if (kind === 'directory') {
        const info = await stat(full).catch(() => undefined);
        if (info?.isDirectory()) pending.push({ path: full, ino: info.ino });
      }
    }
  }
  listing.files.sort();
  return listing;
}

/** Changes whenever a file's content or readability may have: ctime moves on chmod, which mtime does not. */
export function fingerprintOf(stats: Stats): string {
  return `${stats.size} ${stats.mtimeMs} ${stats.ctimeMs} ${stats.ino}`;
}

export function unreadableFingerprint(error: unknown): string {
  return `unreadable ${errorCode(error)}`;
}

export async function statFingerprint(file: string): Promise<string> {
  try {
    return fingerprintOf(await stat(file));
  } catch (error) {
    return unreadableFingerprint(error);
  }
}

/** One string that differs whenever a read of the folder could give another result (given each file's fingerprint). */
export function folderFingerprint(listing: FolderListing, fileFingerprints: ReadonlyMap<string, string>): string {
  if (!listing.root.ok) return `root unreadable: ${listing.root.message}`;
  const lines = listing.unlisted.map((dir) => `unlisted ${dir.path}: ${dir.message}`);
  for (const file of listing.files) lines.push(`${file} ${fileFingerprints.get(file) ?? 'unknown'}`);
  return lines.join('\n');
}

/** The fingerprint a read of the folder now would record: one stat per YAML file, no reads. */
export async function scanFingerprint(listing: FolderListing): Promise<string> {
  const fingerprints = new Map<string, string>();
  for (const file of listing.files) fingerprints.set(file, await statFingerprint(file));
  return folderFingerprint(listing, fingerprints);
}
