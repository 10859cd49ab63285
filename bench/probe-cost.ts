/**
 * Probe cost (issue 14): the control plane's prober (src/probe/prober.ts, as `serve` runs it) asking 50 fake
 * pods of one server kind, each holding 1,000 models (and, for TF Serving, also 1,000 models spread 20 to a
 * pod), which models are ready. Triton answers all of a pod's models in one POST /v2/repository/index;
 * TF Serving has no batch API, so it is one GET /v1/models/M per model per pod. Reported per probe interval: pod probes, HTTP requests and the prober's CPU (process.cpuUsage
 * of this process: the fakes run in a child process), against a floor measured in the same run: the same
 * HTTP requests (method, path, body, agent, concurrency) to the same fakes, each body read and dropped.
 *
 *   node bench/probe-cost.ts            prints one JSON line (ProbeCostFigures)
 *   BENCH_PROBE_PODS (50)  BENCH_PROBE_MODELS (1000)  BENCH_PROBE_INTERVAL_MS (5000)  BENCH_PROBE_INTERVALS (3)
 *
 * With `pods KIND COUNT MODELS PER_POD` it is the child: starts the fakes and prints their REST addresses.
 * All fakes of a run share that one process, so it bounds how fast they answer (about 2,500 requests/s on
 * a 2-core machine): the 50,000 requests an interval of the TF Serving row needs cannot all be answered.
 */
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { startFakeModelServer, type FakeModelServer } from '../demo/fake-model-server.ts';
import { DEFAULT_MAX_RESPONSE_BYTES } from '../src/probe/bounded-http.ts';
import { Prober } from '../src/probe/prober.ts';
import { createTfServingProbe } from '../src/probe/tfserving-probe.ts';
import { createTritonProbe } from '../src/probe/triton-probe.ts';
import type { ProbedServerKind, ProbePod, ProbeTarget } from '../src/probe/types.ts';

const TIMEOUT_MS = 2000;
const CONCURRENCY = 32;

export interface KindFigures {
  server: ProbedServerKind;
  pods: number;
  models: number;
  /** Models each pod holds (and is asked about): all of them, or a share. */
  modelsPerPod: number;
  intervalMs: number;
  /** Pod probes and HTTP requests a full interval needs: every pod once. */
  podProbesNeeded: number;
  requestsNeeded: number;
  /** What the prober did, per interval, over the measured window. */
  podProbesPerInterval: number;
  requestsPerInterval: number;
  cpuMsPerInterval: number;
  /** The requests of one full interval (every pod once), bare: CPU and wall time of that round. */
  floorCpuMsPerRound: number;
  floorRoundMs: number;
  /** Probe duration of one pod (all its models), mean over the window. */
  meanPodProbeMs: number;
  allReady: boolean;
}

export interface ProbeCostFigures {
  figures: KindFigures[];
}

interface PodAddress {
  address: string;
  port: number;
}

function modelNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `model-${String(i).padStart(4, '0')}`);
}

/** The models of pod `index`: all of them, or `perPod` of them in turn (each model on pods x perPod / models pods). */
function podModels(names: readonly string[], index: number, perPod: number): string[] {
  if (perPod >= names.length) return [...names];
  return Array.from({ length: perPod }, (_, j) => names[(index * perPod + j) % names.length] as string);
}

/** The child: `count` fake pods of `kind` on 127.0.<2|3>.N, each with its models loaded. */
async function runPods(kind: ProbedServerKind, count: number, models: number, perPod: number): Promise<void> {
  const names = modelNames(models);
  const third = kind === 'triton' ? 2 : 3;
  const pods: FakeModelServer[] = [];
  for (let i = 0; i < count; i += 1) {
    pods.push(await startFakeModelServer({ kind, host: `127.0.${third}.${i + 1}`, pod: `${kind}-${i}`, models: podModels(names, i, perPod), version: '1' }));
  }
  console.log(JSON.stringify(pods.map((pod): PodAddress => ({ address: pod.host, port: pod.httpPort }))));
  // Runs until the parent closes stdin.
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.once('end', resolve));
  await Promise.all(pods.map((pod) => pod.close()));
  process.exit(0);
}

async function startPods(kind: ProbedServerKind, count: number, models: number, perPod: number): Promise<{ pods: PodAddress[]; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [import.meta.filename, 'pods', kind, String(count), String(models), String(perPod)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`probe-cost pods exited ${code}`)));
  });
  return {
    pods: JSON.parse(line) as PodAddress[],
    stop: async () => {
      child.stdin.end();
      await exited;
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const cpuMs = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;

/** One request of the floor: the probe's HTTP exchange with the body read and dropped. */
function bareRequest(agent: http.Agent, pod: PodAddress, method: string, requestPath: string, body?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: pod.address, port: pod.port, method, path: requestPath, agent, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (response) => {
      response.on('data', () => {});
      response.once('end', resolve);
      response.once('error', reject);
    });
    request.once('error', reject);
    request.end(body);
  });
}

/** Every pod once, CONCURRENCY pods at a time, each pod's requests together (as the probes send them). */
async function floorRound(kind: ProbedServerKind, pods: readonly PodAddress[], modelsOf: (index: number) => readonly string[], agent: http.Agent): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < pods.length) {
      const index = next++;
      const pod = pods[index] as PodAddress;
      if (kind === 'triton') await bareRequest(agent, pod, 'POST', '/v2/repository/index', '{}');
      else await Promise.all(modelsOf(index).map((model) => bareRequest(agent, pod, 'GET', `/v1/models/${encodeURIComponent(model)}`)));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

export async function measureKind(kind: ProbedServerKind, podCount: number, modelCount: number, intervalMs: number, intervals: number, perPod = modelCount): Promise<KindFigures> {
  const { pods, stop } = await startPods(kind, podCount, modelCount, perPod);
  const names = modelNames(modelCount);
  const modelsOf = (index: number) => podModels(names, index, perPod);
  try {
    // As Prober's constructor builds them, with a count around each call.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4, timeout: 1000 });
    const options = { timeoutMs: TIMEOUT_MS, maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES, agent };
    const inner: ProbePod = kind === 'triton' ? createTritonProbe(options) : createTfServingProbe(options);
    let podProbes = 0;
    let requests = 0;
    let probeMs = 0;
    const counted: ProbePod = async (target, signal) => {
      const started = performance.now();
      try {
        return await inner(target, signal);
      } finally {
        podProbes += 1;
        requests += kind === 'triton' ? 1 : new Set(target.models.map((ref) => ref.model)).size;
        probeMs += performance.now() - started;
      }
    };
    const prober = new Prober({ intervalMs, timeoutMs: TIMEOUT_MS, concurrency: CONCURRENCY, probes: { [kind]: counted } });
    const targets: ProbeTarget[] = pods.map((pod, i) => ({ server: kind, address: pod.address, port: pod.port, podName: `${kind}-${i}`, models: modelsOf(i).map((model) => ({ model })) }));
    const allReady = () => pods.every((pod, i) => modelsOf(i).every((model) => prober.lookup(pod.address, pod.port, { model })?.state === 'ready'));
    prober.setTargets(targets);
    // Warm up: every pod answered once (new pods are probed at once), then a whole window of steady state.
    const warmDeadline = performance.now() + 120_000;
    while (podProbes < pods.length && performance.now() < warmDeadline) await sleep(50);
    await sleep(intervalMs);
    const before = { cpu: process.cpuUsage(), podProbes, requests, probeMs };
    await sleep(intervalMs * intervals);
    const cpu = cpuMs(process.cpuUsage(before.cpu));
    const window = { podProbes: podProbes - before.podProbes, requests: requests - before.requests, probeMs: probeMs - before.probeMs };
    const ready = allReady();
    prober.close();
    agent.destroy();

    const floorAgent = new http.Agent({ keepAlive: true, maxSockets: 4, timeout: 1000 });
    // One round to warm up, one measured (a TF Serving round is 50,000 requests).
    await floorRound(kind, pods, modelsOf, floorAgent);
    const floorBefore = process.cpuUsage();
    const floorStarted = performance.now();
    await floorRound(kind, pods, modelsOf, floorAgent);
    const floorCpu = cpuMs(process.cpuUsage(floorBefore));
    const floorRoundMs = performance.now() - floorStarted;
    floorAgent.destroy();
    return {
      server: kind,
      pods: podCount,
      models: modelCount,
      modelsPerPod: Math.min(perPod, modelCount),
      intervalMs,
      podProbesNeeded: podCount,
      requestsNeeded: kind === 'triton' ? podCount : podCount * Math.min(perPod, modelCount),
      podProbesPerInterval: window.podProbes / intervals,
      requestsPerInterval: window.requests / intervals,
      cpuMsPerInterval: cpu / intervals,
      floorCpuMsPerRound: floorCpu,
      floorRoundMs,
      meanPodProbeMs: window.podProbes > 0 ? window.probeMs / window.podProbes : NaN,
      allReady: ready,
    };
  } finally {
    await stop();
  }
}

/** Bench rows: [figure, infermesh, floor, ratio, note], as bench/run.ts prints them. */
export function probeCostRows(result: ProbeCostFigures): string[][] {
  const ms = (n: number) => `${n >= 100 ? n.toFixed(0) : n.toFixed(1)} ms`;
  return result.figures.flatMap((f) => {
    const what = f.modelsPerPod === f.models ? `${f.models} models on each of ${f.pods} ${f.server} pods` : `${f.models} models over ${f.pods} ${f.server} pods, ${f.modelsPerPod} each`;
    const how = f.server === 'triton' ? 'one POST /v2/repository/index per pod' : 'one GET /v1/models/M per model per pod';
    // The floor for the requests the prober really made (it may fall behind when a round outlasts the interval).
    const floorCpu = (f.floorCpuMsPerRound / f.requestsNeeded) * f.requestsPerInterval;
    return [
      [`probe requests per ${f.intervalMs / 1000} s interval, ${what}`, f.requestsPerInterval.toFixed(0), String(f.requestsNeeded), `${(f.requestsPerInterval / f.requestsNeeded).toFixed(2)}x`, `done vs needed (${how}); ${f.podProbesPerInterval.toFixed(1)} pod probes, ${ms(f.meanPodProbeMs)} each${f.allReady ? '; every model ready' : '; NOT every model ready at the end (probes timed out)'}`],
      [`prober CPU per ${f.intervalMs / 1000} s interval, ${what}`, ms(f.cpuMsPerInterval), ms(floorCpu), `${(f.cpuMsPerInterval / floorCpu).toFixed(1)}x`, `${((f.cpuMsPerInterval / f.intervalMs) * 100).toFixed(1)}% of a core; floor: the same requests bare, body read not parsed (a full round: ${ms(f.floorCpuMsPerRound)} CPU, ${ms(f.floorRoundMs)} wall)`],
    ];
  });
}

export async function measureProbeCost(): Promise<ProbeCostFigures> {
  const pods = Number(process.env['BENCH_PROBE_PODS'] ?? 50);
  const models = Number(process.env['BENCH_PROBE_MODELS'] ?? 1000);
  const intervalMs = Number(process.env['BENCH_PROBE_INTERVAL_MS'] ?? 5000);
  const intervals = Number(process.env['BENCH_PROBE_INTERVALS'] ?? 3);
  const figures: KindFigures[] = [];
  for (const kind of ['triton', 'tfserving'] as const) figures.push(await measureKind(kind, pods, models, intervalMs, intervals));
  // TF Serving's cost is pods x models: the same 1,000 models spread 20 to a pod is 1,000 requests an interval.
  figures.push(await measureKind('tfserving', pods, models, intervalMs, intervals, Math.max(1, Math.round(models / pods))));
  return { figures };
}

if (process.argv[1] === import.meta.filename) {
  if (process.argv[2] === 'pods') await runPods(process.argv[3] as ProbedServerKind, Number(process.argv[4]), Number(process.argv[5]), Number(process.argv[6]));
  else {
    console.log(JSON.stringify(await measureProbeCost()));
    process.exit(0);
  }
}

export const PROBE_COST_SCRIPT = path.join(import.meta.dirname, 'probe-cost.ts');
