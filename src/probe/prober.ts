/**
 * Asks every model-server pod, on its own jittered timer, which of its models are ready, and answers the
 * controller's lookups. Bounded: one probe per pod per interval, at most `concurrency` in flight, each cut
 * at `timeoutMs` and `maxResponseBytes`. Steady: a pod is probe-failing only after N consecutive failures and
 * restored after M successes. Listeners hear of changes coalesced: once when the probes running together
 * have all finished (or at latest `maxNotifyDelayMs` after the first change), never while nothing changed.
 * Lookups see each answer as soon as it lands, so a lookup may be ahead of the notification it will bring.
 */
import * as http from 'node:http';
import type { Logger } from '../logging/logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { ModelReadinessState } from '../model/types.ts';
import { modelRefKey, type ModelAnswer, type ModelRef, type ProbePod, type ProbeTarget, type ProbedServerKind, type ReadinessSource } from './types.ts';
import { DEFAULT_MAX_RESPONSE_BYTES, ProbeError, type ProbeFailureKind } from './bounded-http.ts';
import { PodHealth } from './pod-health.ts';
import { createTfServingProbe } from './tfserving-probe.ts';
import { createTritonProbe } from './triton-probe.ts';

export interface ProberTimers {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface ProberOptions {
  intervalMs?: number;
  timeoutMs?: number;
  concurrency?: number;
  failuresToMark?: number;
  successesToRestore?: number;
  maxResponseBytes?: number;
  /** Each interval is intervalMs x (1 +- jitter), uniformly. */
  jitter?: number;
  /** Longest a change waits for the other probes in flight before listeners hear of it. Default intervalMs / 5. */
  maxNotifyDelayMs?: number;
  /** Replaces the HTTP probes (tests). */
  probes?: Partial<Record<ProbedServerKind, ProbePod>>;
  now?: () => number;
  random?: () => number;
  timers?: ProberTimers;
  metrics?: Pick<Metrics, 'probeRequests' | 'probeSeconds'>;
  logger?: Logger;
}

interface Pod {
  readonly key: string;
  target: ProbeTarget;
  readonly health: PodHealth;
  answers: Map<string, ModelAnswer>;
  timer?: unknown;
  queued: boolean;
  inFlight?: AbortController;
  timeoutTimer?: unknown;
  /** Models were added while a probe was in flight: probe again as soon as it ends. */
  again: boolean;
}

const defaultTimers: ProberTimers = {
  set: (callback, ms) => {
    const handle = setTimeout(callback, ms);
    handle.unref();
    return handle;
  },
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

function podKey(target: Pick<ProbeTarget, 'address' | 'port' | 'server'>): string {
  return `${target.address}:${target.port}:${target.server}`;
}

function sameAnswer(a: ModelAnswer | undefined, b: ModelAnswer | undefined): boolean {
  return a?.state === b?.state && a?.reason === b?.reason;
}

export class Prober implements ReadinessSource {
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #concurrency: number;
  readonly #failuresToMark: number;
  readonly #successesToRestore: number;
  readonly #jitter: number;
  readonly #maxNotifyDelayMs: number;
  readonly #probes: Record<ProbedServerKind, ProbePod>;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #timers: ProberTimers;
  readonly #metrics: ProberOptions['metrics'];
  readonly #logger: Logger | undefined;
  readonly #agent: http.Agent | undefined;

  readonly #pods = new Map<string, Pod>();
  /** address:port -> pod key, for lookups (which do not name the server kind). */
  readonly #byAddress = new Map<string, string>();
  readonly #queue: Pod[] = [];
  #running = 0;
  readonly #listeners = new Set<() => void>();
  #changed = false;
  #notifyTimer: unknown;
  #closed = false;

  constructor(options: ProberOptions = {}) {
    this.#intervalMs = options.intervalMs ?? 5000;
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#concurrency = Math.max(1, options.concurrency ?? 32);
    this.#failuresToMark = Math.max(1, options.failuresToMark ?? 3);
    this.#successesToRestore = Math.max(1, options.successesToRestore ?? 2);
    this.#jitter = Math.min(Math.max(options.jitter ?? 0.2, 0), 1);
    this.#maxNotifyDelayMs = options.maxNotifyDelayMs ?? this.#intervalMs / 5;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#timers = options.timers ?? defaultTimers;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    const needsHttp = options.probes?.triton === undefined || options.probes?.tfserving === undefined;
    // Keep-alive within one probe (TF Serving asks once per model); idle sockets close after 1 s, well before
    // the next interval, so a server's own keep-alive timeout never races a reuse.
    this.#agent = needsHttp ? new http.Agent({ keepAlive: true, maxSockets: 4, timeout: 1000 }) : undefined;
    const http_ = { timeoutMs: this.#timeoutMs, maxResponseBytes, ...(this.#agent === undefined ? {} : { agent: this.#agent }) };
    this.#probes = {
      triton: options.probes?.triton ?? createTritonProbe(http_),
      tfserving: options.probes?.tfserving ?? createTfServingProbe(http_),
    };
  }

  setTargets(targets: readonly ProbeTarget[]): void {
    if (this.#closed) return;
    const wanted = new Map<string, ProbeTarget>();
    for (const target of targets) {
      const key = podKey(target);
      const existing = wanted.get(key);
      const models = new Map<string, ModelRef>();
      for (const ref of [...(existing?.models ?? []), ...target.models]) models.set(modelRefKey(ref), ref);
      wanted.set(key, { ...existing, ...target, models: [...models.values()] });
    }
    for (const [key, pod] of this.#pods) if (!wanted.has(key)) this.#forget(pod);
    for (const [key, target] of wanted) {
      const pod = this.#pods.get(key);
      if (pod === undefined) {
        const fresh: Pod = {
          key,
          target,
          health: new PodHealth({ failuresToMark: this.#failuresToMark, successesToRestore: this.#successesToRestore, now: this.#now }),
          answers: new Map(),
          queued: false,
          again: false,
        };
        this.#pods.set(key, fresh);
        this.#byAddress.set(`${target.address}:${target.port}`, key);
        this.#enqueue(fresh);
        continue;
      }
      const before = new Set(pod.target.models.map(modelRefKey));
      const keys = new Set(target.models.map(modelRefKey));
      pod.target = target;
      for (const answered of pod.answers.keys()) if (!keys.has(answered)) pod.answers.delete(answered);
      if ([...keys].some((key) => !before.has(key))) {
        // A model newly routed to a known pod is asked about at once, not an interval later.
        if (pod.inFlight !== undefined) pod.again = true;
        else this.#enqueue(pod);
      }
    }
    this.#pump();
  }

  lookup(address: string, port: number, ref: ModelRef): { state: ModelReadinessState; reason?: string } | undefined {
    const key = this.#byAddress.get(`${address}:${port}`);
    const pod = key === undefined ? undefined : this.#pods.get(key);
    if (pod === undefined) return undefined;
    if (pod.health.failing) return { state: 'probe-failing', reason: pod.health.lastError ?? 'probe failing' };
    const answer = pod.answers.get(modelRefKey(ref));
    if (answer === undefined) return undefined;
    return answer.reason === undefined ? { state: answer.state } : { state: answer.state, reason: answer.reason };
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const pod of this.#pods.values()) this.#forget(pod);
    this.#queue.length = 0;
    if (this.#notifyTimer !== undefined) this.#timers.clear(this.#notifyTimer);
    this.#notifyTimer = undefined;
    this.#listeners.clear();
    this.#agent?.destroy();
  }

  /** Probes started and not finished (for tests and status). */
  get inFlight(): number {
    return this.#running;
  }

  #forget(pod: Pod): void {
    if (pod.timer !== undefined) this.#timers.clear(pod.timer);
    pod.timer = undefined;
    pod.inFlight?.abort(new ProbeError('failure', 'probe cancelled'));
    pod.inFlight = undefined;
    if (pod.timeoutTimer !== undefined) this.#timers.clear(pod.timeoutTimer);
    pod.timeoutTimer = undefined;
    pod.queued = false;
    this.#pods.delete(pod.key);
    const address = `${pod.target.address}:${pod.target.port}`;
    if (this.#byAddress.get(address) === pod.key) this.#byAddress.delete(address);
    const index = this.#queue.indexOf(pod);
    if (index >= 0) this.#queue.splice(index, 1);
  }

  #enqueue(pod: Pod): void {
    if (pod.queued || pod.inFlight !== undefined) return;
    if (pod.timer !== undefined) this.#timers.clear(pod.timer);
    pod.timer = undefined;
    pod.queued = true;
    this.#queue.push(pod);
  }

  #pump(): void {
    while (!this.#closed && this.#running < this.#concurrency && this.#queue.length > 0) {
      const pod = this.#queue.shift() as Pod;
      pod.queued = false;
      void this.#probe(pod);
    }
  }

  #schedule(pod: Pod): void {
    const factor = 1 + this.#jitter * (2 * this.#random() - 1);
    pod.timer = this.#timers.set(() => {
      pod.timer = undefined;
      if (this.#pods.get(pod.key) !== pod) return;
      this.#enqueue(pod);
      this.#pump();
    }, Math.max(0, Math.round(this.#intervalMs * factor)));
  }

  async #probe(pod: Pod): Promise<void> {
    const controller = new AbortController();
    pod.inFlight = controller;
    this.#running += 1;
    const started = this.#now();
    const timeout = this.#timers.set(
      () => controller.abort(new ProbeError('timeout', `timed out after ${this.#timeoutMs} ms`)),
      this.#timeoutMs,
    );
    pod.timeoutTimer = timeout;
    const target = pod.target;
    let outcome: { ok: true; answers: ReadonlyMap<string, ModelAnswer> } | { ok: false; kind: ProbeFailureKind; message: string };
    try {
      const answers = await new Promise<ReadonlyMap<string, ModelAnswer>>((resolve, reject) => {
        // A probe that ignores its signal is still cut: the abort settles this promise.
        controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
        this.#probes[target.server](target, controller.signal).then(resolve, reject);
      });
      outcome = { ok: true, answers };
    } catch (error) {
      const kind = error instanceof ProbeError ? error.kind : 'failure';
      outcome = { ok: false, kind, message: error instanceof Error ? error.message : String(error) };
    } finally {
      this.#timers.clear(timeout);
      if (pod.timeoutTimer === timeout) pod.timeoutTimer = undefined;
      this.#running -= 1;
    }
    const current = this.#pods.get(pod.key) === pod && pod.inFlight === controller && !this.#closed;
    if (pod.inFlight === controller) pod.inFlight = undefined;
    if (current) {
      this.#metrics?.probeRequests.inc({ server: target.server, result: outcome.ok ? 'ok' : outcome.kind });
      this.#metrics?.probeSeconds.observe({ server: target.server }, (this.#now() - started) / 1000);
      if (outcome.ok ? this.#applyAnswers(pod, outcome.answers) : this.#applyFailure(pod, outcome.message)) this.#changed = true;
      if (pod.again) {
        pod.again = false;
        this.#enqueue(pod);
      } else {
        this.#schedule(pod);
      }
    }
    this.#pump();
    this.#maybeNotify();
  }

  #applyAnswers(pod: Pod, answers: ReadonlyMap<string, ModelAnswer>): boolean {
    const wasFailing = pod.health.failing;
    const restored = pod.health.recordSuccess();
    const next = new Map<string, ModelAnswer>();
    let changed = restored;
    for (const ref of pod.target.models) {
      const key = modelRefKey(ref);
      const answer = answers.get(key);
      if (answer === undefined) continue;
      next.set(key, answer);
      if (!sameAnswer(answer, pod.answers.get(key))) changed = true;
    }
    pod.answers = next;
    if (restored) this.#logger?.info({ pod: pod.key }, 'model-server probe restored');
    // While still failing, lookups answer probe-failing whatever the models say.
    return wasFailing && !restored ? false : changed;
  }

  #applyFailure(pod: Pod, message: string): boolean {
    const previous = pod.health.lastError;
    const marked = pod.health.recordFailure(message);
    if (marked) this.#logger?.warn({ pod: pod.key, error: message }, 'model-server probe failing');
    else this.#logger?.debug({ pod: pod.key, error: message }, 'model-server probe failed');
    return marked || (pod.health.failing && previous !== message);
  }

  #maybeNotify(): void {
    if (!this.#changed || this.#closed) return;
    if (this.#running === 0 && this.#queue.length === 0) return this.#notify();
    this.#notifyTimer ??= this.#timers.set(() => {
      this.#notifyTimer = undefined;
      this.#notify();
    }, this.#maxNotifyDelayMs);
  }

  #notify(): void {
    if (this.#notifyTimer !== undefined) this.#timers.clear(this.#notifyTimer);
    this.#notifyTimer = undefined;
    if (!this.#changed || this.#closed) return;
    this.#changed = false;
    for (const listener of [...this.#listeners]) {
      try {
        listener();
      } catch (error) {
        this.#logger?.error({ err: error }, 'readiness listener failed');
      }
    }
  }
}
