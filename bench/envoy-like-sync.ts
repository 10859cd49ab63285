/**
 * The Envoy-like initial sync of `npm run bench` (issue 13): N state-of-the-world ADS clients, each on its own
 * HTTP/2 connection, against `infermesh serve` as an operator runs it (its own process, a --config-dir
 * folder of M models), and the same clients against the floor (bench/floor-server.ts: pre-encoded answers,
 * no logic; in its own process too) on the same resources. The clients are grpc-go (bench/envoy-like/main.go), reading at native
 * speed; the floor run shows what they and HTTP/2 cost on their own.
 *
 * What each client subscribes to, as a SotW Envoy with the project's bootstrap and listeners would: LDS
 * and CDS wildcard; SRDS wildcard, because the sidecar listener (the only one a wildcard LDS returns: the
 * proxyless API listener is hidden from wildcard) routes through scoped RDS; RDS for every table a listener
 * names through `rds` (none of the sidecar's), every scope that is not on demand (none: scopes load on a
 * request) and the tables of the 3 models the proxy calls, which on-demand scoped RDS asks for on the first
 * requests; EDS naming every cluster CDS gave (2,001 at 1,000 models). Node in every request (Envoy's
 * default; the bootstrap does not set set_node_on_first_message_only). Every response ACKed with its
 * version, nonce and the whole name list again, as Envoy does. All clients connect at once (a rollout of
 * the control plane, or a cold start of the mesh).
 *
 * Run alone: node_modules/.bin/node bench/envoy-like-sync.ts [clients] [models]
 *   BENCH_ENVOY_LIKE_PROFILE=DIR writes a CPU profile of the serve process (node --cpu-prof) into DIR.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { Controller } from '../src/controller/controller.ts';
import { loadEnvoyProtos } from '../src/envoy/protos.ts';
import { kindOfTypeUrl, wildcardCapable } from '../src/envoy/type-urls.ts';
import { silentLogger } from '../src/logging/logger.ts';
import { createMetrics } from '../src/metrics/metrics.ts';
import { DEFAULT_SETTINGS } from '../src/model/types.ts';
import { ResourceCodec } from '../src/snapshot/codec.ts';
import { versionOf, type Snapshot } from '../src/snapshot/snapshot.ts';
import { FolderSource } from '../src/sources/folder-source.ts';
import { encodeDiscoveryResponse } from '../src/xds/messages.ts';
import { SnapshotStore } from '../src/xds/snapshot-store.ts';
import { FloorServer } from './floor-server.ts';
import { writeModelFolder } from './serve-process.ts';

const REPO = path.join(import.meta.dirname, '..');
const GO_SOURCES = path.join(import.meta.dirname, 'envoy-like');
const BINARY = path.join(REPO, '.cache', 'bench-envoy-like', 'envoy-like');
const TIMEOUT_S = Number(process.env['BENCH_SYNC_TIMEOUT_MS'] ?? 300_000) / 1000;

/** What bench/envoy-like/main.go prints. */
export interface EnvoyLikeRun {
  clients: number;
  syncedMs: number;
  p50Ms: number;
  p99Ms: number;
  unsynced: number;
  missing: string[] | null;
  bytesPerClient: number;
  responsesPerClient: number;
  /** The client process's own CPU (user + system) over the run. */
  cpuMs: number;
  errors: number;
  firstError?: string;
  edsNames: number;
  rdsNames: string[] | null;
  subscribed: string[] | null;
}

export type EnvoyLikeFigures =
  | { skipped: string }
  | { clients: number; models: number; serve: EnvoyLikeRun & { serverCpuMs: number; serverPeakRssMb: number }; floor: EnvoyLikeRun & { serverCpuMs: number } };

/** Builds the grpc-go clients (modules pinned in go.mod/go.sum, from the Go module cache or proxy). */
async function buildClients(): Promise<{ binary: string } | { error: string }> {
  try {
    await promisify(execFile)('go', ['build', '-trimpath', '-buildvcs=false', '-mod=readonly', '-o', BINARY, '.'], { cwd: GO_SOURCES });
    return { binary: BINARY };
  } catch (error) {
    return { error: `go build in bench/envoy-like failed (needs Go 1.26): ${(error as Error).message.split('\n')[0]}` };
  }
}

async function runClients(binary: string, port: number, count: number): Promise<EnvoyLikeRun> {
  const { stdout } = await promisify(execFile)(binary, ['-target', `127.0.0.1:${port}`, '-clients', String(count), '-timeout', `${TIMEOUT_S}s`], { maxBuffer: 16 << 20 });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as EnvoyLikeRun;
}

/** user + system CPU of a process so far, from /proc (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
const peakRssMb = (pid: number): number => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

/** `infermesh serve` on the folder; resolves with its xDS port once /readyz says 200. */
async function startServe(dir: string, profileDir: string | undefined) {
  const node = path.join(REPO, 'node_modules', '.bin', 'node');
  const prof = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn(node, [...prof, 'bin/infermesh.js', 'serve', '--config-dir', dir, '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => output.push(line));
  const stop = async () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    // With --cpu-prof the profile is written only on an orderly exit; give it 20 s, then SIGKILL.
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid, profileDir ? 'SIGTERM' : 'SIGKILL');
    const timer = setTimeout(() => child.exitCode === null && process.kill(child.pid!, 'SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const { xds, admin } = await new Promise<{ xds: number; admin: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start:\n${output.join('\n')}`)), 120_000);
      createInterface({ input: child.stdout }).on('line', (line) => {
        output.push(line);
        if (!line.includes('infermesh serving')) return;
        const entry = JSON.parse(line) as Record<string, unknown>;
        clearTimeout(timer);
        resolve({ xds: Number(String(entry['xds']).split(':').pop()), admin: Number(String(entry['admin']).split(':').pop()) });
      });
      child.once('exit', (code) => reject(new Error(`serve exited ${code}:\n${output.join('\n')}`)));
    });
    while ((await fetch(`http://127.0.0.1:${admin}/readyz`).then((r) => r.status, () => 0)) !== 200) await new Promise((resolve) => setTimeout(resolve, 20));
    return { port: xds, pid: child.pid!, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The snapshot serve builds from the folder, built here the same way, for the floor's answers. */
async function snapshotOf(dir: string): Promise<Snapshot> {
  const store = new SnapshotStore();
  const controller = new Controller({ source: new FolderSource(dir), store, codec: new ResourceCodec(loadEnvoyProtos()), settings: DEFAULT_SETTINGS, logger: silentLogger(), metrics: createMetrics() });
  await controller.start();
  controller.stop();
  const snapshot = store.current();
  if (!snapshot) throw new Error('no snapshot from the folder');
  return snapshot;
}

/** The floor's SotW answers: the snapshot's resources for the names asked (wildcard where allowed), encoded once per distinct request. */
function floorAnswers(snapshot: Snapshot) {
  const cache = new Map<string, Buffer | undefined>();
  return (typeUrl: string, names: readonly string[]): Buffer | undefined => {
    const key = `${typeUrl}|${names.join(',')}`;
    if (cache.has(key)) return cache.get(key);
    const kind = kindOfTypeUrl(typeUrl);
    let bytes: Buffer | undefined;
    if (kind && (names.length > 0 || wildcardCapable(kind))) {
      const selected = snapshot.select(kind, names.length > 0 ? new Set(names) : 'wildcard');
      bytes = encodeDiscoveryResponse({ versionInfo: versionOf(selected), resources: selected.map((r) => r.any), typeUrl, nonce: '1', controlPlaneId: 'floor' });
    }
    cache.set(key, bytes);
    return bytes;
  };
}

/** The floor in a process of its own, like serve, so neither the bench's heap nor its other rows weigh on it. */
async function startFloor(dir: string) {
  const child = spawn(process.execPath, [import.meta.filename, '--floor', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = async () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid, 'SIGKILL');
    await exited;
  };
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(Number(line)));
    child.once('exit', (code) => reject(new Error(`the floor exited ${code}`)));
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { port, pid: child.pid!, stop };
}

export async function measureEnvoyLikeSync(count: number, models: number): Promise<EnvoyLikeFigures> {
  const built = await buildClients();
  if ('error' in built) return { skipped: built.error };
  const { binary } = built;
  const dir = writeModelFolder(models);
  const profileDir = process.env['BENCH_ENVOY_LIKE_PROFILE'];
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  try {
    const serve = await startServe(dir, profileDir);
    let run: EnvoyLikeRun;
    let serverCpuMs: number;
    let serverPeakRssMb: number;
    try {
      const before = cpuMs(serve.pid);
      run = await runClients(binary, serve.port, count);
      serverCpuMs = cpuMs(serve.pid) - before;
      serverPeakRssMb = peakRssMb(serve.pid);
    } finally {
      await serve.stop();
    }
    const floor = await startFloor(dir);
    try {
      await runClients(binary, floor.port, Math.min(count, 10)); // fills the floor's cache of encoded answers
      const before = cpuMs(floor.pid);
      const floorRun = await runClients(binary, floor.port, count);
      return { clients: count, models, serve: { ...run, serverCpuMs, serverPeakRssMb }, floor: { ...floorRun, serverCpuMs: cpuMs(floor.pid) - before } };
    } finally {
      await floor.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (ms: number) => (ms >= 100 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
const ratio = (value: number, floor: number) => (floor > 0 ? `${(value / floor).toFixed(1)}x` : '-');

/** Rows in bench/run.ts's shape: figure, infermesh, floor, ratio, note. */
export function envoyLikeRows(figures: EnvoyLikeFigures): string[][] {
  if ('skipped' in figures) return [['Envoy-like SotW initial sync', 'not run', '-', '-', figures.skipped]];
  const { serve, floor, clients, models } = figures;
  const unsynced = (run: EnvoyLikeRun, who: string) => (run.unsynced > 0 ? `; ${run.unsynced} NOT in sync on ${who} (${(run.missing ?? []).join('; ')})` : '') + (run.errors > 0 ? `; ${run.errors} stream errors on ${who}: ${run.firstError}` : '');
  const shape = `LDS+CDS+SRDS wildcard, RDS ${(serve.rdsNames ?? []).length} tables by name (the models each calls), EDS ${serve.edsNames} names`;
  return [
    [`Envoy-like SotW initial sync, ${clients} clients x ${models} models`, fmt(serve.syncedMs), fmt(floor.syncedMs), ratio(serve.syncedMs, floor.syncedMs), `infermesh serve; grpc-go clients, own connection each; ${shape}${unsynced(serve, 'serve')}${unsynced(floor, 'floor')}`],
    ['Envoy-like SotW initial sync, p50 / p99 per client', `${fmt(serve.p50Ms)} / ${fmt(serve.p99Ms)}`, `${fmt(floor.p50Ms)} / ${fmt(floor.p99Ms)}`, ratio(serve.p99Ms, floor.p99Ms), `${(serve.bytesPerClient / 1e6).toFixed(2)} MB and ${serve.responsesPerClient.toFixed(1)} responses per client`],
    ['Envoy-like SotW initial sync, CPU used', `${fmt(serve.serverCpuMs)} server`, `${fmt(floor.serverCpuMs)} server`, ratio(serve.serverCpuMs, floor.serverCpuMs), `clients' own CPU: ${fmt(serve.cpuMs)} beside serve, ${fmt(floor.cpuMs)} beside the floor; serve peak RSS ${serve.serverPeakRssMb.toFixed(0)} MB`],
  ];
}

if (import.meta.filename === process.argv[1] && process.argv[2] === '--floor') {
  const floor = new FloorServer(floorAnswers(await snapshotOf(process.argv[3] ?? '')));
  console.log(await floor.listen());
} else if (import.meta.filename === process.argv[1]) {
  const figures = await measureEnvoyLikeSync(Number(process.argv[2] ?? 1000), Number(process.argv[3] ?? 1000));
  console.log(JSON.stringify(figures));
  for (const row of envoyLikeRows(figures)) console.log(row.join('  |  '));
  process.exit(0);
}
