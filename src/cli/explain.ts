import { stringify } from 'yaml';
import { EMPTY_LAST_GOOD, reconcileWorld } from '../controller/reconcile.ts';
import { loadEnvoyProtos } from '../envoy/protos.ts';
import { explainModel, type Explanation } from '../explain/explain.ts';
import { silentLogger } from '../logging/logger.ts';
import { ResourceCodec } from '../snapshot/codec.ts';
import { readFolder } from '../sources/folder.ts';
import type { SourceWorld } from '../sources/types.ts';
import { SETTINGS_HELP, SETTINGS_OPTIONS, settingsFromFlags } from './settings.ts';
import { formatTable } from '../util/table.ts';
import { parseDuration } from '../util/duration.ts';
import { baseUrl } from '../inspect/fetch.ts';
import { readLiveReadiness } from '../explain/live-readiness.ts';
import type { ExplainedEndpoint } from '../explain/explain.ts';
import { UsageError, parseCommandArgs } from './usage.ts';

const HELP = `Usage: infermesh explain --model M [--version V] (--config-dir DIR | --kubeconfig FILE) [--server HOST:PORT] [-o text|json|yaml]

Shows how a request with x-model: M (and x-model-version: V) is routed: the route that matches, its clusters
and weights, their endpoints, and every effective timeout / retry / outlier / circuit-breaker setting with
where it came from (policy, namespace defaults, global defaults, built-in), probe.enabled and probe.port
included.

Which endpoints have the model loaded is known only to a running control plane (it probes the model
servers; explain does not): with --server, each endpoint's state from its /status: ready, loading,
not-loaded, probe-failing (the pod does not answer its probes), unprobed (probing off, or no answer yet:
routes by pod readiness) or draining, with the model server's own reason.

Options:
  --model M               the x-model value (a model name or an alias)
  --version V             the x-model-version value
  --config-dir DIR        read a folder of Kubernetes YAML
  --kubeconfig FILE       read from a Kubernetes API server
  --namespace NS          with --kubeconfig: only these namespaces (repeatable)
  --server HOST:PORT      infermesh serve's admin address (--admin-address), for each endpoint's readiness
  --timeout DURATION      how long to wait for --server (default 5s)
  -o, --output FORMAT     text (default), json or yaml
${SETTINGS_HELP}`;

async function readKubernetes(kubeconfig: string, namespaces: string[], controlPlaneNamespace: string): Promise<SourceWorld> {
  const [{ loadKubeConfig }, { KubernetesSource }] = await Promise.all([import('../kube/kube-config.ts'), import('../kube/source.ts')]);
  const source = new KubernetesSource({ config: loadKubeConfig(kubeconfig), namespaces, controlPlaneNamespace, logger: silentLogger(), backoff: { minMs: 200, maxMs: 2_000 } });
  source.start();
  try {
    return await source.read();
  } finally {
    source.close();
  }
}

function endpointLine(endpoint: ExplainedEndpoint): string {
  const state = endpoint.state === undefined ? '' : `${endpoint.state.replace('-', ' ')}${endpoint.reason ? `: ${endpoint.reason}` : ''}${endpoint.fallback ? ` (${endpoint.fallback})` : ''}`;
  const where = [endpoint.pod, endpoint.zone].filter((x) => x !== undefined).join(' ');
  return `  ${endpoint.address.padEnd(22)} ${endpoint.health.padEnd(9)} ${where.padEnd(endpoint.state === undefined ? 0 : 12)} ${state}`.trimEnd();
}

function text(explanation: Explanation): string {
  const lines = [
    `model      ${explanation.model} (${explanation.state})  from ${explanation.source ?? '-'}`,
    `request    ${Object.entries(explanation.requested.header).map(([k, v]) => `${k}: ${v}`).join(', ')}`,
    `route      ${explanation.route.name}: ${explanation.route.outcome}`,
    ...explanation.problems.map((problem) => `problem    ${problem}`),
    '',
  ];
  for (const backend of explanation.backends) {
    lines.push(`${backend.cluster}${backend.share ? `  weight ${backend.weight} (${backend.share})` : ''}`);
    if (backend.endpoints.length === 0) lines.push('  (no ready endpoints)');
    for (const endpoint of backend.endpoints) lines.push(endpointLine(endpoint));
  }
  lines.push('', `readiness  ${explanation.readiness}`);
  return `${lines.join('\n')}\n\n${formatTable(['SETTING', 'VALUE', 'FROM'], explanation.settings.map((s) => [s.field, s.value, s.from]))}`;
}

export async function explainCommand(argv: string[], out: NodeJS.WritableStream, _err: NodeJS.WritableStream): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      model: { type: 'string' },
      version: { type: 'string' },
      'config-dir': { type: 'string' },
      kubeconfig: { type: 'string' },
      namespace: { type: 'string', multiple: true },
      output: { type: 'string', short: 'o', default: 'text' },
      server: { type: 'string' },
      timeout: { type: 'string', default: '5s' },
      ...SETTINGS_OPTIONS,
    },
    HELP,
  );
  if (values.help) {
    out.write(HELP);
    return 0;
  }
  if (!values.model) throw new UsageError('--model is required', HELP);
  if (!values['config-dir'] === !values.kubeconfig) throw new UsageError('give exactly one of --config-dir or --kubeconfig', HELP);
  if (!['text', 'json', 'yaml'].includes(values.output)) throw new UsageError(`-o ${values.output}: choose text, json or yaml`, HELP);
  const server = values.server === undefined ? undefined : baseUrl(values.server);
  if (values.server !== undefined && !server) throw new UsageError(`--server "${values.server}" is not HOST:PORT or an http(s) URL`, HELP);
  const timeout = parseDuration(values.timeout);
  if (!timeout.ok) throw new UsageError(`--timeout: ${timeout.message}`, HELP);
  const settings = settingsFromFlags(values);
  const world = values['config-dir'] ? await readFolder(values['config-dir']) : await readKubernetes(values.kubeconfig ?? '', values.namespace ?? [], settings.controlPlaneNamespace);
  const result = reconcileWorld(world, EMPTY_LAST_GOOD, new ResourceCodec(loadEnvoyProtos()), settings);
  const live = server ? { from: values.server ?? '', models: await readLiveReadiness(server, Math.max(1, timeout.ms)) } : undefined;
  const explanation = explainModel(result, settings, values.model, values.version, live);
  if (values.output === 'json') out.write(`${JSON.stringify(explanation, null, 2)}\n`);
  else if (values.output === 'yaml') out.write(stringify(explanation));
  else out.write(text(explanation));
  return 0;
}
