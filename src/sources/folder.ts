import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { convertObject, isKubeList } from './kube-objects.ts';
import type { SourceWorld } from './types.ts';

const YAML_FILE = /\.ya?ml$/i;

export async function yamlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && YAML_FILE.test(entry.name) && !entry.name.startsWith('.'))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

/**
 * Reads "a cluster in a folder": every YAML file below dir, multi-document, ConfigMaps and EndpointSlices
 * (other kinds are ignored, `*List` kinds are expanded). Objects without a creationTimestamp get the time
 * the folder source first saw them, so an edit never changes who is older.
 */
export async function readFolder(dir: string, firstSeen: Map<string, string> = new Map(), now: () => Date = () => new Date()): Promise<SourceWorld> {
  return readYamlFiles(await yamlFiles(dir), dir, firstSeen, now);
}

/** Reads the given YAML files; origins in errors are relative to baseDir. */
export async function readYamlFiles(files: readonly string[], baseDir: string, firstSeen: Map<string, string> = new Map(), now: () => Date = () => new Date()): Promise<SourceWorld> {
  const world: SourceWorld = { configMaps: [], endpointSlices: [], readErrors: [] };
  const seenAt = (key: string) => {
    const existing = firstSeen.get(key);
    if (existing) return existing;
    const stamp = now().toISOString();
    firstSeen.set(key, stamp);
    return stamp;
  };
  for (const file of files) {
    const relative = path.relative(baseDir, file) || path.basename(file);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      // A file renamed away between listing and reading (an editor's atomic save): the next read sees the new one.
      world.readErrors.push({ origin: relative, message: `cannot read: ${(error as Error).message}` });
      continue;
    }
    parseAllDocuments(text).forEach((doc, index) => {
      const origin = `${relative}#${index}`;
      if (doc.errors.length > 0) {
        world.readErrors.push({ origin, message: doc.errors.map((e) => e.message).join('; ') });
        return;
      }
      const raw: unknown = doc.toJS();
      if (raw === null || raw === undefined) return;
      const objects = isKubeList(raw) ? raw.items : [raw];
      for (const object of objects) {
        const meta = (object as { metadata?: { namespace?: string; name?: string } } | null)?.metadata;
        const key = `${String((object as { kind?: string } | null)?.kind)}/${meta?.namespace ?? 'default'}/${meta?.name}`;
        const converted = convertObject(object, origin, seenAt(key));
        if (converted.kind === 'ConfigMap') world.configMaps.push(converted.object);
        else if (converted.kind === 'EndpointSlice') world.endpointSlices.push(converted.object);
        else if (converted.kind === 'error') world.readErrors.push({ origin, message: converted.message });
      }
    });
  }
  return world;
}

/** A folder source: reads once, then re-reads on every change below the folder (renames included). */
export class FolderSource {
  readonly dir: string;
  readonly #firstSeen = new Map<string, string>();
  #watcher: FSWatcher | undefined;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  read(): Promise<SourceWorld> {
    return readFolder(this.dir, this.#firstSeen);
  }

  /** Calls onChange (without arguments) for every change; the controller debounces and re-reads. */
  watch(onChange: () => void): void {
    this.#watcher = watch(this.dir, { recursive: true }, () => onChange());
  }

  close(): void {
    this.#watcher?.close();
  }
}
