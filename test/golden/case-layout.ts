import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * The on-disk layout of a golden case, as Envoy Gateway keeps its translator testdata: inputs and one
 * expected file per resource type side by side.
 *
 *   cases/NAME/input/          Kubernetes YAML as `--config-dir` reads it (may be a symlink, e.g. to examples/)
 *   cases/NAME/before/         optional: a world rendered first, whose last good state the input then sees
 *   cases/NAME/settings.json   optional: MeshSettings fields that differ from the defaults
 *   cases/NAME/{listeners,routes,clusters,endpoints}.json   the resources, as `render` prints them
 *   cases/NAME/status.json     problems, warnings and every model's state
 *   cases/NAME/encoded.json    a digest of each resource's encoded bytes
 */
export const EXPECTED_FILES = ['listeners.json', 'routes.json', 'scoped-routes.json', 'clusters.json', 'endpoints.json', 'status.json', 'encoded.json'] as const;
export type ExpectedFile = (typeof EXPECTED_FILES)[number];
const INPUT_ENTRIES = new Set(['input', 'before', 'settings.json', 'README.md']);

export interface GoldenCase {
  name: string;
  dir: string;
  input: string;
  before?: string;
  settingsFile?: string;
}

function isDir(file: string): boolean {
  return existsSync(file) && statSync(file).isDirectory();
}

/** Every case folder that has an input (a dangling input symlink counts as gone). */
export function listCases(casesDir: string): GoldenCase[] {
  return readdirSync(casesDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && isDir(path.join(casesDir, entry.name, 'input')))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const dir = path.join(casesDir, name);
      const before = path.join(dir, 'before');
      const settingsFile = path.join(dir, 'settings.json');
      return {
        name,
        dir,
        input: path.join(dir, 'input'),
        ...(isDir(before) ? { before } : {}),
        ...(existsSync(settingsFile) ? { settingsFile } : {}),
      };
    });
}

/**
 * Outputs no input produces any more: a case folder without input/ (its expected files and the folder), a
 * file at the top of cases/, and files in a case folder that are neither an input nor an expected file.
 */
export function orphans(casesDir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(casesDir, { withFileTypes: true })) {
    const full = path.join(casesDir, entry.name);
    if (!entry.isDirectory()) {
      found.push(full);
      continue;
    }
    if (!isDir(path.join(full, 'input'))) {
      found.push(full);
      continue;
    }
    const known = new Set<string>([...INPUT_ENTRIES, ...EXPECTED_FILES]);
    for (const file of readdirSync(full)) if (!known.has(file)) found.push(path.join(full, file));
  }
  return found.sort();
}

/** Deletes what orphans() found; a case folder goes whole, since its input is gone. */
export function deleteOrphans(paths: readonly string[]): void {
  for (const file of paths) rmSync(file, { recursive: true, force: true });
}
