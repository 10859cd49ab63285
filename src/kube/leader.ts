import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';

export interface LeaseElectorOptions {
  config: k8s.KubeConfig;
  namespace: string;
  name: string;
  /** This replica's identity (the pod name). */
  identity: string;
  leaseDurationSeconds?: number;
  renewIntervalMs?: number;
  logger: Logger;
  now?: () => Date;
}

function statusCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown; statusCode?: unknown }).code ?? (error as { statusCode?: unknown }).statusCode;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Leader election over a coordination.k8s.io Lease, as client-go does it: hold the Lease by renewing it
 * before it expires; take it over only once it has expired; every write is guarded by resourceVersion so
 * two replicas can never both win. Only the leader writes Events.
 */
export class LeaseElector {
  readonly #options: LeaseElectorOptions;
  readonly #api: k8s.CoordinationV1Api;
  readonly #durationSeconds: number;
  #leader = false;
  #lastRenew = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: LeaseElectorOptions) {
    this.#options = options;
    this.#api = options.config.makeApiClient(k8s.CoordinationV1Api);
    this.#durationSeconds = options.leaseDurationSeconds ?? 15;
  }

  isLeader(): boolean {
    // A leader that could not renew in time must assume another replica has taken over.
    if (this.#leader && this.#now().getTime() - this.#lastRenew > this.#durationSeconds * 1000) this.#setLeader(false);
    return this.#leader;
  }

  start(): void {
    this.#stopped = false;
    void this.tick();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#leader = false;
  }

  /** One attempt to acquire or renew; scheduled repeatedly by start(). Exposed for tests. */
  async tick(): Promise<boolean> {
    try {
      this.#setLeader(await this.#tryAcquireOrRenew());
    } catch (error) {
      this.#options.logger.warn({ lease: this.#options.name, error: error instanceof Error ? error.message : String(error) }, 'lease renewal failed');
      this.isLeader();
    }
    if (!this.#stopped) this.#timer = setTimeout(() => void this.tick(), this.#options.renewIntervalMs ?? 5_000);
    return this.#leader;
  }

  #now(): Date {
    return this.#options.now?.() ?? new Date();
  }

  #setLeader(leader: boolean): void {
    if (leader) this.#lastRenew = this.#now().getTime();
    if (leader !== this.#leader) this.#options.logger.info({ lease: this.#options.name, identity: this.#options.identity, leader }, leader ? 'became leader: this replica writes Events' : 'not the leader: another replica writes Events');
    this.#leader = leader;
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.#options;
    const now = this.#now();
    let lease: k8s.V1Lease;
    try {
      lease = await this.#api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (statusCode(error) !== 404) throw error;
      const body: k8s.V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec: { holderIdentity: identity, leaseDurationSeconds: this.#durationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
      };
      return this.#write(() => this.#api.createNamespacedLease({ namespace, body }));
    }
    const spec = lease.spec ?? {};
    const renewedAt = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    const expired = renewedAt + (spec.leaseDurationSeconds ?? this.#durationSeconds) * 1000 < now.getTime();
    const mine = spec.holderIdentity === identity;
    if (!mine && !expired) return false;
    const body: k8s.V1Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: this.#durationSeconds,
        renewTime: now,
        ...(mine ? {} : { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
      },
    };
    return this.#write(() => this.#api.replaceNamespacedLease({ name, namespace, body }));
  }

  /** A 409 means another replica wrote first: not an error, just not the leader this round. */
  async #write(write: () => Promise<unknown>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (error) {
      if (statusCode(error) === 409) return false;
      throw error;
    }
  }
}
