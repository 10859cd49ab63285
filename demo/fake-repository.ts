/**
 * A fake pod's model repository: which models and versions it holds and in which state, changed at run time
 * by load/unload (programmatically, or over the fake's REST admin path, see fake-admin.ts). The Triton and
 * TF Serving personalities translate these neutral states into their own vocabulary:
 *
 *   neutral     Triton (repository index)          TF Serving (model_version_status)
 *   start       LOADING                            START
 *   loading     LOADING                            LOADING
 *   ready       READY                              AVAILABLE
 *   unloading   UNLOADING                          UNLOADING
 *   unloaded    UNAVAILABLE, reason "unloaded"     END, status OK
 *   failed      UNAVAILABLE, reason = the failure  END, status {error_code, error_message}
 *
 * Only `ready` versions serve inference. A model never loaded on the pod has no entry at all.
 */

export type VersionState = 'start' | 'loading' | 'ready' | 'unloading' | 'unloaded' | 'failed';

export interface VersionStatus {
  model: string;
  version: string;
  state: VersionState;
  /** Why a version is not ready: "unloaded", or the load failure's message. Empty otherwise. */
  reason: string;
  /** TF Serving error_code for a failed load (e.g. "UNKNOWN", "NOT_FOUND"); "OK" otherwise. */
  errorCode: string;
}

export interface LoadOptions {
  /** How long the version stays LOADING before it becomes READY / AVAILABLE (or fails). Default 0: at once. */
  loadingMs?: number;
  /** Makes the load fail after loadingMs with this message (Triton UNAVAILABLE + reason; TF Serving END + error). */
  fail?: string;
  /** TF Serving error_code for a failed load; default "UNKNOWN". */
  errorCode?: string;
}

export class FakeRepository {
  /** model -> version -> status; insertion order is report order. */
  readonly #models = new Map<string, Map<string, VersionStatus>>();
  /** Pending loads: their timers, and how to settle them early when the pod closes. */
  readonly #pending = new Map<NodeJS.Timeout, () => void>();
  /** The version load() uses when given none (the pod's version). */
  readonly defaultVersion: string;

  constructor(defaultVersion: string, loaded: readonly string[]) {
    this.defaultVersion = defaultVersion;
    for (const model of loaded) this.#set(model, defaultVersion, 'ready', '', 'OK');
  }

  #set(model: string, version: string, state: VersionState, reason: string, errorCode: string): VersionStatus {
    let versions = this.#models.get(model);
    if (versions === undefined) {
      versions = new Map();
      this.#models.set(model, versions);
    }
    const status = { model, version, state, reason, errorCode };
    versions.set(version, status);
    return status;
  }

  /**
   * Starts loading `model` (version: the pod's by default). Resolves when the version is ready (or failed),
   * after `loadingMs`; the state is LOADING until then. Loading a ready version again is a no-op.
   */
  load(model: string, version = this.defaultVersion, options: LoadOptions = {}): Promise<VersionStatus> {
    const loadingMs = options.loadingMs ?? 0;
    if (!(Number.isFinite(loadingMs) && loadingMs >= 0)) throw new RangeError(`loadingMs must be >= 0, got ${loadingMs}`);
    const current = this.#models.get(model)?.get(version);
    if (current?.state === 'ready' && options.fail === undefined) return Promise.resolve({ ...current });
    const loading = this.#set(model, version, 'loading', '', 'OK');
    const finish = (): VersionStatus => {
      // A later load/unload of the same version wins over this one.
      if (this.#models.get(model)?.get(version) !== loading) return this.status(model, version) ?? { ...loading };
      if (options.fail !== undefined) return { ...this.#set(model, version, 'failed', options.fail, options.errorCode ?? 'UNKNOWN') };
      return { ...this.#set(model, version, 'ready', '', 'OK') };
    };
    if (loadingMs === 0) return Promise.resolve(finish());
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(timer);
        resolve(finish());
      }, loadingMs);
      this.#pending.set(timer, () => resolve({ ...loading }));
    });
  }

  /** Unloads one version, or every version of `model` when none is given: not ready at once. Unknown: no-op. */
  unload(model: string, version?: string): void {
    const versions = this.#models.get(model);
    if (versions === undefined) return;
    for (const entry of [...versions.values()]) {
      if (version === undefined || entry.version === version) this.#set(model, entry.version, 'unloaded', 'unloaded', 'OK');
    }
  }

  /** Puts a version in any state directly (e.g. UNLOADING or START, which load/unload pass through instantly). */
  setState(model: string, version: string, state: VersionState, reason = ''): void {
    this.#set(model, version, state, reason, state === 'failed' ? 'UNKNOWN' : 'OK');
  }

  /** Forgets a model entirely, as if it had never been in the repository. */
  remove(model: string): void {
    this.#models.delete(model);
  }

  status(model: string, version: string): VersionStatus | undefined {
    const status = this.#models.get(model)?.get(version);
    return status === undefined ? undefined : { ...status };
  }

  /** Every version of `model` (empty if the model was never loaded here). */
  versions(model: string): VersionStatus[] {
    return [...(this.#models.get(model)?.values() ?? [])].map((status) => ({ ...status }));
  }

  /** Every version of every model, in the order they were first loaded. */
  index(): VersionStatus[] {
    return [...this.#models.values()].flatMap((versions) => [...versions.values()].map((status) => ({ ...status })));
  }

  known(model: string): boolean {
    return this.#models.has(model);
  }

  /** True when `version` (or, if empty, any version) of `model` is ready. */
  isReady(model: string, version = ''): boolean {
    const versions = this.#models.get(model);
    if (versions === undefined) return false;
    if (version !== '') return versions.get(version)?.state === 'ready';
    return [...versions.values()].some((status) => status.state === 'ready');
  }

  /** The version an unpinned request is served by: the highest ready one (numeric order where both are numbers). */
  servingVersion(model: string): string | undefined {
    const ready = this.versions(model).filter((status) => status.state === 'ready').map((status) => status.version);
    ready.sort((a, b) => (/^\d+$/.test(a) && /^\d+$/.test(b) ? Number(a) - Number(b) : a.localeCompare(b)));
    return ready.at(-1);
  }

  /** Stops pending loads (the pod is closing); their promises resolve with the version still LOADING. */
  cancel(): void {
    for (const [timer, settle] of this.#pending) {
      clearTimeout(timer);
      settle();
    }
    this.#pending.clear();
  }
}
