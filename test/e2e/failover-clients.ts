/**
 * The clients of replica-failover.test.ts, each under steady traffic until stopped, recording every outcome:
 * REST calls through the Envoy sidecars' shared listener (a new connection per call), a @grpc/grpc-js-xds
 * channel in this process, and gRPC C-core (grpcio) in a Python process. Plus what the test reads from the
 * control-plane replicas: CSDS per node and their push counters.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { tritonInfer, type TritonClient } from '../../demo/fake-model-server.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { fetchClientStatus } from '../../src/status/csds-client.ts';
import { tritonOverXds } from '../support/xds-client.ts';

export interface Outcome {
  at: number;
  ok: boolean;
  /** The pod that answered, or what went wrong. */
  what: string;
}

export interface LoadClient {
  readonly name: string;
  readonly outcomes: Outcome[];
  stop(): Promise<void>;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A free loopback port below the kernel's ephemeral range, for a listener that starts seconds later: a port
 * from freePort() is in that range, where the client side of any connection made meanwhile (hundreds here)
 * may take it.
 */
export async function portOutsideEphemeralRange(): Promise<number> {
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  const floor = Math.min(20_000, low - 1_000);
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = floor + Math.floor(Math.random() * (low - floor));
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port in ${floor}-${low - 1}`);
}

/** A gRPC xDS bootstrap whose server_uri names every replica: the xDS channel picks the first that answers. */
export function grpcBootstrap(nodeId: string, xdsPorts: readonly number[]): string {
  return JSON.stringify({
    xds_servers: [{ server_uri: `ipv4:${xdsPorts.map((port) => `127.0.0.1:${port}`).join(',')}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: nodeId, cluster: 'failover', locality: {} },
  });
}

function restCall(port: number, model: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const done = (ok: boolean, what: string) => resolve({ at: Date.now(), ok, what });
    // agent: false = a new connection per call, so the kernel spreads calls over every Envoy on the port.
    const request = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: `/v2/models/${model}/infer`, agent: false, timeout: 5_000, headers: { 'x-model': model, 'content-type': 'application/json' } },
      (response) => {
        response.resume();
        response.on('end', () => done(response.statusCode === 200, response.statusCode === 200 ? String(response.headers['x-served-by']) : `HTTP ${response.statusCode}`));
        response.on('error', (error) => done(false, error.message));
      },
    );
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', (error) => done(false, error.message));
    request.end('{"inputs":[]}');
  });
}

/** `workers` loops of REST calls through the sidecar listener on `port` (shared by every Envoy). */
export function restLoad(name: string, port: number, model: string, workers = 3, gapMs = 10): LoadClient {
  const outcomes: Outcome[] = [];
  let stopped = false;
  const loops = Array.from({ length: workers }, async () => {
    while (!stopped) {
      outcomes.push(await restCall(port, model));
      await pause(gapMs);
    }
  });
  return { name, outcomes, stop: async () => { stopped = true; await Promise.all(loops); } };
}

/** @grpc/grpc-js-xds in this process: one channel, one call at a time. */
export function grpcJsLoad(name: string, nodeId: string, xdsPorts: readonly number[], model: string, gapMs = 20): LoadClient {
  const options = { 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': grpcBootstrap(nodeId, xdsPorts) };
  const client: TritonClient = tritonOverXds(options);
  const outcomes: Outcome[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        // grpc-js queues calls while the channel connects and fails them fast only in TRANSIENT_FAILURE.
        const { pod } = await tritonInfer(client, model, { metadata: { 'x-model': model }, timeoutMs: 5_000 });
        outcomes.push({ at: Date.now(), ok: true, what: pod });
      } catch (error) {
        const status = error as grpc.ServiceError;
        outcomes.push({ at: Date.now(), ok: false, what: `${grpc.status[status.code] ?? status.code} ${status.details ?? String(error)}` });
      }
      await pause(gapMs);
    }
  })();
  return { name, outcomes, stop: async () => { stopped = true; await loop; client.close(); } };
}

/** gRPC C-core through Python's grpcio (replica_failover_client.py), stopped by closing its stdin. */
export function pythonLoad(name: string, python: string, nodeId: string, xdsPorts: readonly number[], model: string, dir: string, gapMs = 20): LoadClient & { child: ChildProcess; stderr: string[] } {
  const bootstrap = path.join(dir, `.bootstrap-${nodeId}.json`);
  writeFileSync(bootstrap, grpcBootstrap(nodeId, xdsPorts));
  const script = path.join(import.meta.dirname, 'replica_failover_client.py');
  const child = spawn(python, [script, model, String(gapMs)], { env: { ...process.env, GRPC_XDS_BOOTSTRAP: bootstrap, GRPC_VERBOSITY: 'ERROR' }, stdio: ['pipe', 'pipe', 'pipe'] });
  const outcomes: Outcome[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const { at, outcome } = JSON.parse(line) as { at: number; outcome: string };
    outcomes.push({ at, ok: !/^[A-Z_]+$/.test(outcome), what: outcome });
  });
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    child.stdin!.end();
    const timer = setTimeout(() => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return { name, outcomes, stop, child, stderr };
}

export interface NodeConfig {
  /** type URL, name, version and client status of every resource CSDS lists for the node, sorted. */
  resources: string[];
}

let protos: ReturnType<typeof loadEnvoyProtos> | undefined;

/** What a replica's CSDS says each connected node runs, by node id. */
export async function csdsNodes(xdsPort: number): Promise<Map<string, NodeConfig>> {
  protos ??= loadEnvoyProtos();
  const clients = await fetchClientStatus(protos, `127.0.0.1:${xdsPort}`, 2_000);
  return new Map(clients.map((client) => [
    client.node?.id ?? '?',
    { resources: (client.generic_xds_configs ?? []).map((c) => `${c.type_url.split('.').at(-1)} ${c.name} ${c.version_info ?? ''} ${c.client_status ?? ''}`).sort() },
  ]));
}

/** The sum of a counter over its labels, from a replica's /metrics. */
export async function counter(adminPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'gm'))].reduce((sum, match) => sum + Number(match[1]), 0);
}
