/**
 * Cold-start holds (policy coldStart): requests a sidecar sends here (ext_proc) while their model has no
 * ready pod wait until it has one and the proxies using the model have ACKed it, or until holdFor. Only the
 * control plane knows both (readiness and ACKs), which is why it, not Envoy, holds them.
 */
import { realTimers, type Timers } from '../controller/debounce.ts';
import { hasHealthyEndpoint, splitBackends } from '../envoy/route-action.ts';
import type { Model } from '../model/types.ts';

/**
 * How a hold ended. not_held: nothing to wait for (ready already, not a coldStart model, unknown version);
 * released: became ready; timed_out: holdFor passed; overflow: too many held, answered at once; cancelled:
 * the caller (or its sidecar) went away; shutdown: this control plane is stopping.
 */
export type HoldOutcome = 'not_held' | 'released' | 'timed_out' | 'overflow' | 'cancelled' | 'shutdown';

export interface HoldResult {
  outcome: HoldOutcome;
  /** The model's own name (the request may have named an alias), when it is a coldStart model. */
  model?: string;
  holdForMs?: number;
  waitedMs: number;
}

/** What a hold needs to know of one rollout (xds/rollout.ts ModelRollout). */
export interface RolloutView {
  model: string;
  sequence: number;
  state: 'pending' | 'live' | 'degraded';
}

export interface HoldOptions {
  timers?: Timers;
  /** Held requests at once on this replica; beyond, requests are answered at once (overflow). */
  maxHeld?: number;
  /**
   * Once a model is ready, how long to wait at most for the proxies to ACK it before letting held requests
   * go anyway (a NACKing or slow proxy must not keep every hold to its end).
   */
  syncGraceMs?: number;
  /**
   * Whether a sidecar (by node id) has ACKed a snapshot at least as new as `sequence` for every type it
   * holds; undefined when no stream of that node is connected here. Built once per settling, as an index.
   */
  proxySync?: () => (node: string, sequence: number) => boolean | undefined;
  /** Told of every hold that ends (metrics, logs). */
  onEnd?: (result: HoldResult) => void;
  /** Told whenever the number of held requests of a model changes. */
  onHeldCount?: (model: string, count: number) => void;
}

export const DEFAULT_MAX_HELD = 10_000;
export const DEFAULT_SYNC_GRACE_MS = 2_000;

/** The key of what a request waits for: the model's split, or one version's backend. */
const SPLIT = '';

interface Target {
  /** Snapshot sequence from which the target has had a ready endpoint; undefined while it has none. */
  readySince?: number;
  /** Clock time it was seen ready. */
  readyAt?: number;
}

interface ModelState {
  model: string;
  holdForMs: number;
  /** By version ("" = the split). */
  targets: Map<string, Target>;
}

interface Held {
  model: ModelState;
  target: string;
  /** The holding sidecar's node id, when it sent one. */
  node?: string;
  startedAt: number;
  /** How long this request is held at most: its model's holdFor when it came, or a shorter one set since. */
  holdForMs: number;
  timer: unknown;
  finish: (outcome: HoldOutcome) => void;
}

export class ColdStartHolds {
  readonly #timers: Timers;
  readonly #maxHeld: number;
  readonly #syncGraceMs: number;
  readonly #options: HoldOptions;
  /** By every name a model answers to. */
  #byName = new Map<string, ModelState>();
  readonly #synced = new Map<string, RolloutView>();
  readonly #held = new Set<Held>();
  readonly #graceTimers = new Map<string, unknown>();
  #closed = false;

  constructor(options: HoldOptions = {}) {
    this.#options = options;
    this.#timers = options.timers ?? realTimers;
    this.#maxHeld = options.maxHeld ?? DEFAULT_MAX_HELD;
    this.#syncGraceMs = options.syncGraceMs ?? DEFAULT_SYNC_GRACE_MS;
  }

  get heldCount(): number {
    return this.#held.size;
  }

  /** The served models after a reconcile, and the sequence of the snapshot serving them. */
  observeModels(models: readonly Model[], sequence: number): void {
    const now = this.#timers.now();
    const next = new Map<string, ModelState>();
    for (const model of models) {
      const coldStart = model.policy.coldStart;
      if (!coldStart) continue;
      const previous = this.#byName.get(model.policy.model);
      const targets = new Map<string, Target>();
      const readyNow = (ready: boolean, key: string): Target => {
        const before = previous?.model === model.policy.model ? previous.targets.get(key) : undefined;
        if (!ready) return {};
        return before?.readySince !== undefined ? before : { readySince: sequence, readyAt: now };
      };
      targets.set(SPLIT, readyNow(splitBackends(model).some(hasHealthyEndpoint), SPLIT));
      for (const backend of model.backends) {
        if (backend.version !== undefined) targets.set(backend.version, readyNow(hasHealthyEndpoint(backend), backend.version));
      }
      const state: ModelState = { model: model.policy.model, holdForMs: coldStart.holdForMs, targets };
      for (const name of [model.policy.model, ...model.policy.aliases]) next.set(name, state);
    }
    this.#byName = next;
    for (const held of this.#held) {
      // A held request follows its model's new state; a model no longer held for lets its requests go.
      const state = next.get(held.model.model);
      if (!state) {
        held.finish('released');
        continue;
      }
      held.model = state;
      // A shorter holdFor applies to requests already held; a longer one only to new requests, since Envoy
      // was told (override_message_timeout) to wait for the answer only as long as the hold it came with.
      if (state.holdForMs < held.holdForMs) {
        held.holdForMs = state.holdForMs;
        this.#timers.clearTimeout(held.timer);
        held.timer = this.#timers.setTimeout(() => held.finish('timed_out'), Math.max(0, held.startedAt + state.holdForMs - now));
      }
    }
    this.#settle();
  }

  /** The latest rollout of each model (evaluated on every ACK burst): which proxies carry what. */
  observeRollouts(rollouts: readonly RolloutView[]): void {
    for (const rollout of rollouts) this.#synced.set(rollout.model, rollout);
    this.#settle();
  }

  /**
   * Holds one request for `name` (and a pinned `version`) until it may go. `cancel` ends it when the caller
   * goes away.
   */
  hold(name: string, version: string | undefined, node?: string): { result: Promise<HoldResult>; cancel: () => void; holdForMs?: number } {
    const model = this.#byName.get(name);
    const target = version ?? SPLIT;
    const now = this.#timers.now();
    const done = (outcome: HoldOutcome, state?: ModelState): HoldResult => ({ outcome, ...(state ? { model: state.model, holdForMs: state.holdForMs } : {}), waitedMs: 0 });
    if (this.#closed || !model || !model.targets.has(target) || this.#mayGo(model, target, node, now, this.#options.proxySync?.())) {
      return { result: Promise.resolve(done(this.#closed ? 'shutdown' : 'not_held', model)), cancel: () => {} };
    }
    if (this.#held.size >= this.#maxHeld) {
      const result = done('overflow', model);
      this.#options.onEnd?.(result);
      return { result: Promise.resolve(result), cancel: () => {} };
    }
    let finish: Held['finish'] = () => {};
    const result = new Promise<HoldResult>((resolve) => {
      finish = (outcome) => {
        if (!this.#held.delete(held)) return;
        this.#timers.clearTimeout(held.timer);
        const ended: HoldResult = { outcome, model: held.model.model, holdForMs: held.holdForMs, waitedMs: this.#timers.now() - held.startedAt };
        this.#countHeld(held.model.model);
        this.#options.onEnd?.(ended);
        resolve(ended);
      };
    });
    const held: Held = { model, target, ...(node !== undefined ? { node } : {}), startedAt: now, holdForMs: model.holdForMs, timer: undefined, finish };
    held.timer = this.#timers.setTimeout(() => held.finish('timed_out'), model.holdForMs);
    this.#held.add(held);
    this.#countHeld(model.model);
    return { result, cancel: () => held.finish('cancelled'), holdForMs: model.holdForMs };
  }

  /** Ends every hold (they go on as without one) and takes no more. */
  close(): void {
    this.#closed = true;
    for (const held of [...this.#held]) held.finish('shutdown');
    for (const timer of this.#graceTimers.values()) this.#timers.clearTimeout(timer);
    this.#graceTimers.clear();
  }

  #countHeld(model: string): void {
    let count = 0;
    for (const held of this.#held) if (held.model.model === model) count += 1;
    this.#options.onHeldCount?.(model, count);
  }

  /**
   * Ready, and the sidecar holding the request has ACKed a snapshot at least as new as the one that made it
   * ready (Envoy must hold the ready endpoint before its router picks a host, or it answers "no healthy
   * upstream"); or syncGraceMs has passed since it became ready. A sidecar connected to another replica
   * (its node is not known here) waits for the grace; one that sent no node id waits for every proxy
   * using the model on this replica (the model's rollout).
   */
  #mayGo(model: ModelState, target: string, node: string | undefined, now: number, proxySync: ReturnType<NonNullable<HoldOptions['proxySync']>> | undefined): boolean {
    const state = model.targets.get(target);
    if (state?.readySince === undefined || state.readyAt === undefined) return false;
    if (now - state.readyAt >= this.#syncGraceMs) return true;
    if (node !== undefined && proxySync) return proxySync(node, state.readySince) ?? false;
    const rollout = this.#synced.get(model.model);
    return rollout !== undefined && rollout.state === 'live' && rollout.sequence >= state.readySince;
  }

  /** Lets go every hold that may go; arms a timer for the grace of targets ready but not yet ACKed. */
  #settle(): void {
    const now = this.#timers.now();
    const waiting = new Map<string, number>();
    const proxySync = this.#held.size > 0 ? this.#options.proxySync?.() : undefined;
    for (const held of [...this.#held]) {
      if (this.#mayGo(held.model, held.target, held.node, now, proxySync)) {
        held.finish('released');
        continue;
      }
      const readyAt = held.model.targets.get(held.target)?.readyAt;
      if (readyAt !== undefined) waiting.set(held.model.model, Math.min(waiting.get(held.model.model) ?? Infinity, readyAt + this.#syncGraceMs - now));
    }
    for (const [model, timer] of this.#graceTimers) {
      if (waiting.has(model)) continue;
      this.#timers.clearTimeout(timer);
      this.#graceTimers.delete(model);
    }
    for (const [model, delay] of waiting) {
      if (this.#graceTimers.has(model)) continue;
      this.#graceTimers.set(model, this.#timers.setTimeout(() => {
        this.#graceTimers.delete(model);
        this.#settle();
      }, Math.max(0, delay)));
    }
  }
}
