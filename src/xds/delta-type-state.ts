import type { ResourceKind } from '../envoy/type-urls.ts';
import type { EncodedResource } from '../snapshot/codec.ts';
import type { Snapshot } from '../snapshot/snapshot.ts';
import type { NackRecord, TypeSyncView } from './client-view.ts';
import type { SnapshotDiffer } from './snapshot-differ.ts';
import type { Subscription, SubscriptionSelector } from './subscription.ts';

export interface SentResponse {
  version: string;
  sequence: number;
  resources: readonly EncodedResource[];
  removed: readonly string[];
}

/** Unanswered responses kept for ACK bookkeeping per type: a stalled client cannot grow memory beyond this. */
const MAX_PENDING = 16;

/**
 * One delta stream's bookkeeping for one type: what the client subscribes to, was sent, accepted and refused.
 * What was sent is not stored per resource: after every reconciliation the client holds exactly what its
 * subscription covers in `basis` once it has received `unsent` too (the invariant DeltaStream keeps), so a
 * stream costs its subscription only.
 */
export class DeltaTypeState implements TypeSyncView {
  readonly versionsPerResource = true;
  readonly requested: Subscription;
  basis: Snapshot | undefined;
  /** Changes decided but not yet written, while the stream waits for the transport (see DeltaStream). */
  unsent: Changes | undefined;
  /** The snapshot `unsent` was last brought up to. */
  unsentFrom: Snapshot | undefined;
  /** initial_resource_versions of the first request, until the first snapshot is reconciled against them. */
  initialVersions: ReadonlyMap<string, string> | undefined;
  /** Of the last response; its version is the snapshot version (system_version_info). */
  sentVersion?: string;
  sentNonce?: string;
  sentAt?: Date;
  sentSequence?: number;
  ackedVersion?: string;
  ackedAt?: Date;
  /** The latest snapshot whose content for this type the client has fully accepted. */
  syncedThrough?: number;
  lastNack?: NackRecord;
  /** Responses not yet ACKed or NACKed, oldest first, by nonce. */
  readonly pending = new Map<string, SentResponse>();
  /** Name -> version of resources in NACKed responses the client has not accepted since. */
  readonly rejected = new Map<string, string>();
  readonly #kind: ResourceKind;
  readonly #differ: SnapshotDiffer;

  constructor(kind: ResourceKind, requested: Subscription, differ: SnapshotDiffer) {
    this.#kind = kind;
    this.requested = requested;
    this.#differ = differ;
  }

  get subscription(): SubscriptionSelector {
    return this.requested.selector;
  }

  /** The NACK that still stands: some resource it rejected has not been accepted since. */
  get standingNack(): NackRecord | undefined {
    return this.rejected.size > 0 ? this.lastNack : undefined;
  }

  /** For one snapshot: the resource the current subscription gives the client for a name, if any. */
  coverage(snapshot: Snapshot): (name: string) => EncodedResource | undefined {
    const all = snapshot.resources(this.#kind);
    const hidden = this.#differ.hidden(snapshot, this.#kind);
    const requested = this.requested;
    return (name) => {
      const resource = all.get(name);
      return resource && (requested.names.has(name) || (requested.wildcard && !hidden.has(name))) ? resource : undefined;
    };
  }

  /** Every resource the client holds once it has what it was sent and what waits to be (computed on demand). */
  get heldResources(): ReadonlyMap<string, EncodedResource> {
    const held = new Map<string, EncodedResource>();
    if (!this.basis) return held;
    const covered = this.coverage(this.basis);
    for (const name of this.requested.wildcard ? this.basis.resources(this.#kind).keys() : this.requested.names) {
      const resource = covered(name);
      if (resource) held.set(name, resource);
    }
    return held;
  }

  /** What the client accepted and runs: ACKed, or reported in initial_resource_versions with the same version. */
  get ackedResources(): ReadonlyMap<string, EncodedResource> {
    const unanswered = new Set([...this.pending.values()].flatMap((response) => response.resources.map((r) => r.name)));
    for (const name of this.unsent?.resources.keys() ?? []) unanswered.add(name);
    const acked = new Map<string, EncodedResource>();
    for (const [name, r] of this.heldResources) if (!unanswered.has(name) && !this.rejected.has(name)) acked.set(name, r);
    return acked;
  }

  /** A response sent and not answered yet; past MAX_PENDING the oldest are folded into the next. */
  remember(nonce: string, response: SentResponse): void {
    this.pending.set(nonce, response);
    if (this.pending.size > MAX_PENDING) foldOldest(this.pending);
  }

  /** Every response written has been answered, nothing waits to be written and nothing refused stands. */
  get answered(): boolean {
    return this.pending.size === 0 && this.rejected.size === 0 && this.unsent === undefined;
  }

  /** In sync with `basis` once it is all answered. */
  settle(): void {
    if (this.basis && this.answered) this.syncedThrough = this.basis.sequence;
  }
}

/** The resources and removals one response will carry; a name appears at most once. */
export class Changes {
  readonly resources = new Map<string, EncodedResource>();
  readonly removed = new Set<string>();

  send(resource: EncodedResource): void {
    if (this.removed.size > 0) this.removed.delete(resource.name);
    this.resources.set(resource.name, resource);
  }

  remove(name: string): void {
    this.resources.delete(name);
    this.removed.add(name);
  }

  get empty(): boolean {
    return this.resources.size === 0 && this.removed.size === 0;
  }

  /** Later changes to the same names win, as the client would apply them in order. */
  absorb(later: Changes): void {
    for (const name of later.removed) this.remove(name);
    for (const resource of later.resources.values()) this.send(resource);
  }
}

/**
 * Merges the oldest unanswered response into the next one, so answering the latter settles both. Applied in
 * order as the client applies them, each name is carried once, at its newest version or as removed: a client
 * that never answers must not accumulate every version ever sent to it.
 */
function foldOldest(pending: Map<string, SentResponse>): void {
  const [oldest, next] = [...pending.entries()];
  if (!oldest || !next) return;
  pending.delete(oldest[0]);
  const resources = new Map(oldest[1].resources.map((resource) => [resource.name, resource]));
  const removed = new Set(oldest[1].removed);
  for (const name of next[1].removed) {
    resources.delete(name);
    removed.add(name);
  }
  for (const resource of next[1].resources) {
    removed.delete(resource.name);
    resources.set(resource.name, resource);
  }
  pending.set(next[0], { ...next[1], resources: [...resources.values()], removed: [...removed] });
}
