import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { ControllerOptions, WorldSource } from '../controller/controller.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { MeshSettings } from '../model/types.ts';
import { EVENTS_LEASE_NAME } from './api-usage.ts';
import { kubernetesEventSink } from './event-sink.ts';
import { PolicyEventRecorder } from './events.ts';
import { ReadinessEventRecorder } from './readiness-events.ts';
import { loadKubeConfig } from './kube-config.ts';
import { LeaseElector } from './leader.ts';
import { KubernetesSource } from './source.ts';

/** `serve` reading from the Kubernetes API: the kubeconfig (or in-cluster), namespaces, and whether to write Events. */
export interface KubernetesChoice {
  kind: 'kubernetes';
  kubeconfig?: string;
  namespaces: readonly string[];
  events: boolean;
  identity?: string;
  leaseRenewMs?: number;
}

/** Where `serve` reads the world from, with what runs beside it (the Events leader election). */
export interface SourceParts {
  source: WorldSource;
  onProblems?: ControllerOptions['onProblems'];
  onEndpoints?: ControllerOptions['onEndpoints'];
  start(): void;
  stop(): void;
}

/** The informers, and when Events are on, the lease election and the recorder that writes them. */
export function kubernetesParts(choice: KubernetesChoice, settings: MeshSettings, logger: Logger, metrics: Metrics): SourceParts {
  const config = loadKubeConfig(choice.kubeconfig);
  const source = new KubernetesSource({ config, namespaces: choice.namespaces, controlPlaneNamespace: settings.controlPlaneNamespace, logger });
  const identity = choice.identity ?? process.env['POD_NAME'] ?? hostname();
  const elector = choice.events
    ? new LeaseElector({ config, namespace: settings.controlPlaneNamespace, name: EVENTS_LEASE_NAME, identity, logger, ...(choice.leaseRenewMs ? { renewIntervalMs: choice.leaseRenewMs } : {}) })
    : undefined;
  const recorder = elector
    ? new PolicyEventRecorder({ sink: kubernetesEventSink(config), isLeader: () => elector.isLeader(), logger, instance: identity, onOutcome: (outcome) => metrics.events.inc({ outcome }) })
    : undefined;
  const readiness = recorder && elector ? new ReadinessEventRecorder({ report: (...args) => recorder.report(...args), isLeader: () => elector.isLeader() }) : undefined;
  return {
    source,
    ...(recorder ? { onProblems: (configMaps, errors) => recorder.observe(configMaps, errors) } : {}),
    ...(readiness ? { onEndpoints: (configMaps, models) => readiness.observe(configMaps, models) } : {}),
    start() {
      source.start();
      elector?.start();
    },
    stop() {
      elector?.stop();
    },
  };
}

