/**
 * The proxyless gRPC clients the interop tests drive, apart from the scenarios they run: a gRPC xDS bootstrap
 * per node, a client program run as a process (grpc_python_client.py on each C-core, the grpc-go program in
 * go/) that reports a Tally of one run, and the control plane's NACK count.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll } from 'vitest';
import type { Mesh } from '../support/mesh.ts';
import { debianGrpcio, describeWithTool, grpcGoClient, type Lookup, pypiGrpcio } from '../support/tools.ts';

const run = promisify(execFile);

export interface Tally {
  pods: Record<string, number>;
  errors: Record<string, number>;
  /** The last status message per error code. */
  messages: Record<string, string>;
  /** Per call, in order: the pod that answered or the error code. */
  outcomes: string[];
  /** Per call, when it started (ms since the epoch). */
  times: number[];
}

export type ServingKind = 'triton' | 'tfserving';

export interface RunOptions {
  /** Pause between calls (default 0). */
  gapMs?: number;
  /** The channel dials xds:///<target> (default `infermesh`, the header-routed table of every model). */
  target?: string;
}

/**
 * Runs `calls` calls, one at a time, through a fresh channel to xds:///<target>; `model` is the name in the
 * request body.
 */
export type ClientRun = (kind: ServingKind, model: string, calls: number, headers: Record<string, string>, options?: RunOptions) => Promise<Tally>;

/** Writes a gRPC xDS bootstrap for this mesh's control plane and returns its path. */
export async function writeBootstrap(mesh: Mesh, nodeId: string, zone?: string): Promise<string> {
  const file = path.join(mesh.dir, `.bootstrap-${nodeId}.json`);
  await writeFile(file, JSON.stringify({
    xds_servers: [{ server_uri: `127.0.0.1:${mesh.server.xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: nodeId, cluster: 'interop', locality: zone === undefined ? {} : { zone } },
  }));
  return file;
}

const PYTHON_CLIENT = path.join(import.meta.dirname, 'grpc_python_client.py');

/** A client process describeProcessClients runs: its xDS implementation and version, and a label for titles. */
export interface ProcessClientInfo {
  implementation: 'c-core' | 'grpc-go';
  version: string;
  /** `grpcio 1.85.1`, `grpc-go v1.85.0`. */
  label: string;
}

/**
 * Each client process in a describe of its own: gRPC C-core (Debian's python3-grpcio 1.51, grpcio from PyPI)
 * through grpc_python_client.py, and grpc-go through go/main.go, with a bootstrap for node
 * `${node}-<version>` (in `zone`, if given). The same command line and tally, so the tests drive them alike.
 */
export function describeProcessClients(mesh: () => Mesh, node: string, tests: (call: ClientRun, client: ProcessClientInfo) => void, zone?: string): void {
  const inZone = zone === undefined ? '' : `, node zone ${zone}`;
  const clients: { title: string; lookup: Lookup<{ command: string; args: string[]; info: ProcessClientInfo }> }[] = [
    { title: 'Debian python3-grpcio', lookup: debianGrpcio() },
    { title: 'grpcio from PyPI', lookup: pypiGrpcio() },
  ].map(({ title, lookup }) => ({
    title: `gRPC C-core (${title}${inZone})`,
    lookup: mapLookup(lookup, ({ python, version }) => ({ command: python, args: [PYTHON_CLIENT], info: { implementation: 'c-core' as const, version, label: `grpcio ${version}` } })),
  }));
  const go = grpcGoClient();
  clients.push({
    title: `grpc-go${go.found ? ` ${go.value.version}` : ''}${inZone ? ` (${inZone.slice(2)})` : ''}`,
    lookup: mapLookup(go, ({ path: command, version }) => ({ command, args: [], info: { implementation: 'grpc-go' as const, version, label: `grpc-go ${version}` } })),
  });
  for (const { title, lookup } of clients) {
    describeWithTool(title, lookup, ({ command, args, info }) => {
      let bootstrap = '';
      beforeAll(async () => {
        bootstrap = await writeBootstrap(mesh(), `${node}-${info.implementation}-${info.version}`, zone);
      });
      tests(processClient(command, args, () => bootstrap), info);
    });
  }
}

function mapLookup<T, U>(lookup: Lookup<T>, map: (value: T) => U): Lookup<U> {
  return lookup.found ? { found: true, value: map(lookup.value) } : lookup;
}

/** A ClientRun that starts `command args... TARGET KIND MODEL CALLS K=V...` with GRPC_XDS_BOOTSTRAP set. */
export function processClient(command: string, args: string[], bootstrap: () => string): ClientRun {
  return async (kind, model, calls, headers, { gapMs = 0, target = 'infermesh' } = {}) => {
    const argv = [...args, target, kind, model, String(calls), ...Object.entries(headers).map(([k, v]) => `${k}=${v}`)];
    const env = { ...process.env, GRPC_XDS_BOOTSTRAP: bootstrap(), GRPC_VERBOSITY: 'ERROR', INFERMESH_CALL_GAP_MS: String(gapMs) };
    const { stdout } = await run(command, argv, { env, timeout: 60_000 });
    const tally = JSON.parse(stdout) as Tally;
    // A client built before `times` existed (the grpc-go binary is cached): say so, not a TypeError later.
    if (!Array.isArray(tally.times)) throw new Error(`${command} reports no per-call times: an old build? Run scripts/grpc-clients.sh`);
    return tally;
  };
}

/** NACKs the mesh's control plane has counted (infermesh_xds_nacks_total, all labels). */
export async function nacks(mesh: Mesh): Promise<number> {
  const text = await mesh.metrics();
  return [...text.matchAll(/^infermesh_xds_nacks_total(?:\{[^}]*\})? (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}
