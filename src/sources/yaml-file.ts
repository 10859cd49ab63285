/** One YAML file -> the Kubernetes objects it holds, each file and each document inside its own boundary. */
import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { isMap, isPair, isSeq, parseAllDocuments, type Document } from 'yaml';
import { readSimpleDocuments } from '../util/yaml-simple.ts';
import { fingerprintOf, unreadableFingerprint } from './folder-listing.ts';
import { convertObject, isKubeList } from './kube-objects.ts';
import type { ConfigMapObject, EndpointSliceObject, SourceReadError } from './types.ts';

/** A ConfigMap is at most 1 MiB, but one folder file may hold many objects. */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;
/** Alias expansions per anchor (yaml counts the anchor itself), as for policy documents (src/policy/yaml.ts). */
export const MAX_ALIAS_COUNT = 100;
/** Kubernetes objects nest a dozen levels; anything far deeper is an attack on recursive code downstream. */
export const MAX_NESTING_DEPTH = 100;

export interface FileObjects {
  configMaps: ConfigMapObject[];
  endpointSlices: EndpointSliceObject[];
}

export interface FileRead {
  objects: FileObjects;
  errors: SourceReadError[];
  /** Zero bytes or whitespace only. */
  blank: boolean;
  /** Of the file as it was just before the read (see folder-listing.ts). */
  fingerprint: string;
  /** False when the file was still being written: modified within the settle window, or changed while read. */
  settled: boolean;
}

/**
 * The creation time of an object that has no creationTimestamp: none. A time this process made up (when it
 * first saw the object) would differ between replicas, and across a restart, and so would which of two
 * such policies owns a contested model name; without one, policies of unknown age come after every dated
 * one and among themselves by namespace and name (src/policy/conflicts.ts), the same everywhere.
 */
export const NO_CREATION_TIME = (): string => '';

export interface ReadYamlFileOptions {
  /** Creation time for objects without one (the folder sources give none: NO_CREATION_TIME). */
  seenAt: (key: string) => string;
  /** This file's last read: returned as it is when the file's fingerprint has not changed since. */
  previous?: FileRead;
  /** A file modified less than this long before the read is not settled; 0 trusts every read. */
  settleMs?: number;
  now?: () => number;
}

const emptyObjects = (): FileObjects => ({ configMaps: [], endpointSlices: [] });

export function objectCount(objects: FileObjects): number {
  return objects.configMaps.length + objects.endpointSlices.length;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** yaml's messages end with a few lines of source context; the first line already says where. */
function firstLine(message: string): string {
  return (message.split('\n')[0] ?? '').replace(/:$/, '');
}

function exceedsDepth(root: unknown, limit: number): boolean {
  const pending: { node: unknown; depth: number }[] = [{ node: root, depth: 1 }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    if (next.depth > limit) return true;
    if (!isMap(next.node) && !isSeq(next.node)) continue;
    for (const item of next.node.items) {
      if (isPair(item)) pending.push({ node: item.key, depth: next.depth + 1 }, { node: item.value, depth: next.depth + 1 });
      else pending.push({ node: item, depth: next.depth + 1 });
    }
  }
  return false;
}

function documentValue(doc: Document.Parsed): unknown {
  if (doc.errors.length > 0) {
    const shown = doc.errors.slice(0, 3).map((e) => firstLine(e.message));
    const more = doc.errors.length > shown.length ? `; and ${doc.errors.length - shown.length} more` : '';
    throw new Error(`YAML syntax error: ${shown.join('; ')}${more}`);
  }
  if (exceedsDepth(doc.contents, MAX_NESTING_DEPTH)) throw new Error(`nested deeper than ${MAX_NESTING_DEPTH} levels`);
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    if (error instanceof ReferenceError && /alias/i.test(error.message)) {
      throw new Error(`YAML aliases exceed the limit of ${MAX_ALIAS_COUNT} expansions (a guard against expansion attacks)`);
    }
    throw new Error(`YAML error: ${describe(error)}`);
  }
}

function objectKey(object: unknown): string {
  const record = (typeof object === 'object' && object !== null ? object : {}) as { kind?: unknown; metadata?: { namespace?: unknown; name?: unknown } };
  return `${String(record.kind)}/${String(record.metadata?.namespace ?? 'default')}/${String(record.metadata?.name)}`;
}

/**
 * Every document of text, ConfigMaps and EndpointSlices kept, other kinds ignored, `*List` kinds expanded.
 * A bad document (or object) is reported with origin `file#index` and never stops the documents after it.
 */
export function parseYamlObjects(text: string, file: string, seenAt: (key: string) => string): { objects: FileObjects; errors: SourceReadError[] } {
  const objects = emptyObjects();
  const errors: SourceReadError[] = [];
  // Plain manifests are read fast (src/util/yaml-simple.ts, the same values); anything else by the full parser.
  const simple = readSimpleDocuments(text);
  let documents: (() => unknown)[];
  if (simple) {
    documents = simple.map((value) => () => value);
  } else {
    try {
      documents = (parseAllDocuments(text, { uniqueKeys: true }) as Document.Parsed[]).map((doc) => () => documentValue(doc));
    } catch (error) {
      return { objects, errors: [{ origin: file, message: `cannot parse YAML: ${describe(error)}` }] };
    }
  }
  documents.forEach((value, index) => {
    const origin = `${file}#${index}`;
    try {
      const raw = value();
      if (raw === null || raw === undefined) return;
      for (const object of isKubeList(raw) ? raw.items : [raw]) {
        const converted = convertObject(object, origin, seenAt(objectKey(object)));
        if (converted.kind === 'ConfigMap') objects.configMaps.push(converted.object);
        else if (converted.kind === 'EndpointSlice') objects.endpointSlices.push(converted.object);
        else if (converted.kind === 'error') errors.push({ origin, message: converted.message });
      }
    } catch (error) {
      errors.push({ origin, message: describe(error) });
    }
  });
  return { objects, errors };
}

/** Reads at most limit + 1 bytes, so a file growing while read is noticed without reading all of it. */
async function readBounded(file: string, size: number): Promise<{ text: string; grew: boolean; fingerprints: string[] }> {
  // O_NONBLOCK: a FIFO named *.yaml must not hang the read.
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const before = fingerprintOf(await handle.stat());
    const buffer = Buffer.alloc(Math.min(size, MAX_FILE_BYTES) + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buffer.length) break;
    }
    const after = fingerprintOf(await handle.stat());
    return { text: buffer.toString('utf8', 0, Math.min(length, size)), grew: length > size, fingerprints: [before, after] };
  } finally {
    await handle.close();
  }
}

/** Reads one file. Never throws: whatever goes wrong is an error with the file (or file#document) as origin. */
export async function readYamlFile(file: string, origin: string, options: ReadYamlFileOptions): Promise<FileRead> {
  const failed = (message: string, fingerprint: string): FileRead => ({ objects: emptyObjects(), errors: [{ origin, message }], blank: false, fingerprint, settled: true });
  let stats;
  try {
    stats = await stat(file);
  } catch (error) {
    return failed(`cannot read: ${describe(error)}`, unreadableFingerprint(error));
  }
  const fingerprint = fingerprintOf(stats);
  if (!stats.isFile()) return failed('cannot read: not a regular file', fingerprint);
  if (stats.size > MAX_FILE_BYTES) return failed(`file is ${stats.size} bytes, more than the ${MAX_FILE_BYTES}-byte limit; split it`, fingerprint);
  // Size, times and inode as when last read cleanly: the same file, not read and parsed again.
  if (options.previous?.settled && options.previous.fingerprint === fingerprint) return options.previous;
  let read;
  try {
    read = await readBounded(file, stats.size);
  } catch (error) {
    return failed(`cannot read: ${describe(error)}`, fingerprint);
  }
  const settleMs = options.settleMs ?? 0;
  const age = (options.now ?? Date.now)() - stats.mtimeMs;
  const unchangedWhileRead = !read.grew && read.fingerprints.every((seen) => seen === fingerprint);
  const settled = unchangedWhileRead && (settleMs <= 0 || age >= settleMs || age <= -settleMs);
  const { objects, errors } = parseYamlObjects(read.text, origin, options.seenAt);
  return { objects, errors, blank: read.text.trim() === '', fingerprint, settled };
}
