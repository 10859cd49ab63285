import path from 'node:path';
import { listFolder } from './folder-listing.ts';
import type { SourceWorld } from './types.ts';
import { NO_CREATION_TIME, readYamlFile } from './yaml-file.ts';

export { FolderSource, type FolderSourceOptions } from './folder-source.ts';
export { MAX_ALIAS_COUNT, MAX_FILE_BYTES, MAX_NESTING_DEPTH } from './yaml-file.ts';

/** Every YAML file below dir, sorted. Throws, naming the folder, when dir or a folder below it cannot be listed. */
export async function yamlFiles(dir: string): Promise<string[]> {
  const listing = await listFolder(dir);
  if (!listing.root.ok) throw new Error(`cannot read the folder ${dir}: ${listing.root.message}`);
  const unlisted = listing.unlisted[0];
  if (unlisted) throw new Error(`cannot list the folder ${unlisted.path}: ${unlisted.message}`);
  return listing.files;
}

/**
 * Reads "a cluster in a folder": every YAML file below dir, multi-document, ConfigMaps and EndpointSlices
 * (other kinds are ignored, `*List` kinds are expanded). Stateless: a bad file is reported and the rest is
 * read; only a folder that cannot be listed at all throws.
 */
export async function readFolder(dir: string): Promise<SourceWorld> {
  const listing = await listFolder(dir);
  if (!listing.root.ok) throw new Error(`cannot read the config folder ${dir}: ${listing.root.message}`);
  const world = await readYamlFiles(listing.files, dir);
  const unlisted = listing.unlisted.map((entry) => ({ origin: `${path.relative(dir, entry.path)}/`, message: `cannot list: ${entry.message}` }));
  return { ...world, readErrors: [...unlisted, ...world.readErrors] };
}

/**
 * Reads the given YAML files; origins in errors are relative to baseDir. Never throws: every file and every
 * document is read inside its own boundary, so one bad file or document hides nothing else (the objects of
 * a file's good documents are kept).
 */
export async function readYamlFiles(files: readonly string[], baseDir: string): Promise<SourceWorld> {
  const world: SourceWorld = { configMaps: [], endpointSlices: [], readErrors: [] };
  for (const file of files) {
    const relative = path.relative(baseDir, file) || path.basename(file);
    const read = await readYamlFile(file, relative, { seenAt: NO_CREATION_TIME });
    for (const configMap of read.objects.configMaps) world.configMaps.push(configMap);
    for (const slice of read.objects.endpointSlices) world.endpointSlices.push(slice);
    for (const error of read.errors) world.readErrors.push(error);
  }
  return world;
}
