import { constants, hostname } from 'node:os';
import { createAdminServer, listenHttp } from '../admin/server.ts';
import { Controller } from '../controller/controller.ts';
import type { KubernetesChoice, SourceParts } from '../kube/serve-source.ts';
import { loadEnvoyProtos } from '../envoy/protos.ts';
import { LOG_FORMATS, createLogger, isLogFormat, type LogFormat, type Logger } from '../logging/logger.ts';
import { createMetrics, type Metrics } from '../metrics/metrics.ts';
import { ModelProblemsGauge, rolloutProblems } from '../metrics/model-problems.ts';
import type { MeshSettings } from '../model/types.ts';
import { ResourceCodec } from '../snapshot/codec.ts';
import { FolderSource } from '../sources/folder.ts';
import { RolloutTracker, type ModelRollout } from '../xds/rollout.ts';
import { XdsServer } from '../xds/server.ts';
import { SnapshotStore } from '../xds/snapshot-store.ts';
import { SETTINGS_HELP, SETTINGS_OPTIONS, settingsFromFlags } from './settings.ts';
import { UsageError, parseCommandArgs } from './usage.ts';
import { XDS_LIMIT_HELP, XDS_LIMIT_OPTIONS, xdsLimitsFromFlags } from './xds-limit-flags.ts';
import { XDS_TLS_HELP, XDS_TLS_OPTIONS, xdsTlsFromFlags } from './xds-tls-flags.ts';
import { xdsTlsCredentials, type XdsTlsFiles } from '../xds/tls-credentials.ts';
import type { XdsLimits } from '../xds/stream-limits.ts';
import { Prober } from '../probe/prober.ts';
import { ColdStartHolds } from '../coldstart/holds.ts';
import { extProcService } from '../coldstart/ext-proc.ts';
import { proxySyncIndex } from '../coldstart/proxy-sync.ts';
import { COLD_START_HELP, COLD_START_OPTIONS, coldStartLimitsFromFlags, type ColdStartLimits } from './cold-start-flags.ts';
import { DEFAULT_PROBE_SETTINGS, PROBE_HELP, PROBE_OPTIONS, probeSettingsFromFlags, type ProbeSettings } from './probe-flags.ts';

const HELP = `Usage: infermesh serve (--config-dir DIR | --kubeconfig FILE | in a pod) [options]

Serves xDS (ADS, state of the world) to Envoy sidecars and proxyless gRPC clients from policy ConfigMaps
and EndpointSlices: read from a folder of Kubernetes YAML (watched for changes), or from the Kubernetes API
(--kubeconfig, or the pod's service account when run in a cluster without either flag).

Options:
  --config-dir DIR        folder of policy ConfigMaps and EndpointSlices ("a cluster in a folder")
  --kubeconfig FILE       read from the Kubernetes API server this kubeconfig names
  --namespace NS          watch only these namespaces (repeatable; default all)
  --no-events             do not write Kubernetes Events (rejected policies, models without ready endpoints)
  --xds-address H:P       ADS gRPC address (default 0.0.0.0:18000)
  --admin-address H:P     /metrics, /healthz, /readyz, /status (default 0.0.0.0:9090)
  --log-level LEVEL       trace|debug|info|warn|error (default info, or $LOG_LEVEL)
  --log-format FORMAT     json (one JSON object per line, for a log pipeline) or pretty (one human line
                          per event, for a terminal) (default json, or $LOG_FORMAT)
${XDS_TLS_HELP}${XDS_LIMIT_HELP}${COLD_START_HELP}${PROBE_HELP}${SETTINGS_HELP}`;

export type SourceChoice = { kind: 'folder'; dir: string } | KubernetesChoice;

export interface RunningServer {
  xdsPort: number;
  adminPort: number;
  controller: Controller;
  store: SnapshotStore;
  xds: XdsServer;
  metrics: Metrics;
  /** Each model's latest change and where it is live, pending or refused (evaluated now). */
  rollout(): ModelRollout[];
  close(): Promise<void>;
}

export interface ServeOptions {
  source: SourceChoice;
  xdsAddress: string;
  adminAddress: string;
  settings: MeshSettings;
  logger: Logger;
  holdoffMs?: number;
  /** Limits on what one xDS client may cost (README, "Limits on the xDS port"); unset ones default. */
  xdsLimits?: Partial<XdsLimits>;
  /** Asking model servers which models each pod has loaded (default on, every 5s). */
  probes?: Partial<ProbeSettings>;
  /** TLS (mTLS with clientCaFile) on the xDS port; plain text without it. */
  xdsTls?: XdsTlsFiles;
  /** Bounds on coldStart holds (README, "Hold while a model has no ready pod"); unset ones default. */
  coldStart?: Partial<ColdStartLimits>;
}

/**
 * The Kubernetes client is loaded only when the source is Kubernetes: importing it costs ~75 MB of RSS,
 * which a `serve --config-dir` process (the quick start, the tests) never needs.
 */
async function sourceParts(options: ServeOptions, metrics: Metrics): Promise<SourceParts> {
  if (options.source.kind === 'folder') return { source: new FolderSource(options.source.dir), start() {}, stop() {} };
  const { kubernetesParts } = await import('../kube/serve-source.ts');
  return kubernetesParts(options.source, options.settings, options.logger, metrics);
}

/** Starts the whole control plane; used by the CLI, the demo and end-to-end tests alike. */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const { logger, settings } = options;
  const root = loadEnvoyProtos();
  const metrics = createMetrics({ processMetrics: true });
  const store = new SnapshotStore();
  const parts = await sourceParts(options, metrics);
  const tracker = new RolloutTracker({
    routeNames: [settings.grpcTarget],
    observer: {
      converged: (seconds) => metrics.convergenceSeconds.observe(seconds),
      states: (counts) => Object.entries(counts).forEach(([state, count]) => metrics.rollout.set({ state }, count)),
    },
  });
  let xds: XdsServer | undefined;
  const holds = new ColdStartHolds({
    ...options.coldStart,
    proxySync: () => proxySyncIndex(xds?.streams() ?? []),
    onHeldCount: (model, count) => (count > 0 ? metrics.coldStartHeld.set({ model }, count) : metrics.coldStartHeld.remove({ model })),
    onEnd: (result) => {
      if (result.outcome !== 'not_held') metrics.coldStartHoldSeconds.observe({ model: result.model ?? '', outcome: result.outcome }, result.waitedMs / 1000);
    },
  });
  let evaluation: NodeJS.Timeout | undefined;
  let closing = false;
  const problems = new ModelProblemsGauge(metrics.modelProblem);
  const rollout = () => {
    const rollouts = tracker.evaluate(xds?.streams() ?? []);
    problems.record(rolloutProblems(rollouts));
    holds.observeRollouts(rollouts);
    return rollouts;
  };
  // Many ACKs arrive together after a push: evaluate once per burst, not once per ACK. Streams closing
  // during shutdown must not arm a new timer after close() has cleared the last one.
  const evaluateSoon = () => {
    if (closing) return;
    evaluation ??= setTimeout(() => {
      evaluation = undefined;
      rollout();
    }, 20);
  };
  const probeSettings = { ...DEFAULT_PROBE_SETTINGS, ...options.probes };
  const prober = probeSettings.enabled
    ? new Prober({ intervalMs: probeSettings.intervalMs, timeoutMs: probeSettings.timeoutMs, concurrency: probeSettings.concurrency, metrics, logger: logger.child({ component: 'probe' }) })
    : undefined;
  const controller = new Controller({
    ...(prober ? { readiness: prober } : {}),
    source: parts.source,
    store,
    codec: new ResourceCodec(root),
    settings,
    logger,
    metrics,
    ...(parts.onProblems ? { onProblems: parts.onProblems } : {}),
    ...(parts.onEndpoints ? { onEndpoints: parts.onEndpoints } : {}),
    onPublish: (snapshot, changed, current) => {
      tracker.recordSnapshot(changed.map((change) => ({ ...change, sequence: snapshot.sequence })), current);
      rollout();
    },
    ...(options.holdoffMs !== undefined ? { holdoffMs: options.holdoffMs } : {}),
    onServed: (models, sequence) => holds.observeModels(models, sequence),
  });
  const controlPlaneId = `infermesh@${hostname()}`;
  const nackCauses = (after: number, through: number) => tracker.changesBetween(after, through).map((change) => ({ model: change.model, ...(change.source ? { source: `${change.source.namespace}/${change.source.configMap} key "${change.source.key}"` } : {}) }));
  const server = new XdsServer({ root, snapshots: store, logger, metrics, controlPlaneId, onSyncChange: evaluateSoon, nackCauses, services: [extProcService({ root, holds, modelHeader: settings.modelHeader, versionHeader: settings.versionHeader, logger: logger.child({ component: 'cold-start' }) })], ...(options.xdsLimits ? { limits: options.xdsLimits } : {}) });
  xds = server;
  // Rollout counts the proxies connected to this replica only: `infermesh status --model` merges every replica.
  const admin = createAdminServer({ registry: metrics.registry, status: () => ({ ...controller.status(), replica: controlPlaneId, scope: 'this replica', rollout: rollout() }) });
  const adminAddress = await listenHttp(admin, options.adminAddress);
  // Streams may connect before the first complete read: they wait, and get nothing partial. /readyz stays
  // unready meanwhile.
  const tls = options.xdsTls
    ? xdsTlsCredentials(options.xdsTls, (event) => event.kind === 'reloaded' ? logger.info({ certificate: event.certificate }, 'xDS TLS certificate reloaded') : logger.warn({ reason: event.reason }, 'xDS TLS files changed but cannot be used: keeping the last good certificate'))
    : undefined;
  const xdsPort = await server.listen(options.xdsAddress, tls?.credentials).catch((error: unknown) => {
    tls?.close();
    throw error;
  });
  if (tls) logger.info({ certificate: tls.certificate(), clientCertificates: tls.clientCertificateRequired ? 'required' : 'not asked for' }, 'xDS port serves TLS');
  parts.start();
  const started = controller.start();
  const close = async () => {
    closing = true;
    parts.stop();
    controller.stop();
    prober?.close();
    if (evaluation) clearTimeout(evaluation);
    // Held requests go on (as with no hold) before the port closes under their streams.
    holds.close();
    // close() alone waits for every open connection, and a keep-alive scraper may never close its own.
    const adminClosed = new Promise<void>((resolve) => admin.close(() => resolve()));
    admin.closeAllConnections();
    await Promise.all([server.close(2_000), adminClosed]);
    tls?.close();
  };
  const where = options.source.kind === 'folder' ? { configDir: options.source.dir } : { kubernetes: options.source.kubeconfig ?? 'in-cluster', namespaces: options.source.namespaces };
  void started.then(() => logger.info({ xds: `${options.xdsAddress.replace(/:\d+$/, '')}:${xdsPort}`, admin: `${adminAddress.address}:${adminAddress.port}`, ...where, snapshot: controller.status().snapshotVersion }, 'infermesh serving'));
  // A folder is read at once; a cluster may take a while to list, and serving /healthz meanwhile matters.
  if (options.source.kind === 'folder') await started;
  return { xdsPort, adminPort: adminAddress.port, controller, store, xds: server, metrics, rollout, close };
}

export async function serveCommand(argv: string[], out: NodeJS.WritableStream, _err: NodeJS.WritableStream): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      'config-dir': { type: 'string' },
      kubeconfig: { type: 'string' },
      namespace: { type: 'string', multiple: true },
      'no-events': { type: 'boolean' },
      'xds-address': { type: 'string', default: '0.0.0.0:18000' },
      'admin-address': { type: 'string', default: '0.0.0.0:9090' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      ...SETTINGS_OPTIONS,
      ...XDS_LIMIT_OPTIONS,
      ...XDS_TLS_OPTIONS,
      ...PROBE_OPTIONS,
      ...COLD_START_OPTIONS,
    },
    HELP,
  );
  if (values.help) {
    out.write(HELP);
    return 0;
  }
  if (values['config-dir'] && values.kubeconfig) throw new UsageError('give either --config-dir or --kubeconfig, not both', HELP);
  const source: SourceChoice = values['config-dir']
    ? { kind: 'folder', dir: values['config-dir'] }
    : { kind: 'kubernetes', ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}), namespaces: values.namespace ?? [], events: !values['no-events'] };
  const logger = createLogger(values['log-level'], undefined, logFormat(values['log-format']));
  const server = await startServer({
    source,
    xdsAddress: values['xds-address'],
    adminAddress: values['admin-address'],
    settings: settingsFromFlags(values),
    xdsLimits: xdsLimitsFromFlags(values),
    probes: usage(() => probeSettingsFromFlags(values)),
    coldStart: usage(() => coldStartLimitsFromFlags(values)),
    ...tlsOption(values),
    logger,
  });
  await firstSignal(logger);
  // The backstop, should a client or a leaked handle hold the process past close(): unref'd, so it fires
  // only if something still keeps the event loop alive by then.
  const started = Date.now();
  let closed = false;
  setTimeout(() => {
    logger.error({ afterMs: Date.now() - started, closed }, 'shutdown deadline passed with work still open; exiting');
    process.exit(1);
  }, SHUTDOWN_DEADLINE_MS).unref();
  await server.close();
  closed = true;
  return 0;
}

const SHUTDOWN_DEADLINE_MS = 10_000;

function logFormat(flag: string | undefined): LogFormat {
  const [value, origin] = flag !== undefined ? [flag, '--log-format'] : [process.env['LOG_FORMAT'] ?? 'json', 'LOG_FORMAT'];
  if (!isLogFormat(value)) throw new UsageError(`${origin} must be one of ${LOG_FORMATS.join(', ')}, not "${value}"`, HELP);
  return value;
}

function usage<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    throw new UsageError((error as Error).message, HELP);
  }
}

function tlsOption(values: Parameters<typeof xdsTlsFromFlags>[0]): { xdsTls?: XdsTlsFiles } {
  try {
    const xdsTls = xdsTlsFromFlags(values);
    return xdsTls ? { xdsTls } : {};
  } catch (error) {
    throw new UsageError((error as Error).message, HELP);
  }
}

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once, with 128 + its number as shells do. */
function firstSignal(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    let received = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (received) {
        logger.warn({ signal }, 'second signal: exiting without finishing shutdown');
        process.exit(128 + constants.signals[signal]);
      }
      received = true;
      logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
