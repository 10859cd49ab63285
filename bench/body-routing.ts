/**
 * What routing by the JSON body (policy modelFromBody, src/envoy/model-from-body.ts) costs per request, through
 * one real Envoy sidecar (the newest pinned) to a fake pod's POST /v1/chat/completions, with wrk (HTTP/1.1
 * keep-alive, closed loop), for an OpenAI-style chat body of ~1 KB and of ~64 KB (messages first, "model"
 * after them, as the OpenAI SDKs write it; strings with escapes):
 *
 *   floor      no policy enables modelFromBody: the listener has no body filters; the model header is sent
 *   header     a policy enables it (both Lua filters in the listener); the model header is sent, so the first
 *              filter returns at once and only the guard looks at the request
 *   body       the same listener; no header: the body is buffered, scanned and the header set from it
 *
 * Each figure: requests/s, p50/p99 latency, and Envoy's CPU time per request (user + system over the run, less
 * its idle use; steadier than req/s on a shared machine). The fake pod parses the JSON in every case, so the
 * difference between the rows is Envoy's. Pod on 127.0.3.200.
 *
 *   BENCH_BODY_SECONDS (default 8)   BENCH_BODY_CONNECTIONS (default 8)   BENCH_BODY_ROUNDS (default 2)   BENCH_WRK (default wrk, from PATH)
 *
 * Alone: `npx node bench/body-routing.ts`. Progress on stderr; the last stdout line is the JSON figures, or
 * {"skipped": reason} when Envoy or wrk is missing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startFakeModelServer, type FakeModelServer } from '../demo/fake-model-server.ts';
import { anyEnvoy, type EnvoyBinary } from '../scripts/envoy-lookup.ts';
import { DEFAULT_SETTINGS, type MeshSettings } from '../src/model/types.ts';
import type { SourceWorld } from '../src/sources/types.ts';
import { EnvoyProcess, freePort } from '../test/support/envoy-process.ts';
import { cpuUs, startControlPlane } from './data-plane.ts';
import { runWrk, wrkProblem, type LoadFigures } from './wrk.ts';

const SECONDS = Number(process.env['BENCH_BODY_SECONDS'] ?? 8);
const CONNECTIONS = Number(process.env['BENCH_BODY_CONNECTIONS'] ?? 8);
const POD_HOST = '127.0.3.200';
const MODEL = 'bench-chat';
const PATH = '/v1/chat/completions';
const IDLE_MS = 3_000;
const ROUNDS = Number(process.env['BENCH_BODY_ROUNDS'] ?? 2);

export interface BodyFigures {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  envoyCpuPerRequestUs: number;
  errors: number;
  requests: number;
}

export type Mode = 'floor' | 'header' | 'body';
export interface BodyRoutingRow {
  mode: Mode;
  bodyBytes: number;
  figures: BodyFigures;
}
export type BodyRoutingResult = { skipped: string } | { envoy: string; seconds: number; connections: number; rounds: number; rows: BodyRoutingRow[] };

const running = new Set<{ kill(): void }>();
process.once('exit', () => {
  for (const child of running) child.kill();
});
const log = (line: string) => process.stderr.write(`body routing: ${line}\n`);

/** An OpenAI chat body of about `bytes` bytes: several messages with escaped quotes and newlines, then the model. */
export function chatBody(bytes: number): string {
  const sentence = 'The \\"quick\\" brown fox jumps over the lazy dog.\\n';
  const messages: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes - 120; i++) {
    const content = sentence.repeat(Math.max(1, Math.min(40, Math.floor((bytes - 120 - size) / sentence.length))));
    const message = `{"role":"${i % 2 === 0 ? 'user' : 'assistant'}","content":"${content}"}`;
    messages.push(message);
    size += message.length + 1;
  }
  return `{"messages":[${messages.join(',')}],"model":"${MODEL}","max_tokens":16,"temperature":0.2,"stream":false}`;
}

function world(bodyRouting: boolean, pod: FakeModelServer): SourceWorld {
  const policy = `model: ${MODEL}\nserver: generic\nprotocol: http\n${bodyRouting ? 'modelFromBody: true\n' : ''}backends: [{ name: main, service: chat, port: http }]\nretries: { attempts: 0 }\n`;
  return {
    configMaps: [{ namespace: 'models', name: 'chat-policy', labels: { 'infermesh.io/policy': 'true' }, creationTimestamp: '2026-01-01T00:00:00Z', origin: 'bench', data: { 'policy.yaml': policy } }],
    endpointSlices: [
      {
        namespace: 'models',
        name: 'chat-abc',
        serviceName: 'chat',
        addressType: 'IPv4',
        ports: [{ name: 'http', port: pod.httpPort }],
        endpoints: [{ addresses: [POD_HOST], ready: true, serving: true, terminating: false }],
        origin: 'bench',
      },
    ],
    readErrors: [],
  };
}

/** A temporary folder with wrk's script and the ~1 KB and ~64 KB chat bodies it posts. */
export function writeLoadFiles(prefix: string): { dir: string; script: string; bodies: { bytes: number; file: string; text: string }[] } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const script = path.join(dir, 'chat.lua');
  writeFileSync(script, WRK_SCRIPT);
  const bodies = [1024, 64 * 1024].map((bytes) => {
    const text = chatBody(bytes);
    const file = path.join(dir, `body-${bytes}.json`);
    writeFileSync(file, text);
    return { bytes: Buffer.byteLength(text), file, text };
  });
  return { dir, script, bodies };
}

const WRK_SCRIPT = `
wrk.method = "POST"
local file = io.open(os.getenv("BENCH_BODY_FILE"), "rb")
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
local model = os.getenv("BENCH_MODEL_HEADER")
if model ~= nil and model ~= "" then wrk.headers["x-model"] = model end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
`;


export function runBodyLoad(script: string, url: string, bodyFile: string, header: string, seconds: number): Promise<LoadFigures> {
  return runWrk({ script, url, seconds, connections: CONNECTIONS, env: { BENCH_BODY_FILE: bodyFile, BENCH_MODEL_HEADER: header }, running });
}

/** One check call: the sidecar must answer 200 from the pod, naming the model, before anything is measured. */
export async function check(url: string, body: string, header: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(header ? { 'x-model': header } : {}) }, body, signal: AbortSignal.timeout(5_000) });
      last = `${response.status} ${(await response.text()).slice(0, 200)}`;
      if (response.status === 200 && last.includes(`"model":"${MODEL}"`)) return;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no 200 through the sidecar (last: ${last})`);
}

interface RunningSidecar {
  url: string;
  pid: number | undefined;
  /** Envoy's CPU use with no traffic, in microseconds per millisecond. */
  idleUsPerMs: number;
  close(): Promise<void>;
}

/** A control plane and an Envoy whose listener has the body filters or not. */
async function startSidecar(bodyRouting: boolean, binary: EnvoyBinary, pod: FakeModelServer): Promise<RunningSidecar> {
  const settings: MeshSettings = { ...DEFAULT_SETTINGS, sidecarListenerAddress: '127.0.0.1', sidecarListenerPort: await freePort() };
  const controlPlane = await startControlPlane(world(bodyRouting, pod), settings, 'bench-body-routing', 30_000);
  try {
    const envoy = await EnvoyProcess.start({ binary, xdsPort: controlPlane.xdsPort, nodeId: `bench-body-${bodyRouting ? 'lua' : 'plain'}`, logLevel: 'warn' });
    const handle = { kill: () => void envoy.stop() };
    running.add(handle);
    const idleStart = cpuUs(envoy.pid);
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const idleUsPerMs = (cpuUs(envoy.pid) - idleStart) / IDLE_MS;
    return {
      url: `http://127.0.0.1:${settings.sidecarListenerPort}${PATH}`,
      pid: envoy.pid,
      idleUsPerMs,
      async close() {
        running.delete(handle);
        await envoy.stop();
        await controlPlane.close();
      },
    };
  } catch (error) {
    await controlPlane.close();
    throw error;
  }
}

/** One run of wrk through `sidecar`, with Envoy's CPU time per request over it. */
async function measureRun(sidecar: RunningSidecar, script: string, body: { file: string; text: string }, header: string): Promise<BodyFigures> {
  await check(sidecar.url, body.text, header);
  await runBodyLoad(script, sidecar.url, body.file, header, 1);
  const before = cpuUs(sidecar.pid);
  const run = await runBodyLoad(script, sidecar.url, body.file, header, SECONDS);
  const envoyCpuPerRequestUs = (cpuUs(sidecar.pid) - before - sidecar.idleUsPerMs * SECONDS * 1000) / run.requests;
  return { ...run, envoyCpuPerRequestUs };
}

/** Of several runs of one figure, the one with the least Envoy CPU per request (the least disturbed). */
const best = (runs: BodyFigures[]): BodyFigures => runs.reduce((a, b) => (b.envoyCpuPerRequestUs < a.envoyCpuPerRequestUs ? b : a));

export async function measureBodyRouting(): Promise<BodyRoutingResult> {
  const envoy = anyEnvoy();
  if (!envoy.found) return { skipped: envoy.problem };
  const missing = wrkProblem();
  if (missing) return { skipped: missing };
  const { dir, script, bodies } = writeLoadFiles('infermesh-bench-body-');
  const pod = await startFakeModelServer({ kind: 'triton', host: POD_HOST, pod: 'bench-body-pod', models: [MODEL], version: '1' });
  try {
    log(`Envoy ${envoy.value.version}, ${SECONDS} s per run, ${CONNECTIONS} connections; bodies ${bodies.map((b) => b.bytes).join(' and ')} bytes`);
    // Both sidecars up at once and the modes taken in turn, ROUNDS times: a load that comes and goes on a
    // shared machine then weighs on every mode alike, and each figure keeps its least disturbed run.
    const plain = await startSidecar(false, envoy.value, pod);
    const lua = await startSidecar(true, envoy.value, pod).catch(async (error: unknown) => {
      await plain.close();
      throw error;
    });
    try {
      const rows: BodyRoutingRow[] = [];
      for (const body of bodies) {
        const runs: Record<Mode, BodyFigures[]> = { floor: [], header: [], body: [] };
        for (let round = 0; round < ROUNDS; round++) {
          runs.floor.push(await measureRun(plain, script, body, MODEL));
          runs.header.push(await measureRun(lua, script, body, MODEL));
          runs.body.push(await measureRun(lua, script, body, ''));
        }
        for (const mode of ['floor', 'header', 'body'] as const) {
          const figures = best(runs[mode]);
          log(`${mode} ${body.bytes} B: ${figures.rps.toFixed(0)} req/s p50 ${figures.p50Ms.toFixed(2)} ms p99 ${figures.p99Ms.toFixed(2)} ms, Envoy ${figures.envoyCpuPerRequestUs.toFixed(0)} us/request (runs: ${runs[mode].map((r) => r.envoyCpuPerRequestUs.toFixed(0)).join(', ')}), ${figures.errors} errors`);
          rows.push({ mode, bodyBytes: body.bytes, figures });
        }
      }
      return { envoy: envoy.value.version, seconds: SECONDS, connections: CONNECTIONS, rounds: ROUNDS, rows };
    } finally {
      await lua.close();
      await plain.close();
    }
  } finally {
    await pod.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const LABELS: Record<Mode, string> = { floor: 'header, no body filters', header: 'header, body filters present', body: 'routed by the body' };

/** The table rows of `npm run bench`: each beside the floor of the same body size. */
export function bodyRoutingRows(result: BodyRoutingResult): string[][] {
  if ('skipped' in result) return [['body routing through an Envoy sidecar', 'not run', '-', '-', result.skipped]];
  const rows: string[][] = [];
  const ratio = (value: number, floor: number) => (Number.isFinite(value) && floor > 0 ? `${(value / floor).toFixed(2)}x` : '-');
  for (const row of result.rows) {
    const floor = result.rows.find((r) => r.mode === 'floor' && r.bodyBytes === row.bodyBytes)?.figures;
    if (!floor) continue;
    const f = row.figures;
    const what = `${LABELS[row.mode]}, ${(row.bodyBytes / 1024).toFixed(0)} KB chat body, Envoy ${result.envoy}`;
    rows.push([`requests/s, ${what}`, `${f.rps.toFixed(0)}/s`, `${floor.rps.toFixed(0)}/s`, ratio(f.rps, floor.rps), `floor: header-routed, no body filters; wrk ${result.connections} conns, best of ${result.rounds} x ${result.seconds} s; errors ${f.errors}`]);
    rows.push([`p50 / p99 latency, ${what}`, `${f.p50Ms.toFixed(2)} / ${f.p99Ms.toFixed(2)} ms`, `${floor.p50Ms.toFixed(2)} / ${floor.p99Ms.toFixed(2)} ms`, ratio(f.p50Ms, floor.p50Ms), '']);
    rows.push([`Envoy CPU per request, ${what}`, `${f.envoyCpuPerRequestUs.toFixed(0)} us`, `${floor.envoyCpuPerRequestUs.toFixed(0)} us`, ratio(f.envoyCpuPerRequestUs, floor.envoyCpuPerRequestUs), 'user + system over the run, less idle, / requests']);
  }
  return rows;
}

if (import.meta.main) {
  const stopOnSignal = () => process.exit(130);
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  const result = await measureBodyRouting();
  console.log(JSON.stringify(result));
  process.exit(0);
}
