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
import { REPO, TOOLS_CACHE, type Lookup } from '../../scripts/envoy-lookup.ts';

// The Envoy lookup lives in scripts/ so `npm run demo` and `npm run bench` find Envoy the same way.
export { REPO, TOOLS_CACHE, compareVersions, envoyBinaries, newestEnvoy, type EnvoyBinary, type Lookup } from '../../scripts/envoy-lookup.ts';
export const SKIP_MISSING_TOOLS = 'INFERMESH_SKIP_MISSING_TOOLS';

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

// ---------------------------------------------------------------------------------------------------------
// Proxyless gRPC clients besides @grpc/grpc-js-xds (test/interop): Debian's grpcio, PyPI's grpcio, grpc-go.

const GRPC_CLIENTS_HINT = 'install it with `bash scripts/grpc-clients.sh` (grpcio from PyPI into .cache/grpcio-venv; grpc-go client built with Go into .cache/grpc-go-client)';

/** A Python interpreter that imports grpc, and the grpcio version it imports. */
export interface PythonGrpc {
  python: string;
  version: string;
}

function grpcioVersionOf(python: string): string | undefined {
  try {
    return execFileSync(python, ['-c', 'import grpc; print(grpc.__version__)'], { encoding: 'utf8', timeout: 20_000 }).trim();
  } catch {
    return undefined;
  }
}

/** "NAME VERSION" lines of scripts/grpc-clients.sh --list, as a map. */
function pinnedGrpcClients(): Map<string, string> {
  const text = execFileSync('bash', [path.join(REPO, 'scripts', 'grpc-clients.sh'), '--list'], { encoding: 'utf8' });
  return new Map(text.trim().split('\n').map((line) => line.split(' ') as [string, string]));
}

/** Debian's python3 with python3-grpcio (gRPC C-core 1.51 on Debian 12): the oldest gRPC xDS client we support. */
export function debianGrpcio(): Lookup<PythonGrpc> {
  const hint = 'install Debian\'s gRPC C-core with `apt-get install python3-grpcio`';
  const lookup = executable('INFERMESH_DEBIAN_PYTHON', '/usr/bin/python3', hint);
  if (!lookup.found) return lookup;
  const version = grpcioVersionOf(lookup.value);
  if (version === undefined) return { found: false, problem: `${lookup.value} cannot import grpc: ${hint}` };
  return { found: true, value: { python: lookup.value, version } };
}

/** The current grpcio from PyPI (current gRPC C-core), at the version scripts/grpc-clients.sh pins. */
export function pypiGrpcio(): Lookup<PythonGrpc> {
  const pinned = pinnedGrpcClients().get('grpcio') ?? '?';
  const lookup = executable('INFERMESH_GRPCIO_PYTHON', path.join(TOOLS_CACHE, 'grpcio-venv', 'bin', 'python'), `grpcio ${pinned}: ${GRPC_CLIENTS_HINT}`);
  if (!lookup.found) return lookup;
  const version = grpcioVersionOf(lookup.value);
  if (version === undefined || (version !== pinned && process.env['INFERMESH_GRPCIO_PYTHON'] === undefined)) {
    return { found: false, problem: `${lookup.value} has grpcio ${version ?? 'none'}, not ${pinned}: ${GRPC_CLIENTS_HINT}` };
  }
  return { found: true, value: { python: lookup.value, version } };
}

/** The grpc-go xDS client built from test/interop/go, with the google.golang.org/grpc version go.mod pins. */
export function grpcGoClient(): Lookup<{ path: string; version: string }> {
  const pinned = pinnedGrpcClients().get('grpc-go') ?? '?';
  const lookup = executable('INFERMESH_GRPC_GO_CLIENT', path.join(TOOLS_CACHE, 'grpc-go-client', 'grpc-go-client'), `grpc-go ${pinned}: ${GRPC_CLIENTS_HINT}`);
  if (!lookup.found) return lookup;
  let version: string | undefined;
  try {
    version = execFileSync(lookup.value, ['--version'], { encoding: 'utf8', timeout: 10_000 }).trim().split(' ')[1];
  } catch {
    version = undefined;
  }
  if (version !== pinned) return { found: false, problem: `${lookup.value} is grpc-go ${version ?? '(does not run)'}, not ${pinned}: ${GRPC_CLIENTS_HINT}` };
  return { found: true, value: { path: lookup.value, version } };
}

/** openssl, for the throwaway certificates of the mTLS tests (test/support/test-certs.ts). */
export function opensslBinary(): Lookup<string> {
  return executable('OPENSSL', '/usr/bin/openssl', 'install it with `apt-get install openssl` (scripts/tools.sh does as root)');
}

/** Prometheus from Debian's `prometheus` package (it brings promtool too), for the monitoring tests. */
export function prometheusBinary(): Lookup<string> {
  return executable('PROMETHEUS', '/usr/bin/prometheus', 'install it with `apt-get install prometheus` (Debian\'s package, with promtool; scripts/tools.sh does as root)');
}

/** promtool, from the same Debian package: checks and unit-tests manifests/monitoring's rules. */
export function promtoolBinary(): Lookup<string> {
  return executable('PROMTOOL', '/usr/bin/promtool', 'install it with `apt-get install prometheus` (Debian\'s package brings promtool; scripts/tools.sh does as root)');
}

/** LuaJIT from Debian's `luajit` package: runs the body-routing filter's JSON scanner (Envoy's Lua is LuaJIT 2.1). */
export function luajitBinary(): Lookup<string> {
  return executable('LUAJIT', '/usr/bin/luajit', 'install it with `apt-get install luajit` (scripts/tools.sh does as root)');
}
