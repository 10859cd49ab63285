import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { PolicyError } from '../policy/index.ts';
import type { ConfigMapObject } from '../sources/types.ts';
import type { EventSink } from './event-sink.ts';

export interface EventRecorderOptions {
  sink: EventSink;
  /** Only the leader writes; followers keep track so a new leader does not repeat old news. */
  isLeader: () => boolean;
  logger: Logger;
  /** This replica (pod name), as reportingInstance. */
  instance: string;
  now?: () => Date;
  /** Token bucket: at most `burst` Events at once, refilled at `perSecond`. */
  rateLimit?: { burst: number; perSecond: number };
  onOutcome?: (outcome: 'written' | 'failed' | 'dropped') => void;
}

const MAX_MESSAGE = 1024;

function describe(error: PolicyError): string {
  const where = error.key === '' ? '' : `key "${error.key}"${error.index !== undefined ? ` [doc ${error.index}]` : ''} `;
  const at = error.line !== undefined ? ` (line ${error.line}, column ${error.column ?? 0})` : '';
  return `${where}${error.path || '(document)'}: ${error.message}${at}`;
}

interface Reported {
  uid: string;
  problems: Map<string, 'PolicyRejected' | 'PolicyConflict'>;
}

/**
 * Turns policy problems into Kubernetes Events on the ConfigMap that holds them: a Warning per new problem
 * (PolicyRejected, PolicyConflict), a Normal PolicyAccepted when a ConfigMap is valid again. Deduplicated
 * (a problem that persists is reported once; one that returns bumps the old Event's count), rate-limited,
 * and never in the way of serving: failures are logged and counted, nothing more.
 */
export class PolicyEventRecorder {
  readonly #options: EventRecorderOptions;
  readonly #reported = new Map<string, Reported>();
  readonly #written = new Map<string, { name: string; count: number }>();
  #tokens: number;
  #lastRefill: number;
  #sequence = 0;

  constructor(options: EventRecorderOptions) {
    this.#options = options;
    this.#tokens = options.rateLimit?.burst ?? 25;
    this.#lastRefill = this.#now().getTime();
  }

  /** Compare this reconcile's problems with the last ones and report the difference. Returns when written. */
  async observe(configMaps: readonly ConfigMapObject[], errors: readonly PolicyError[]): Promise<void> {
    const pending: Promise<void>[] = [];
    const present = new Set<string>();
    for (const cm of configMaps) {
      const key = `${cm.namespace}/${cm.name}`;
      present.add(key);
      const current = new Map(errors.filter((e) => e.namespace === cm.namespace && e.configMap === cm.name).map((e) => [describe(e), e.kind === 'conflict' ? ('PolicyConflict' as const) : ('PolicyRejected' as const)]));
      const previous = this.#reported.get(key);
      const sameObject = previous?.uid === (cm.uid ?? key);
      const before = sameObject ? previous.problems : new Map<string, string>();
      this.#reported.set(key, { uid: cm.uid ?? key, problems: current });
      if (!this.#options.isLeader()) continue;
      for (const [message, reason] of current) {
        if (!before.has(message)) pending.push(this.#emit(cm, 'Warning', reason, message, () => this.#reported.get(key)?.problems.delete(message)));
      }
      if (before.size > 0 && current.size === 0) {
        pending.push(this.#emit(cm, 'Normal', 'PolicyAccepted', 'every document in this ConfigMap is valid again and is being served', () => {}));
      }
    }
    for (const key of [...this.#reported.keys()]) if (!present.has(key)) this.#reported.delete(key);
    await Promise.all(pending);
  }

  #now(): Date {
    return this.#options.now?.() ?? new Date();
  }

  #take(): boolean {
    const { burst = 25, perSecond = 5 } = this.#options.rateLimit ?? {};
    const now = this.#now().getTime();
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#lastRefill) / 1000) * perSecond);
    this.#lastRefill = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /**
   * Writes one Event on a ConfigMap through the same sink, rate limit and deduplication as policy Events
   * (for other reporters, e.g. readiness-events.ts). `forget` runs when it could not be written.
   */
  report(cm: ConfigMapObject, type: 'Warning' | 'Normal', reason: string, message: string, action: string, forget: () => void): Promise<void> {
    return this.#emit(cm, type, reason, message, forget, action);
  }

  /** `forget` un-reports the problem when it could not be written, so a later reconcile tries again. */
  async #emit(cm: ConfigMapObject, type: 'Warning' | 'Normal', reason: string, message: string, forget: () => void, action = 'Validate'): Promise<void> {
    const { sink, logger, onOutcome } = this.#options;
    if (!this.#take()) {
      forget();
      onOutcome?.('dropped');
      logger.debug({ configMap: `${cm.namespace}/${cm.name}`, reason }, 'event rate limit reached; event dropped');
      return;
    }
    const at = this.#now();
    const dedupKey = `${cm.uid ?? ''}|${cm.namespace}/${cm.name}|${reason}|${message}`;
    const earlier = this.#written.get(dedupKey);
    try {
      if (earlier) {
        earlier.count += 1;
        await sink.repeat(cm.namespace, earlier.name, earlier.count, at);
      } else {
        const name = `${cm.name}.${at.getTime().toString(16)}${(++this.#sequence).toString(16)}`;
        await sink.create(cm.namespace, this.#event(cm, name, type, reason, message, at, action));
        this.#written.set(dedupKey, { name, count: 1 });
      }
      onOutcome?.('written');
    } catch (error) {
      if (earlier) this.#written.delete(dedupKey);
      forget();
      onOutcome?.('failed');
      logger.warn({ configMap: `${cm.namespace}/${cm.name}`, reason, error: error instanceof Error ? error.message : String(error) }, 'could not write Event (serving is unaffected)');
    }
  }

  #event(cm: ConfigMapObject, name: string, type: string, reason: string, message: string, at: Date, action: string): k8s.CoreV1Event {
    return {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: cm.namespace },
      involvedObject: { apiVersion: 'v1', kind: 'ConfigMap', name: cm.name, namespace: cm.namespace, ...(cm.uid ? { uid: cm.uid } : {}), ...(cm.resourceVersion ? { resourceVersion: cm.resourceVersion } : {}) },
      type,
      reason,
      message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message,
      source: { component: 'infermesh' },
      reportingComponent: 'infermesh.io/control-plane',
      reportingInstance: this.#options.instance,
      action,
      firstTimestamp: at,
      lastTimestamp: at,
      count: 1,
    };
  }
}
