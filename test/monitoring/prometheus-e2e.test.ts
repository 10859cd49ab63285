/**
 * The SRE's screens against a real Prometheus (issue 15): Prometheus on loopback scrapes a control plane
 * (the Mesh's replica and the sidecar's own, as two replicas of one deployment would be scraped) and a real
 * Envoy sidecar's /stats/prometheus (through the bootstrap's status listener, the port the PodMonitor uses)
 * while the sidecar serves a REST model split over two backends with versions, its canary failing every
 * call (503), and a gRPC model likewise, whose canary fails every call with a grpc-status (HTTP 200: only
 * the sidecar's gRPC stats filter counts it as an error). Then every recording rule of manifests/monitoring/prometheus-rules.yaml and every panel query of
 * both dashboards goes through /api/v1/query and must return series with the labels it promises.
 *
 * One Envoy, the newest pinned one: what is checked here is the queries, and the series they read (names
 * and stats tags from envoy/bootstrap.yaml) are the same on every pinned version — test/sidecar/
 * observability.test.ts checks those series and labels on each version (the gRPC stats' names too: run on
 * each version when they were chosen, see README "Observe it"). Pods on 127.0.0.150-127.0.0.159.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTritonClient, tritonInfer, type TritonClient } from '../../demo/fake-model-server.ts';
import { eventually } from '../support/eventually.ts';
import { Mesh, type PodSpec } from '../support/mesh.ts';
import { PrometheusProcess, type PromSeries } from '../support/prometheus-process.ts';
import { Sidecar, trackFailures } from '../support/sidecar.ts';
import { REPO, describeWithTool, newestEnvoy, prometheusBinary, type EnvoyBinary, type Lookup } from '../support/tools.ts';
import { labelValuesVariables, panelQueries, readDashboard, readRules, type PanelQuery } from './dashboard-queries.ts';

const MONITORING = path.join(REPO, 'manifests', 'monitoring');
const RULES_FILE = path.join(MONITORING, 'prometheus-rules.yaml');
const DASHBOARDS = ['infermesh-overview.json', 'infermesh-model.json'];

const MODEL = 'prom-resnet';
/** Over gRPC, the default protocol. */
const GRPC_MODEL = 'prom-vit';
const PODS: PodSpec[] = [
  { kind: 'triton', host: '127.0.0.150', pod: 'prom-stable', service: 'prom-stable', models: [MODEL], version: '1' },
  { kind: 'triton', host: '127.0.0.151', pod: 'prom-canary', service: 'prom-canary', models: [MODEL], version: '2' },
  { kind: 'triton', host: '127.0.0.153', pod: 'prom-grpc-stable', service: 'prom-grpc-stable', models: [GRPC_MODEL], version: '1' },
  { kind: 'triton', host: '127.0.0.154', pod: 'prom-grpc-canary', service: 'prom-grpc-canary', models: [GRPC_MODEL], version: '2' },
  // Routed to by prom-unloaded, which it never loads: a model with no ready endpoint.
  { kind: 'tfserving', host: '127.0.0.152', pod: 'prom-empty', service: 'prom-empty', models: [], version: '5', onlyListedModels: true },
];

const resnetPolicy = (stableWeight: number): string => `model: ${MODEL}
server: triton
protocol: http
backends:
  - { name: stable, service: prom-stable, port: http, version: "1", weight: ${stableWeight} }
  - { name: canary, service: prom-canary, port: http, version: "2", weight: ${100 - stableWeight} }
timeout: 5s
retries: { attempts: 1, perTryTimeout: 2s, retryOn: [unavailable], backoff: { base: 5ms, max: 20ms } }`;

const POLICIES: Record<string, string> = {
  [MODEL]: resnetPolicy(50),
  [GRPC_MODEL]: `model: ${GRPC_MODEL}
server: triton
backends:
  - { name: stable, service: prom-grpc-stable, port: grpc, version: "1", weight: 50 }
  - { name: canary, service: prom-grpc-canary, port: grpc, version: "2", weight: 50 }
retries: { attempts: 1, perTryTimeout: 2s, retryOn: [unavailable], backoff: { base: 5ms, max: 20ms } }`,
  'prom-unloaded': `model: prom-unloaded
server: tfserving
protocol: http
backends: [{ name: main, service: prom-empty, port: http, version: "5" }]`,
  // Rejected: a backend with no service. Gives the policy-error and problem series something to show.
  'prom-broken': `model: prom-broken
server: triton
backends: [{ name: main, port: grpc }]`,
};

/** Both the Envoy and Prometheus lookups, so a missing one fails (or skips) the suite with its own hint. */
function tools(): Lookup<{ envoy: EnvoyBinary; prometheus: string }> {
  const envoy = newestEnvoy();
  if (!envoy.found) return envoy;
  const prometheus = prometheusBinary();
  if (!prometheus.found) return prometheus;
  return { found: true, value: { envoy: envoy.value, prometheus: prometheus.value } };
}

function describeSeries(series: readonly PromSeries[]): string {
  return series.map((s) => `${JSON.stringify(s.metric)} ${s.value}`).join('\n') || '(no series)';
}

/** Series, each carrying `labels`, at least one with a number (not NaN: a quantile of nothing, a ratio of 0/0). */
function expectData(what: string, series: readonly PromSeries[], labels: readonly string[]): void {
  expect(series.length, `${what}: no series`).toBeGreaterThan(0);
  for (const one of series) {
    for (const label of labels) expect(one.metric[label], `${what}: a series without ${label}:\n${describeSeries(series)}`).toBeTruthy();
  }
  expect(series.some((one) => Number.isFinite(one.value)), `${what}: only NaN/Inf:\n${describeSeries(series)}`).toBe(true);
}

describeWithTool('dashboards and recording rules against a real Prometheus', tools(), ({ envoy, prometheus: prometheusPath }) => {
  const failures = trackFailures();
  let mesh: Mesh | undefined;
  let sidecar: Sidecar | undefined;
  let prometheus: PrometheusProcess | undefined;
  let grpcClient: TritonClient | undefined;
  let traffic: Promise<void> | undefined;
  let grpcTraffic: Promise<void> | undefined;
  let stopTraffic = false;
  const outcomes = { ok: 0, failed: 0 };
  const grpcOutcomes = { ok: 0, failed: 0 };

  /** A Triton REST inference through the sidecar: the pod that answered, undefined on an error answer. */
  async function call(): Promise<string | undefined> {
    const response = await fetch(`${sidecar!.url}/v2/models/${MODEL}/infer`, { method: 'POST', body: '{"inputs":[]}', signal: AbortSignal.timeout(5_000) });
    const body = (await response.json().catch(() => ({}))) as { served_by?: string };
    return response.status === 200 ? body.served_by : undefined;
  }

  /** A ModelInfer of the gRPC model through the sidecar: the pod that answered, undefined on a gRPC error. */
  async function grpcCall(): Promise<string | undefined> {
    return (await tritonInfer(grpcClient!, GRPC_MODEL, { metadata: { 'x-model': GRPC_MODEL }, timeoutMs: 5_000 }).catch(() => undefined))?.pod;
  }

  /** ~20 gRPC calls a second until stopped. */
  async function grpcTrafficLoop(): Promise<void> {
    while (!stopTraffic) {
      if ((await grpcCall()) === undefined) grpcOutcomes.failed += 1;
      else grpcOutcomes.ok += 1;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** ~40 calls a second until stopped: rates and quantiles need traffic inside their 1m windows. */
  async function trafficLoop(): Promise<void> {
    while (!stopTraffic) {
      // A refused connection counts as a failed call too: the loop must not end with an unhandled rejection.
      if ((await call().catch(() => undefined)) === undefined) outcomes.failed += 1;
      else outcomes.ok += 1;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  beforeAll(async () => {
    mesh = await Mesh.start(PODS, POLICIES, undefined, { probeIntervalMs: 500 });
    sidecar = await Sidecar.start(mesh, envoy, `prom-${envoy.version}`);
    const statusPort = new URL(sidecar.envoy.statusUrl).port;
    prometheus = await PrometheusProcess.start(prometheusPath, [
      { job: 'infermesh', metricsPath: '/metrics', targets: [`127.0.0.1:${mesh.server.adminPort}`, `127.0.0.1:${sidecar.controlPlane.adminPort}`] },
      { job: 'infermesh-sidecar', metricsPath: '/stats/prometheus', targets: [`127.0.0.1:${statusPort}`] },
    ], [RULES_FILE]);
    // The sidecar loads the model's routes and clusters on the first call (on-demand): wait for both backends.
    const seen = new Set<string>();
    await eventually(async () => {
      const pod = await call();
      if (pod !== undefined) seen.add(pod);
      expect([...seen].sort()).toEqual(['prom-canary', 'prom-stable']);
    }, { timeoutMs: 15_000, intervalMs: 20 });
    grpcClient = createTritonClient(sidecar.authority);
    const seenGrpc = new Set<string>();
    await eventually(async () => {
      const pod = await grpcCall();
      if (pod !== undefined) seenGrpc.add(pod);
      expect([...seenGrpc].sort()).toEqual(['prom-grpc-canary', 'prom-grpc-stable']);
    }, { timeoutMs: 15_000, intervalMs: 20 });
    // A broken canary from here on: it answers 503 to every call; the sidecar retries once (retryOn:
    // unavailable), the client gets the 503, and outlier detection ejects the pod (5 consecutive errors).
    mesh.pod('prom-canary').setFailure({ kind: 'always' });
    // The gRPC canary fails every call with UNAVAILABLE in a trailers-only answer (HTTP 200).
    mesh.pod('prom-grpc-canary').setFailure({ kind: 'always' });
    traffic = trafficLoop();
    grpcTraffic = grpcTrafficLoop();
    // A change the sidecar uses: a convergence observation and a rollout going live. After Prometheus has
    // scraped every target once, so the convergence counter's step from 0 is in its data.
    await eventually(async () => expect((await prometheus!.query('up == 1')).length).toBe(3), { timeoutMs: 10_000, intervalMs: 200 });
    await mesh.writePolicy(MODEL, resnetPolicy(60));
    // Wait until the rules have seen traffic to both backends, errors included, and a convergence.
    await eventually(async () => {
      const split = await prometheus!.query(`model_backend_version:envoy_cluster_upstream_rq:rate1m{model="${MODEL}"} > 0`);
      expect(split.map((s) => `${s.metric['backend']} ${s.metric['version']}`).sort()).toEqual(['canary 2', 'stable 1']);
      expect(await prometheus!.query(`model_backend_version:envoy_cluster_upstream_rq_errors:ratio_rate1m{model="${MODEL}",backend="canary"} > 0`)).toHaveLength(1);
      expect(await prometheus!.query(`model_backend_version:envoy_cluster_upstream_rq_errors:ratio_rate1m{model="${GRPC_MODEL}",backend="canary"} > 0.9`)).toHaveLength(1);
      expect(await prometheus!.query('sum(increase(infermesh_model_convergence_seconds_count[1m])) > 0')).toHaveLength(1);
      // Envoy updates its histograms in /stats/prometheus at each stats flush (every 5 s), not per request.
      expect(await prometheus!.query(`model_backend_version:envoy_cluster_upstream_rq_time:p99_1m{model="${MODEL}"} >= 0`)).toHaveLength(2);
    }, { timeoutMs: 30_000, intervalMs: 500 });
  }, 60_000);

  afterAll(async () => {
    stopTraffic = true;
    await traffic?.catch(() => undefined);
    await grpcTraffic?.catch(() => undefined);
    grpcClient?.close();
    await prometheus?.stop(failures.failed);
    await sidecar?.stop(failures.failed);
    await mesh?.close();
  });

  it('scrapes the control plane replicas and the sidecar', async () => {
    const targets = await prometheus!.api<{ activeTargets: { labels: { job: string }; health: string; lastError: string }[] }>('/api/v1/targets');
    expect(targets.activeTargets.map((target) => `${target.labels.job} ${target.health} ${target.lastError}`).sort()).toEqual([
      'infermesh up ',
      'infermesh up ',
      'infermesh-sidecar up ',
    ]);
    expect(outcomes.ok).toBeGreaterThan(50);
    expect(grpcOutcomes.ok).toBeGreaterThan(20);
    expect(grpcOutcomes.failed).toBeGreaterThan(20);
  });

  it('loads every rule group and evaluates every rule, alerts included, without an error', async () => {
    const { recording, alerts } = readRules(RULES_FILE);
    const loaded = await prometheus!.api<{ groups: { name: string; rules: { name: string; type: string; health: string; lastError?: string }[] }[] }>('/api/v1/rules');
    const rules = loaded.groups.flatMap((group) => group.rules);
    expect(rules.filter((rule) => rule.type === 'recording').map((rule) => rule.name).sort()).toEqual(recording.map((rule) => rule.record).sort());
    expect(rules.filter((rule) => rule.type === 'alerting').map((rule) => rule.name).sort()).toEqual([...alerts].sort());
    expect(rules.filter((rule) => rule.health !== 'ok').map((rule) => `${rule.name}: ${rule.health} ${rule.lastError ?? ''}`)).toEqual([]);
  });

  it('every recording rule returns series with the labels its name promises', async () => {
    const { recording } = readRules(RULES_FILE);
    expect(recording.map((rule) => rule.record)).toEqual(expect.arrayContaining([
      'model_backend_version:envoy_cluster_upstream_rq:rate1m',
      'model_backend_version:envoy_cluster_upstream_rq_errors:ratio_rate1m',
      'model_backend_version:envoy_cluster_upstream_rq_time:p50_1m',
      'model_backend_version:envoy_cluster_upstream_rq_time:p99_1m',
      'model:envoy_cluster_upstream_rq:rate1m',
      'model:envoy_cluster_upstream_rq_errors:ratio_rate1m',
      'model:envoy_cluster_upstream_rq_time:p99_1m',
    ]));
    for (const rule of recording) {
      const series = await prometheus!.query(rule.record);
      expectData(rule.record, series, rule.labels);
      if (rule.labels.includes('model')) expect(series.map((s) => s.metric['model']), rule.record).toContain(MODEL);
      if (rule.labels.includes('version')) {
        const ofModel = series.filter((s) => s.metric['model'] === MODEL).map((s) => `${s.metric['backend']} ${s.metric['version']}`).sort();
        expect(ofModel, rule.record).toEqual(['canary 2', 'stable 1']);
      }
    }
  });

  it('the split, errors and latency are the traffic that happened', async () => {
    const byBackend = async (record: string) => new Map((await prometheus!.query(`${record}{model="${MODEL}"}`)).map((s) => [s.metric['backend'], s.value]));
    const errors = await byBackend('model_backend_version:envoy_cluster_upstream_rq_errors:ratio_rate1m');
    expect(errors.get('stable')).toBe(0);
    // The canary answered every call 503, retries too: 1, but for rate()'s extrapolation at the edges of the
    // window, which differs between series that started at other times. (Envoy counts the retried attempt's
    // 503 under retry_upstream_rq_xx only: a ratio over upstream_rq_total read 0.5 here.)
    expect(errors.get('canary')).toBeGreaterThan(0.9);
    expect(errors.get('canary')).toBeLessThan(1.1);
    const [modelErrors] = await prometheus!.query(`model:envoy_cluster_upstream_rq_errors:ratio_rate1m{model="${MODEL}"}`);
    expect(modelErrors!.value).toBeGreaterThan(0);
    expect(modelErrors!.value).toBeLessThan(errors.get('canary')!);
    // The gRPC canary's failures are HTTP 200 to Envoy's cluster stats (its 5xx ratio alone reads 0): the
    // rule reads them from the gRPC stats filter's grpc_failure / grpc_total.
    const grpcErrors = new Map((await prometheus!.query(`model_backend_version:envoy_cluster_upstream_rq_errors:ratio_rate1m{model="${GRPC_MODEL}"}`)).map((s) => [s.metric['backend'], s.value]));
    expect(grpcErrors.get('stable')).toBe(0);
    expect(grpcErrors.get('canary')).toBeGreaterThan(0.9);
    expect(grpcErrors.get('canary')).toBeLessThan(1.1);
    const [http5xx] = await prometheus!.query(`sum(rate(envoy_cluster_upstream_rq_xx{infermesh_model="${GRPC_MODEL}",infermesh_backend="canary",envoy_response_code_class="5"}[1m])) or vector(0)`);
    expect(http5xx!.value).toBe(0);
    const [grpcModelErrors] = await prometheus!.query(`model:envoy_cluster_upstream_rq_errors:ratio_rate1m{model="${GRPC_MODEL}"}`);
    expect(grpcModelErrors!.value).toBeGreaterThan(0);
    expect(grpcModelErrors!.value).toBeLessThan(grpcErrors.get('canary')!);
    const p50 = await byBackend('model_backend_version:envoy_cluster_upstream_rq_time:p50_1m');
    const p99 = await byBackend('model_backend_version:envoy_cluster_upstream_rq_time:p99_1m');
    for (const backend of ['stable', 'canary']) {
      expect(p50.get(backend)).toBeGreaterThanOrEqual(0);
      expect(p99.get(backend)).toBeGreaterThanOrEqual(p50.get(backend)!);
    }
  });

  describe.each(DASHBOARDS)('dashboards/%s', (file) => {
    const dashboard = readDashboard(path.join(MONITORING, 'dashboards', file));
    const variables = { model: MODEL };

    it('its label_values variables list the model', async () => {
      const wanted = file === 'infermesh-model.json' ? ['model'] : [];
      const found = labelValuesVariables(dashboard);
      expect(found.map((variable) => variable.name)).toEqual(wanted);
      for (const variable of found) {
        const values = await prometheus!.api<string[]>(`/api/v1/label/${variable.label}/values?match[]=${encodeURIComponent(variable.metric)}`);
        expect(values).toEqual(expect.arrayContaining([MODEL, 'prom-unloaded']));
      }
    });

    it('every panel query returns series with the labels its legend names', async () => {
      const queries = panelQueries(dashboard, variables);
      expect(queries.length).toBeGreaterThan(5);
      const problems: string[] = [];
      const check = async (query: PanelQuery) => {
        const what = `${query.panel} [${query.refId}]: ${query.expr}`;
        const series = await prometheus!.query(query.expr);
        expectData(what, series, query.labels);
        // A per-model panel shows that model and no other.
        if (query.expr.includes(`"${MODEL}"`)) expect(new Set(series.map((s) => s.metric['model'])), what).toEqual(new Set([MODEL]));
      };
      for (const query of queries) {
        try {
          await check(query);
        } catch (error) {
          problems.push((error as Error).message);
        }
      }
      expect(problems).toEqual([]);
    });
  });

  it('the panels name what is about to break: the rejected policy and the model nothing has loaded', async () => {
    const problems = await prometheus!.query('max by (model, problem) (infermesh_model_problem)');
    expect(problems.map((s) => `${s.metric['model']} ${s.metric['problem']}`)).toEqual(expect.arrayContaining(['prom-broken rejected', 'prom-unloaded no_ready_endpoints']));
    const unloaded = await prometheus!.query('max by (model, state) (infermesh_model_endpoints{model="prom-unloaded"}) > 0');
    expect(unloaded.map((s) => s.metric['state'])).toEqual(['not-loaded']);
    const models = new Map((await prometheus!.query('max by (state) (infermesh_models)')).map((s) => [s.metric['state'], s.value]));
    expect(models.get('rejected')).toBe(1);
  });
});
