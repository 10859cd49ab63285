import { hostname } from 'node:os';
import { createAdminServer, listenHttp } from '../admin/server.ts';
import { Controller } from '../controller/controller.ts';
import { loadEnvoyProtos } from '../envoy/protos.ts';
import { createLogger, type Logger } from '../logging/logger.ts';
import { createMetrics } from '../metrics/metrics.ts';
import type { MeshSettings } from '../model/types.ts';
import { ResourceCodec } from '../snapshot/codec.ts';
import { FolderSource } from '../sources/folder.ts';
import { XdsServer } from '../xds/server.ts';
import { SnapshotStore } from '../xds/snapshot-store.ts';
import { SETTINGS_HELP, SETTINGS_OPTIONS, settingsFromFlags } from './settings.ts';
import { UsageError, parseCommandArgs } from './usage.ts';

const HELP = `Usage: infermesh serve --config-dir DIR [options]

Serves xDS (ADS, state of the world) to Envoy sidecars and proxyless gRPC clients, from a folder of
Kubernetes YAML (policy ConfigMaps and EndpointSlices) that is watched for changes.

Options:
  --config-dir DIR        folder of policy ConfigMaps and EndpointSlices ("a cluster in a folder")
  --kubeconfig FILE       read from a Kubernetes API server instead (not available yet)
  --namespace NS          limit to namespaces (repeatable; Kubernetes mode)
  --xds-address H:P       ADS gRPC address (default 0.0.0.0:18000)
  --admin-address H:P     /metrics, /healthz, /readyz, /status (default 0.0.0.0:9090)
  --log-level LEVEL       trace|debug|info|warn|error (default info, or $LOG_LEVEL)
${SETTINGS_HELP}`;

export interface RunningServer {
  xdsPort: number;
  adminPort: number;
  controller: Controller;
  store: SnapshotStore;
  xds: XdsServer;
  close(): Promise<void>;
}

export interface ServeOptions {
  configDir: string;
  xdsAddress: string;
  adminAddress: string;
  settings: MeshSettings;
  logger: Logger;
  holdoffMs?: number;
}

/** Starts the whole control plane; used by the CLI, the demo and end-to-end tests alike. */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const { logger, settings } = options;
  const root = loadEnvoyProtos();
  const metrics = createMetrics({ processMetrics: true });
  const store = new SnapshotStore();
  const controller = new Controller({
    source: new FolderSource(options.configDir),
    store,
    codec: new ResourceCodec(root),
    settings,
    logger,
    metrics,
    ...(options.holdoffMs !== undefined ? { holdoffMs: options.holdoffMs } : {}),
  });
  const xds = new XdsServer({ root, snapshots: store, logger, metrics, controlPlaneId: `infermesh@${hostname()}` });
  const admin = createAdminServer({ registry: metrics.registry, status: () => controller.status() });
  const adminAddress = await listenHttp(admin, options.adminAddress);
  // Streams may connect before the first read finishes: they wait, and get nothing partial.
  const xdsPort = await xds.listen(options.xdsAddress);
  await controller.start();
  logger.info({ xds: `${options.xdsAddress.replace(/:\d+$/, '')}:${xdsPort}`, admin: `${adminAddress.address}:${adminAddress.port}`, configDir: options.configDir, snapshot: controller.status().snapshotVersion }, 'infermesh serving');
  return {
    xdsPort,
    adminPort: adminAddress.port,
    controller,
    store,
    xds,
    async close() {
      controller.stop();
      await xds.close(2_000);
      await new Promise<void>((resolve) => admin.close(() => resolve()));
      admin.closeAllConnections();
    },
  };
}

export async function serveCommand(argv: string[], out: NodeJS.WritableStream, _err: NodeJS.WritableStream): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      'config-dir': { type: 'string' },
      kubeconfig: { type: 'string' },
      namespace: { type: 'string', multiple: true },
      'xds-address': { type: 'string', default: '0.0.0.0:18000' },
      'admin-address': { type: 'string', default: '0.0.0.0:9090' },
      'log-level': { type: 'string' },
      ...SETTINGS_OPTIONS,
    },
    HELP,
  );
  if (values.help) {
    out.write(HELP);
    return 0;
  }
  if (values.kubeconfig) throw new UsageError('--kubeconfig (Kubernetes mode) is not available in this release; use --config-dir', HELP);
  if (!values['config-dir']) throw new UsageError('--config-dir is required', HELP);
  const logger = createLogger(values['log-level']);
  const server = await startServer({
    configDir: values['config-dir'],
    xdsAddress: values['xds-address'],
    adminAddress: values['admin-address'],
    settings: settingsFromFlags(values),
    logger,
  });
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  return 0;
}
