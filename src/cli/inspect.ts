import { InspectError, baseUrl, readControlPlane, readSidecar, showBase, type HttpOptions } from '../inspect/fetch.ts';
import { OUTPUT_FORMATS, type OutputFormat, renderView } from '../inspect/render.ts';
import { buildView, selectModel, type InspectView } from '../inspect/view.ts';
import { watchLoop } from '../inspect/watch.ts';
import { formatDuration, parseDuration } from '../util/duration.ts';
import { nearest } from '../util/suggest.ts';
import { UsageError, parseCommandArgs } from './usage.ts';

const HELP = `Usage: infermesh inspect --admin URL [--model M] [--server HOST:PORT] [--watch [--interval 2s]] [-o table|json|yaml]

What one Envoy sidecar is doing, from its admin API: per model and backend the endpoints (healthy/total,
ejected by outlier detection, failing active health checks), requests, 5xx, retries, timeouts and upstream
latency p50/p99 since the sidecar started, and the config version it runs per xDS type (CDS, EDS, LDS, RDS).
With --server, also the control plane's snapshot, each model's policy state and rollout there, flagging
models one side has and the other lacks, and naming this sidecar when the rollout waits for it or it refused
a model. Issue codes: missing-on-sidecar, unknown-to-control-plane, pending-on-sidecar, rejected-by-sidecar,
no-healthy-endpoints, endpoints-ejected, endpoints-failing-health-checks, config-rejected, not-live.
The admin API listens on the pod's loopback, so forward it first:

  kubectl port-forward pod/NAME 9901 &
  infermesh inspect --admin http://127.0.0.1:9901 --server localhost:9090

Options:
  --admin URL            the sidecar's Envoy admin API, e.g. http://127.0.0.1:9901 (required)
  --model M              only model M, with each of its endpoints
  --server HOST:PORT     infermesh's admin address (serve --admin-address), to compare with its /status
  --watch                redraw every --interval until Ctrl-C
  --interval DURATION    time between redraws with --watch (default 2s)
  --timeout DURATION     limit for each HTTP request (default 5s)
  -o, --output FORMAT    table (default), json or yaml, with these fields (stable for scripts):
      admin, sidecar {nodeId, nodeCluster, envoyVersion, state, uptimeSeconds, statsFormat, onDemand},
      configVersions {cds, eds, lds, rds: {version, resources, lastUpdated, rejected {version, details}}},
      controlPlane {address, ready, snapshotVersion} | null,
      models [{model, onSidecar,
               controlPlane {states, problems, sources, rollout, sidecar {state, type, version, error}} | null,
               backends [{backend, cluster,
                          endpoints {total, healthy, ejected, failingHealthChecks, degraded, draining},
                          requests, responses5xx, retries, timeouts, latencyMs {p50, p99},
                          hosts [{address, health, requests, activeRequests}]}],
               issues [{code, message}]}],
      issues [{code, message}]

Exit 0 on success, 1 when an admin API cannot be reached, answers an error or is not Envoy (or, with
--model, the sidecar lacks that model), 2 on usage errors.
`;

const OPTIONS = {
  admin: { type: 'string' },
  model: { type: 'string' },
  server: { type: 'string' },
  watch: { type: 'boolean' },
  interval: { type: 'string' },
  timeout: { type: 'string' },
  output: { type: 'string', short: 'o' },
} as const;

/** What tests replace: the HTTP client, the terminal check, the stop signal and the wait between frames. */
export interface InspectDeps {
  fetch?: typeof fetch;
  isTTY?: boolean;
  /** Ends --watch; by default the first SIGINT aborts it. */
  stop?: AbortSignal;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  now?: () => Date;
}

interface InspectSettings {
  admin: URL;
  server: URL | undefined;
  model: string | undefined;
  format: OutputFormat;
  watchMs: number | undefined;
  http: HttpOptions;
}

function durationFlag(name: string, value: string | undefined, fallback: string, minimumMs: number): number {
  const parsed = parseDuration(value ?? fallback);
  if (!parsed.ok) throw new UsageError(`--${name}: ${parsed.message}`, HELP);
  if (parsed.ms < minimumMs) throw new UsageError(`--${name} must be at least ${minimumMs}ms`, HELP);
  return parsed.ms;
}

function settingsFrom(argv: string[]): InspectSettings | 'help' {
  const { values, positionals } = parseCommandArgs(argv, OPTIONS, HELP, true);
  if (values.help) return 'help';
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"; give the sidecar as --admin URL`, HELP);
  if (values.admin === undefined) throw new UsageError("--admin is required: the sidecar's Envoy admin API, e.g. --admin http://127.0.0.1:9901 after kubectl port-forward pod/NAME 9901", HELP);
  const admin = baseUrl(values.admin);
  if (!admin) throw new UsageError(`--admin "${values.admin}" is not an http(s) URL such as http://127.0.0.1:9901`, HELP);
  const server = values.server === undefined ? undefined : baseUrl(values.server);
  if (values.server !== undefined && (!server || server.port === '')) throw new UsageError(`--server "${values.server}" is not HOST:PORT, e.g. localhost:9090`, HELP);
  const format = OUTPUT_FORMATS.find((valid) => valid === (values.output ?? 'table'));
  if (format === undefined) {
    const given = values.output ?? '';
    const close = nearest(given, OUTPUT_FORMATS);
    throw new UsageError(`-o "${given}" is not an output format; valid: ${OUTPUT_FORMATS.join(', ')}${close ? ` (did you mean ${close}?)` : ''}`, HELP);
  }
  if (values.interval !== undefined && !values.watch) throw new UsageError('--interval applies only with --watch', HELP);
  if (values.model === '') throw new UsageError('--model must not be empty', HELP);
  return {
    admin,
    server,
    model: values.model,
    format,
    watchMs: values.watch ? durationFlag('interval', values.interval, '2s', 100) : undefined,
    http: { timeoutMs: durationFlag('timeout', values.timeout, '5s', 1) },
  };
}

/** Reads the sidecar (and the control plane) once and joins them. InspectError when either cannot be read. */
async function inspectOnce(settings: InspectSettings): Promise<InspectView> {
  const [answers, status] = await Promise.all([
    readSidecar(settings.admin, settings.http),
    settings.server ? readControlPlane(settings.server, settings.http) : Promise.resolve(undefined),
  ]);
  const controlPlane = settings.server && status ? { address: settings.server.host, status } : undefined;
  const view = buildView(showBase(settings.admin), answers, controlPlane);
  if (settings.model === undefined) return view;
  const selected = selectModel(view, settings.model);
  if ('error' in selected) throw new InspectError(selected.error);
  return selected.view;
}

/** The given stop signal, or one the first Ctrl-C aborts (dispose removes that handler). */
function stopSignal(given: AbortSignal | undefined): { signal: AbortSignal; dispose: () => void } {
  if (given) return { signal: given, dispose: () => {} };
  const controller = new AbortController();
  const onInterrupt = () => controller.abort();
  process.once('SIGINT', onInterrupt);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', onInterrupt) };
}

export async function inspectCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream, deps: InspectDeps = {}): Promise<number> {
  let settings: InspectSettings | 'help';
  try {
    settings = settingsFrom(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    err.write(`infermesh inspect: ${error.message}\n\n${error.help}`);
    return 2;
  }
  if (settings === 'help') {
    out.write(HELP);
    return 0;
  }
  const chosen: InspectSettings = { ...settings, http: { ...settings.http, ...(deps.fetch ? { fetch: deps.fetch } : {}) } };
  if (chosen.watchMs === undefined) {
    try {
      out.write(renderView(await inspectOnce(chosen), chosen.format));
      return 0;
    } catch (error) {
      if (!(error instanceof InspectError)) throw error;
      err.write(`infermesh inspect: ${error.message}\n`);
      return 1;
    }
  }
  const stop = stopSignal(deps.stop);
  const watched: InspectSettings = { ...chosen, http: { ...chosen.http, signal: stop.signal } };
  const now = deps.now ?? (() => new Date());
  const intervalMs = chosen.watchMs;
  const frame = async () => {
    const stamp = `=== ${now().toISOString().replace(/\.\d+Z$/, 'Z')}  every ${formatDuration(intervalMs)}, Ctrl-C to stop\n\n`;
    try {
      const text = renderView(await inspectOnce(watched), chosen.format);
      return chosen.format === 'table' ? stamp + text : text;
    } catch (error) {
      if (!(error instanceof InspectError)) throw error;
      if (chosen.format === 'table') return `${stamp}infermesh inspect: ${error.message}\n`;
      // Machine output stays parseable: the failure goes to stderr and this frame is skipped.
      err.write(`infermesh inspect: ${error.message}\n`);
      return '';
    }
  };
  try {
    await watchLoop({
      intervalMs,
      frame,
      write: (text) => out.write(text),
      clear: deps.isTTY ?? ('isTTY' in out && out.isTTY === true),
      // Tables: a blank line, then the next frame's === header; YAML: a document marker; JSON: nothing (jq reads a stream).
      separator: { table: '\n', yaml: '---\n', json: '' }[chosen.format],
      stop: stop.signal,
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
    });
  } finally {
    stop.dispose();
  }
  return 0;
}

