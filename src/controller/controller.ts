import { grpcTableBudget } from './grpc-table-budget.ts';
import type { Logger } from 'pino';
import type { MeshSettings } from '../model/types.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { formatPolicyError, isDefaultsConfigMap, isPolicyConfigMap, type PolicyError } from '../policy/index.ts';
import { assembleSteps } from '../snapshot/assemble.ts';
import type { ResourceCodec } from '../snapshot/codec.ts';
import type { Snapshot } from '../snapshot/snapshot.ts';
import type { ConfigMapObject, SourceWorld } from '../sources/types.ts';
import type { SnapshotStore } from '../xds/snapshot-store.ts';
import { diffStatuses, hasChanges } from './changes.ts';
import { logModelChanges } from '../logging/model-change-log.ts';
import { debounce, realTimers, type Timers } from './debounce.ts';
import { excerpt, printableLine } from '../util/printable.ts';
import { runInSlices, runToEnd, type Steps } from '../util/cooperative.ts';
import { EMPTY_LAST_GOOD, reconcileSteps, type LastGood, type ModelStatus } from './reconcile.ts';
import type { ReadinessSource } from '../probe/types.ts';
import type { Model } from '../model/types.ts';
import { EndpointReport, servedModels } from '../status/endpoint-report.ts';
import type { ModelEndpoints } from '../status/model-endpoints.ts';
import { BackendInfoGauge, ModelProblemsGauge, policyProblems } from '../metrics/model-problems.ts';

/** What the controller needs from a source: a full read, and a change notification. */
export interface WorldSource {
  read(): Promise<SourceWorld>;
  watch?(onChange: () => void): void;
  close?(): void;
}

export interface ControllerOptions {
  source: WorldSource;
  store: SnapshotStore;
  codec: ResourceCodec;
  settings: MeshSettings;
  logger: Logger;
  metrics: Metrics;
  holdoffMs?: number;
  maxDelayMs?: number;
  timers?: Timers;
  /** Told of every published snapshot and the models whose served version changed in it. */
  onPublish?: (snapshot: Snapshot, changed: readonly PublishedModel[], current: ReadonlySet<string>) => void;
  /** Told every reconcile's policy problems (e.g. to write Kubernetes Events); its failures never stop serving. */
  onProblems?: (configMaps: readonly ConfigMapObject[], errors: readonly PolicyError[]) => Promise<void>;
  /** Told every reconcile's served models with their endpoints' readiness (e.g. NoReadyEndpoints Events); failures never stop serving. */
  onEndpoints?: (configMaps: readonly ConfigMapObject[], models: readonly Model[]) => Promise<void>;
  /**
   * What the model servers say about each model on each pod (src/probe): endpoints where it is not ready
   * get no traffic. Told the pods to probe after every reconcile; a change in its answers triggers one.
   */
  readiness?: ReadinessSource;
  /** Told every reconcile's served models (endpoints and readiness applied) and the sequence of the snapshot serving them. */
  onServed?: (models: readonly Model[], sequence: number) => void;
}

/** A model whose served version changed in a published snapshot. */
export interface PublishedModel {
  model: string;
  source?: ModelStatus['source'];
  clusters: string[];
  /** The model's own RouteConfigurations, one per name (own and aliases). */
  tables: string[];
  /** When the change was first noticed (the first source event of the burst), ms since epoch. */
  observedAt: number;
}

export interface ControllerStatus {
  ready: boolean;
  /** A digest of the served resources: equal on every replica that serves the same. */
  snapshotVersion?: string;
  /** This process's count of published snapshots (infermesh_snapshot_version). */
  snapshotSequence?: number;
  models: ModelStatus[];
  policyErrors: string[];
  readErrors: { origin: string; message: string }[];
  warnings: { model: string; message: string }[];
  /** Per served model, backend and endpoint: health and what the model server says (status/model-endpoints.ts). */
  modelEndpoints?: ModelEndpoints[];
}

/** Where each served model's policy lives: one pass, so publishing 10,000 models is not 10,000 searches. */
function servedSources(statuses: readonly ModelStatus[]): Map<string, NonNullable<ModelStatus['source']>> {
  const sources = new Map<string, NonNullable<ModelStatus['source']>>();
  for (const status of statuses) {
    if ((status.state === 'serving' || status.state === 'stale') && status.source && !sources.has(status.model)) sources.set(status.model, status.source);
  }
  return sources;
}

/**
 * Ties the pipeline together: source -> reconcile -> snapshot -> store. Nothing is published before the
 * first complete read; a reconcile that fails keeps the previous snapshot serving.
 */
export class Controller {
  readonly #options: ControllerOptions;
  #lastGood: LastGood = EMPTY_LAST_GOOD;
  /** The last gRPC table size warning logged, so it is logged when it appears or changes, not on every build. */
  #tableWarning: string | undefined;
  #status: ControllerStatus = { ready: false, models: [], policyErrors: [], readErrors: [], warnings: [] };
  #sequence = 0;
  #running: Promise<void> = Promise.resolve();
  #debounced: ReturnType<typeof debounce>;
  #stopReadiness: (() => void) | undefined;
  #onReconciled = new Set<() => void>();
  #firstChangeAt: number | undefined;
  #endpointReport: EndpointReport;
  #backendInfo: BackendInfoGauge;
  #problems: ModelProblemsGauge;

  constructor(options: ControllerOptions) {
    this.#options = options;
    this.#endpointReport = new EndpointReport(options.metrics);
    this.#backendInfo = new BackendInfoGauge(options.metrics.backendInfo);
    this.#problems = new ModelProblemsGauge(options.metrics.modelProblem);
    this.#debounced = debounce(() => void this.refresh(), options.holdoffMs ?? 100, options.maxDelayMs ?? 1_000, options.timers ?? realTimers);
  }

  status(): ControllerStatus {
    return this.#status;
  }

  /** Watch for changes, then the first complete read and publish (a change during that read triggers another). */
  async start(): Promise<void> {
    const changed = () => {
      this.#firstChangeAt ??= Date.now();
      this.#debounced.trigger();
    };
    this.#options.source.watch?.(changed);
    this.#stopReadiness = this.#options.readiness?.subscribe(changed);
    await this.refresh();
  }

  stop(): void {
    this.#debounced.cancel();
    this.#stopReadiness?.();
    this.#options.source.close?.();
  }

  /** Resolves after the next reconcile completes (tests and the demo wait on this instead of sleeping). */
  nextReconcile(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.#onReconciled.delete(done);
        resolve();
      };
      this.#onReconciled.add(done);
    });
  }

  /** Re-reads the source and reconciles; serialised so two reads never race. */
  refresh(): Promise<void> {
    this.#running = this.#running.then(async () => {
      try {
        const world = await this.#options.source.read();
        await runInSlices(this.#applySteps(world));
      } catch (error) {
        this.#options.logger.error({ err: error }, 'reconcile failed; the previous snapshot keeps serving');
      }
      for (const listener of [...this.#onReconciled]) listener();
    });
    return this.#running;
  }

  /** Reconciles one world at once and publishes the snapshot if it differs. Returns the snapshot being served. */
  apply(world: SourceWorld): Snapshot | undefined {
    return runToEnd(this.#applySteps(world));
  }

  /**
   * The reconcile as steps: the server runs them in slices so /healthz and xDS streams are answered while
   * thousands of models rebuild (the build time metric includes the turns given away).
   */
  *#applySteps(world: SourceWorld): Steps<Snapshot | undefined> {
    const { codec, settings, store, metrics, logger } = this.#options;
    const observedAt = this.#firstChangeAt ?? Date.now();
    this.#firstChangeAt = undefined;
    const stopBuild = metrics.buildSeconds.startTimer();
    const result = yield* reconcileSteps(world, this.#lastGood, codec, settings, this.#options.readiness);
    this.#options.readiness?.setTargets(result.probeTargets);
    const assembled = yield* assembleSteps(result.encoded, settings, codec, this.#sequence + 1);
    stopBuild();
    metrics.encodeSeconds.observe(codec.takeEncodeSeconds());
    if (!assembled.ok) {
      logger.error({ problems: assembled.problems }, 'snapshot is inconsistent; the previous snapshot keeps serving');
      return store.current();
    }
    codec.endGeneration();
    const before = this.#status.models;
    const changes = diffStatuses(before, result.statuses);
    this.#lastGood = result.lastGood;
    const previous = store.current();
    // The version hashes every type's version and every zone's endpoint variants (zone failover), which no type version shows.
    const changed = !previous || previous.version !== assembled.snapshot.version;
    if (changed) {
      this.#sequence += 1;
      store.set(assembled.snapshot);
      metrics.snapshotVersion.set(this.#sequence);
      const moved = new Set([...changes.added, ...changes.changed]);
      const sources = servedSources(result.statuses);
      const published = result.encoded
        .filter((model) => moved.has(model.model))
        .map((model): PublishedModel => {
          const source = sources.get(model.model);
          return { model: model.model, ...(source ? { source } : {}), clusters: model.clusters.map((c) => c.name), tables: model.routeConfigs.map((table) => table.name), observedAt };
        });
      this.#options.onPublish?.(assembled.snapshot, published, new Set(result.encoded.map((m) => m.model)));
    }
    const served = store.current();
    const budget = served ? grpcTableBudget(served, settings) : { bytes: 0 };
    metrics.grpcRouteTableBytes.set(budget.bytes);
    if (budget.warning && budget.warning !== this.#tableWarning) logger.warn({ bytes: budget.bytes }, budget.warning);
    this.#tableWarning = budget.warning;
    const models = servedModels(result);
    if (served) this.#options.onServed?.(models, served.sequence);
    this.#status = {
      ready: true,
      ...(served ? { snapshotVersion: served.version, snapshotSequence: served.sequence } : {}),
      models: result.statuses,
      policyErrors: result.policyErrors.map(formatPolicyError),
      readErrors: world.readErrors.map((e) => ({ origin: excerpt(e.origin, 512), message: printableLine(e.message) })),
      warnings: [...result.warnings, ...(budget.warning ? [{ model: `xds:///${settings.grpcTarget}`, message: budget.warning }] : [])],
      modelEndpoints: this.#endpointReport.update(models),
    };
    this.#backendInfo.record(models);
    this.#problems.record(policyProblems(result.statuses, this.#status.modelEndpoints ?? []));
    this.#record(before, result.statuses, result.policyErrors.length, changes, world.readErrors);
    const ours = world.configMaps.filter((cm) => isPolicyConfigMap(cm) || isDefaultsConfigMap(cm));
    this.#options.onProblems?.(ours, result.policyErrors).catch((error: unknown) => logger.warn({ err: error }, 'reporting policy problems failed'));
    this.#options.onEndpoints?.(ours, models).catch((error: unknown) => logger.warn({ err: error }, 'reporting endpoint readiness failed'));
    return served;
  }

  #record(before: readonly ModelStatus[], statuses: ModelStatus[], errorCount: number, changes: ReturnType<typeof diffStatuses>, readErrors: SourceWorld['readErrors']): void {
    const { metrics, logger } = this.#options;
    for (const state of ['serving', 'stale', 'rejected', 'conflict'] as const) {
      metrics.models.set({ state }, statuses.filter((s) => s.state === state).length);
    }
    metrics.policyErrors.set({ kind: 'policy' }, errorCount);
    metrics.policyErrors.set({ kind: 'source' }, readErrors.length);
    for (const error of readErrors) logger.warn({ origin: excerpt(error.origin, 512) }, printableLine(`cannot use ${error.origin}: ${error.message}`));
    // A model newly rejected gets its model-change line below; one still rejected is repeated here.
    const rejectedNow = new Set(changes.rejected);
    for (const status of statuses.filter((s) => s.state !== 'serving' && !rejectedNow.has(s.model))) {
      const where = status.source ? `${status.source.namespace}/${status.source.configMap} key "${status.source.key}"` : '';
      logger.warn({ model: status.model, state: status.state, source: where, problems: status.problems }, printableLine(`model ${status.model} ${status.state}: ${status.problems.join('; ')}`));
    }
    if (hasChanges(changes)) {
      const context = { ...(this.#status.snapshotVersion ? { snapshot: this.#status.snapshotVersion } : {}), ...(this.#status.snapshotSequence !== undefined ? { sequence: this.#status.snapshotSequence } : {}) };
      const unlogged = logModelChanges(logger, before, statuses, changes, context);
      logger.info({ event: 'models-changed', ...changes, ...context, ...(unlogged > 0 ? { unloggedModelChanges: unlogged } : {}) }, `models: +${changes.added.length} added, ~${changes.changed.length} changed, -${changes.removed.length} removed, !${changes.rejected.length} rejected`);
    }
  }
}
