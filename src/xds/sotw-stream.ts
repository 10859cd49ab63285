import { RESOURCE_KINDS, TYPE_URLS, kindOfTypeUrl, type ResourceKind } from '../envoy/type-urls.ts';
import type { EncodedResource } from '../snapshot/codec.ts';
import type { Snapshot } from '../snapshot/snapshot.ts';
import type { ClientStream, NackRecord, StreamEvents as ClientStreamEvents, TypeSyncView } from './client-view.ts';
import type { DiscoveryRequest, NodeInfo } from './messages.ts';
import { Subscription, type SubscriptionSelector } from './subscription.ts';
import { SelectionCache, SubscriptionInterner, subscriptionKey, type Selection } from './selection-cache.ts';
import { clustersFor, routesMayMove } from './make-before-break.ts';
import { SnapshotDiffer } from './snapshot-differ.ts';

/** Work every stream would otherwise repeat for each snapshot; the server shares one across its streams. */
export interface SharedWork {
  differ: SnapshotDiffer;
  selections: SelectionCache;
  subscriptions: SubscriptionInterner;
}

export function newSharedWork(differ = new SnapshotDiffer()): SharedWork {
  return { differ, selections: new SelectionCache(), subscriptions: new SubscriptionInterner() };
}

const NO_RESOURCES: ReadonlyMap<string, EncodedResource> = new Map();

/** Per type: what the client asked for, what it was sent, what it accepted and what it refused. */
export class SotwTypeState implements TypeSyncView {
  readonly versionsPerResource = false;
  readonly requested: Subscription;
  sentVersion?: string;
  sentNonce?: string;
  sentAt?: Date;
  sentSequence?: number;
  /** Every resource of the last response's type (a partial response keeps the ones it leaves out). */
  sentResources: ReadonlyMap<string, EncodedResource> = NO_RESOURCES;
  ackedVersion?: string;
  ackedAt?: Date;
  ackedResources: ReadonlyMap<string, EncodedResource> = NO_RESOURCES;
  syncedThrough?: number;
  lastNack?: NackRecord;
  /** The version a reconnecting client said it runs, kept until there is a snapshot to compare it with. */
  claimedVersion?: string;

  constructor(requested: Subscription) {
    this.requested = requested;
  }

  get subscription(): SubscriptionSelector {
    return this.requested.selector;
  }

  get heldResources(): ReadonlyMap<string, EncodedResource> {
    return this.sentResources;
  }

  /** The NACK that rejected the latest response, if the latest response was rejected. */
  get standingNack(): NackRecord | undefined {
    return this.lastNack && this.lastNack.nonce === this.sentNonce ? this.lastNack : undefined;
  }
}

export type StreamEvents = ClientStreamEvents<DiscoveryRequest>;

export interface Push {
  kind: ResourceKind;
  typeUrl: string;
  version: string;
  nonce: string;
  /** Resource names and their encoded Any, index for index. */
  names: readonly string[];
  resources: readonly Uint8Array[];
  /** Only the resources that changed since the last response the client accepted (EDS and RDS, see below). */
  partial: boolean;
}

/**
 * In state of the world only LDS and CDS responses must hold every resource; an EDS or RDS response may
 * carry just the resources that changed, and clients keep the ones it leaves out (xDS protocol, "Grouping
 * Resources into Responses"; grpc-js-xds and gRPC C-core follow it). So one model's endpoints change sends one
 * ClusterLoadAssignment, not all of them.
 */
const PARTIAL_KINDS: ReadonlySet<ResourceKind> = new Set(['endpoint', 'route']);

/**
 * When a newer response replaces one still waiting to be written: a complete one simply wins; a partial one
 * keeps the waiting response's resources that it does not itself carry, so nothing is lost.
 */
export function mergePushes(older: Push, newer: Push): Push {
  if (!newer.partial) return newer;
  const replaced = new Set(newer.names);
  const kept = older.names.flatMap((name, index) => (replaced.has(name) ? [] : [index]));
  return {
    ...newer,
    names: [...kept.map((index) => older.names[index]!), ...newer.names],
    resources: [...kept.map((index) => older.resources[index]!), ...newer.resources],
    partial: older.partial,
  };
}

/**
 * The state-of-the-world protocol for one ADS stream, free of gRPC so it can be tested directly.
 * A response goes out only when a type is first requested, its subscription changes, or the snapshot
 * changes what the client would receive. A NACK is recorded and never answered with a push, so a client
 * that rejects a resource is not pushed the same thing in a loop.
 */
export class SotwStream implements ClientStream {
  readonly id: string;
  readonly connectedAt: Date;
  node: NodeInfo | undefined;
  readonly #types = new Map<ResourceKind, SotwTypeState>();
  readonly #send: (push: Push) => void;
  readonly #events: StreamEvents;
  readonly #now: () => Date;
  readonly #shared: SharedWork;
  /**
   * Per type, the snapshot of the last response the client accepted: partial responses carry everything that
   * changed since, so what is still in flight, or was refused, is sent again rather than lost.
   */
  readonly #ackedBase = new Map<ResourceKind, Snapshot>();
  /** Per type, the snapshot the last response came from (it becomes the base when ACKed). */
  readonly #sentSnapshot = new Map<ResourceKind, Snapshot>();
  /** Per type, the key of the current subscription in the shared selection cache. */
  readonly #subscriptionKeys = new Map<ResourceKind, string>();
  /** The newest snapshot seen: what held-back changes (see make-before-break.ts) catch up with. */
  #latest: Snapshot | undefined;
  #nonce = 0;

  constructor(id: string, send: (push: Push) => void, events: StreamEvents, now: () => Date = () => new Date(), shared: SharedWork = newSharedWork()) {
    this.id = id;
    this.#send = send;
    this.#events = events;
    this.#now = now;
    this.#shared = shared;
    this.connectedAt = now();
  }

  syncState(): ReadonlyMap<ResourceKind, SotwTypeState> {
    return this.#types;
  }

  onRequest(request: DiscoveryRequest, snapshot: Snapshot | undefined): void {
    if (request.node && !this.node) this.node = request.node;
    // The client's zone decides which ClusterLoadAssignments it gets (zone failover): from here on, every
    // snapshot this stream sees is its zone's view.
    snapshot = snapshot?.forZone(this.node?.zone);
    const kind = kindOfTypeUrl(request.typeUrl);
    if (!kind) return this.#events.ignored(`unsupported type ${request.typeUrl}`, request);
    const previous = this.#types.get(kind);
    if (previous && request.responseNonce !== '' && request.responseNonce !== previous.sentNonce) {
      return this.#events.ignored(`stale nonce ${request.responseNonce} (latest ${previous.sentNonce})`, request);
    }
    let namesKey: string | undefined;
    const intern = (names: ReadonlySet<string>) => this.#shared.subscriptions.intern((namesKey = subscriptionKey(kind, names)), names) as ReadonlySet<string>;
    const state = previous ?? new SotwTypeState(Subscription.sotw(kind, request.resourceNames, intern));
    const subscriptionChanged = !previous || state.requested.replace(request.resourceNames, intern);
    if (subscriptionChanged) {
      // Until the client accepts a response for the new subscription, responses stay complete.
      this.#ackedBase.delete(kind);
      this.#subscriptionKeys.set(kind, state.requested.wildcard || namesKey === undefined ? subscriptionKey(kind, state.subscription) : namesKey);
    }
    this.#types.set(kind, state);
    if (previous && request.responseNonce !== '') this.#recordReply(kind, state, request);
    else if (!previous && request.versionInfo !== '') {
      // Before the first snapshot (a replica still starting) the claim waits for it.
      if (!snapshot) state.claimedVersion = request.versionInfo;
      else if (this.#resume(kind, state, request.versionInfo, snapshot)) return;
    }
    if (subscriptionChanged) this.#push(kind, snapshot, true);
    // The same request again, naming no response: it was answered, and is answered again only if what it
    // selects has changed since (below). Resending in full would let a client multiply its bytes by ~1,000.
    else if (request.responseNonce === '') this.#events.ignored('repeated request without a nonce: nothing new to send', request);
    this.#catchUp(snapshot);
  }

  /**
   * A client reconnecting (after a control-plane restart, or to another replica) names the version it runs.
   * Versions hash the selected resources' names and content, so the same version means it already holds
   * exactly this selection: nothing is resent, and it counts as in sync (as go-control-plane does).
   */
  #resume(kind: ResourceKind, state: SotwTypeState, clientVersion: string, snapshot: Snapshot): boolean {
    const selection = this.#selection(kind, state, snapshot);
    if (selection.version !== clientVersion) return false;
    state.sentVersion = state.ackedVersion = clientVersion;
    state.sentResources = state.ackedResources = selection.view;
    state.sentSequence = state.syncedThrough = snapshot.sequence;
    state.ackedAt = this.#now();
    this.#ackedBase.set(kind, snapshot);
    this.#sentSnapshot.set(kind, snapshot);
    return true;
  }

  onSnapshot(published: Snapshot): void {
    const snapshot = published.forZone(this.node?.zone);
    for (const kind of RESOURCE_KINDS) {
      if (this.#types.has(kind)) this.#push(kind, snapshot, false);
    }
    this.#latest = snapshot;
  }

  /** An ACK or a new subscription may release routes held for warming clusters, or clusters kept for routes. */
  #catchUp(snapshot: Snapshot | undefined): void {
    if (snapshot && (!this.#latest || snapshot.sequence >= this.#latest.sequence)) this.#latest = snapshot;
    for (const kind of ['cluster', 'endpoint', 'route'] as const) {
      if (this.#types.has(kind)) this.#push(kind, this.#latest, false);
    }
  }

  /**
   * Where a type's response comes from (make-before-break.ts): clusters and endpoints keep what the routes the
   * client may run still name; routes wait (or, when asked, repeat the last ones) while new clusters warm.
   */
  #source(kind: ResourceKind, target: Snapshot, force: boolean): Snapshot | undefined {
    const clusters = this.#types.get('cluster');
    const wildcard = clusters?.subscription === 'wildcard';
    const routesSent = this.#sentSnapshot.get('route');
    if (kind === 'cluster' || kind === 'endpoint') return clustersFor(this.#shared.differ, [routesSent, this.#ackedBase.get('route')], target);
    if (kind !== 'route' || !clusters) return target;
    const endpoints = this.#types.get('endpoint');
    const ready = routesMayMove(this.#shared.differ, routesSent, target, {
      wildcard,
      accepted: (name) => clusters.ackedResources.has(name),
      refused: clusters.standingNack !== undefined,
      endpointsSent: (name) => endpoints?.sentResources.has(name),
    });
    return ready ? target : force ? routesSent : undefined;
  }

  #recordReply(kind: ResourceKind, state: SotwTypeState, request: DiscoveryRequest): void {
    if (request.errorDetail) {
      const nack: NackRecord = {
        nonce: request.responseNonce,
        version: state.sentVersion ?? '',
        sequence: state.sentSequence ?? 0,
        keptVersion: request.versionInfo,
        code: request.errorDetail.code,
        message: request.errorDetail.message,
        at: this.#now(),
      };
      state.lastNack = nack;
      this.#events.nack(kind, this.node, nack);
      return;
    }
    state.ackedVersion = request.versionInfo;
    state.ackedAt = this.#now();
    if (request.versionInfo === state.sentVersion) {
      state.ackedResources = state.sentResources;
      if (state.sentSequence !== undefined) state.syncedThrough = state.sentSequence;
      const sent = this.#sentSnapshot.get(kind);
      if (sent) this.#ackedBase.set(kind, sent);
    }
    this.#events.ack(kind, this.node, request.versionInfo);
  }

  /** What the client's subscription selects from the snapshot, worked out once for all streams alike. */
  #selection(kind: ResourceKind, state: SotwTypeState, snapshot: Snapshot): Selection {
    const key = this.#subscriptionKeys.get(kind) ?? subscriptionKey(kind, state.subscription);
    return this.#shared.selections.get(snapshot, kind, state.subscription, key);
  }

  #push(kind: ResourceKind, target: Snapshot | undefined, force: boolean): void {
    const state = this.#types.get(kind);
    const snapshot = state && target ? this.#source(kind, target, force) : undefined;
    if (!state || !snapshot) return;
    const claimed = state.claimedVersion;
    state.claimedVersion = undefined;
    if (claimed !== undefined && this.#resume(kind, state, claimed, snapshot)) return;
    const selection = this.#selection(kind, state, snapshot);
    const version = selection.version;
    const base = this.#ackedBase.get(kind);
    if (!force && version === state.sentVersion) {
      this.#rebase(kind, state, snapshot, selection);
      return this.#unchanged(state, snapshot);
    }
    if (!force && base === snapshot) return this.#unchanged(state, snapshot);
    let outgoing = selection.resources;
    let resources = selection.anys;
    const partial = !force && base !== undefined && PARTIAL_KINDS.has(kind);
    if (partial) {
      outgoing = this.#shared.differ.changed(base, snapshot, kind).flatMap((name) => selection.view.get(name) ?? []);
      resources = outgoing.map((resource) => resource.any);
    }
    // Only removals (which EDS and RDS responses cannot express; CDS and LDS drop the references): nothing to send.
    if (partial && outgoing.length === 0) return this.#unchanged(state, snapshot);
    this.#sentSnapshot.set(kind, snapshot);
    const nonce = String(++this.#nonce);
    state.sentVersion = version;
    state.sentNonce = nonce;
    state.sentAt = this.#now();
    state.sentSequence = snapshot.sequence;
    state.sentResources = selection.view;
    // A complete response is the selection itself, whose names and size every stream shares.
    const names = partial ? outgoing.map((resource) => resource.name) : selection.names;
    const bytes = partial ? resources.reduce((sum, any) => sum + any.length, 0) : selection.bytes;
    this.#send({ kind, typeUrl: TYPE_URLS[kind], version, nonce, names, resources, partial });
    this.#events.push(kind, resources.length, bytes);
  }

  /**
   * This snapshot selects for the client exactly what the last response carried, so it stands in for that
   * response's snapshot (and for the accepted one, when that is the same). Otherwise a type that never
   * changes would pin the snapshot each stream connected at: thousands of snapshots for thousands of streams.
   */
  #rebase(kind: ResourceKind, state: SotwTypeState, snapshot: Snapshot, selection: Selection): void {
    const sent = this.#sentSnapshot.get(kind);
    if (!sent || sent === snapshot) return;
    if (this.#ackedBase.get(kind) === sent) {
      this.#ackedBase.set(kind, snapshot);
      if (state.ackedResources === state.sentResources) state.ackedResources = selection.view;
    }
    this.#sentSnapshot.set(kind, snapshot);
    state.sentResources = selection.view;
  }

  /** Nothing new for this client: if it accepted what it has, it is in sync with this snapshot too. */
  #unchanged(state: SotwTypeState, snapshot: Snapshot): void {
    if (state.ackedVersion === state.sentVersion && !state.standingNack) state.syncedThrough = snapshot.sequence;
  }
}
