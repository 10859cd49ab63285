import { RESOURCE_KINDS, TYPE_URLS, kindOfTypeUrl, type ResourceKind } from '../envoy/type-urls.ts';
import type { EncodedResource } from '../snapshot/codec.ts';
import type { Snapshot } from '../snapshot/snapshot.ts';
import type { ClientStream, StreamEvents } from './client-view.ts';
import type { DeltaDiscoveryRequest } from './delta-messages.ts';
import type { NodeInfo } from './messages.ts';
import { clustersFor, routesMayMove } from './make-before-break.ts';
import { Changes, DeltaTypeState } from './delta-type-state.ts';
import { SnapshotDiffer } from './snapshot-differ.ts';
import { Subscription } from './subscription.ts';

/** One DeltaDiscoveryResponse: only what changed for this client. Never empty. */
export interface DeltaPush {
  kind: ResourceKind;
  typeUrl: string;
  /** system_version_info: the snapshot version (debugging only; delta clients ACK by nonce). */
  version: string;
  nonce: string;
  resources: readonly EncodedResource[];
  removed: readonly string[];
}

export type DeltaStreamEvents = StreamEvents<DeltaDiscoveryRequest>;

/**
 * The incremental (delta) xDS protocol for one ADS stream, free of gRPC so it can be tested directly
 * (Envoy's api-docs/xds_protocol.rst, "Incremental xDS"). A response carries only the resources that
 * changed for this client and the names it must drop; nothing is sent when nothing changed. A NACK is
 * recorded and never answered with a push.
 */
export class DeltaStream implements ClientStream {
  readonly id: string;
  readonly connectedAt: Date;
  node: NodeInfo | undefined;
  readonly #types = new Map<ResourceKind, DeltaTypeState>();
  readonly #send: (push: DeltaPush) => void | Promise<void>;
  readonly #events: DeltaStreamEvents;
  readonly #now: () => Date;
  readonly #differ: SnapshotDiffer;
  #nonce = 0;
  /** A response the transport has not taken yet; meanwhile new snapshots wait (the latest only) in #waiting. */
  #inFlight = false;
  #waiting: Snapshot | undefined;
  /** The newest snapshot seen, and the routes the client last accepted all of (see make-before-break.ts). */
  #latest: Snapshot | undefined;
  #routesAccepted: Snapshot | undefined;

  /**
   * `send` may return a promise settled once the transport has taken the response. Until then no other
   * response is written: snapshots published meanwhile wait (only the latest), and what requests change
   * waits per type, merged (DeltaTypeState.unsent). When the transport drains, each type's next response is
   * worked out from what the client has then, in make-before-break order (go-control-plane's delta loop
   * does the same with blocking sends). A client that reads slowly or not at all so costs one response in
   * flight and at most one waiting per type, whatever the churn.
   */
  constructor(id: string, send: (push: DeltaPush) => void | Promise<void>, events: DeltaStreamEvents, now: () => Date = () => new Date(), differ = new SnapshotDiffer()) {
    this.id = id;
    this.#send = send;
    this.#events = events;
    this.#now = now;
    this.#differ = differ;
    this.connectedAt = now();
  }

  syncState(): ReadonlyMap<ResourceKind, DeltaTypeState> {
    return this.#types;
  }

  onRequest(request: DeltaDiscoveryRequest, snapshot: Snapshot | undefined): void {
    if (request.node && !this.node) this.node = request.node;
    // The client's zone decides which ClusterLoadAssignments it gets (zone failover): from here on, every
    // snapshot this stream sees is its zone's view.
    snapshot = snapshot?.forZone(this.node?.zone);
    const kind = kindOfTypeUrl(request.typeUrl);
    if (!kind) return this.#events.ignored(`unsupported type ${request.typeUrl}`, request);
    const existing = this.#types.get(kind);
    const state = existing ?? this.#firstSubscription(kind, request, snapshot);
    this.#types.set(kind, state);
    // A request may both answer a response and change the subscription: "the server must honor changes
    // to the subscription state even if the nonce is stale" (xds_protocol.rst, "Incremental xDS").
    if (request.responseNonce !== '') this.#recordReply(kind, state, request);
    const changes = new Changes();
    // Forward only: a request handled with an older snapshot than this type has seen uses the newer one.
    const basis = state.basis;
    const newest = !snapshot || (basis && snapshot.sequence <= basis.sequence) ? basis : snapshot;
    const current = newest && (this.#source(kind, newest) ?? basis);
    if (current) this.#advance(kind, state, current, changes);
    if (existing) this.#changeSubscription(kind, state, request, changes);
    if (current && !state.basis) this.#reconcileAll(kind, state, current, changes);
    if (current) this.#flush(kind, state, current, changes);
    // The published snapshot, never `newest`: a type's basis may be a bridge (clusters kept for old routes).
    this.#catchUp(snapshot);
  }

  /**
   * Where a type's changes come from (make-before-break.ts): clusters and endpoints keep what the routes the
   * client may run still name; routes wait (undefined) while the clusters they add warm.
   */
  #source(kind: ResourceKind, target: Snapshot): Snapshot | undefined {
    const clusters = this.#types.get('cluster');
    const wildcard = clusters?.requested.wildcard ?? false;
    const routes = this.#types.get('route')?.basis;
    if (kind === 'cluster' || kind === 'endpoint') return clustersFor(this.#differ, [routes, this.#routesAccepted], target);
    if (kind !== 'route' || !clusters) return target;
    const endpoints = this.#types.get('endpoint');
    // Built only when the routes add a cluster: it walks every cluster the client holds, on every stream.
    let accepted: ReadonlyMap<string, unknown> | undefined;
    const ready = routesMayMove(this.#differ, routes, target, {
      wildcard,
      accepted: (name) => (accepted ??= clusters.ackedResources).has(name),
      refused: clusters.rejected.size > 0,
      endpointsSent: (name) => (endpoints ? endpoints.requested.covers(name) && endpoints.basis?.resources('endpoint').has(name) === true : undefined),
    });
    return ready ? target : undefined;
  }

  /** An answer or a subscription may release routes held for warming clusters, or clusters kept for routes. */
  #catchUp(snapshot: Snapshot | undefined): void {
    if (snapshot && (!this.#latest || snapshot.sequence >= this.#latest.sequence)) this.#latest = snapshot;
    const latest = this.#latest;
    for (const kind of ['cluster', 'endpoint', 'route'] as const) {
      const state = this.#types.get(kind);
      const source = latest && state?.basis ? this.#source(kind, latest) : undefined;
      if (!state || !source || source === state.basis) continue;
      const changes = new Changes();
      this.#advance(kind, state, source, changes);
      this.#flush(kind, state, source, changes);
    }
  }

  /** Pushes, in CDS, EDS, LDS, RDS order (make before break), what the new snapshot changes here. */
  onSnapshot(published: Snapshot): void {
    const snapshot = published.forZone(this.node?.zone);
    this.#latest = snapshot;
    if (this.#inFlight) {
      this.#waiting = snapshot;
      return;
    }
    for (const kind of RESOURCE_KINDS) {
      const state = this.#types.get(kind);
      const source = state && this.#source(kind, snapshot);
      if (!state || !source) continue;
      const changes = new Changes();
      if (state.basis) this.#advance(kind, state, source, changes);
      else this.#reconcileAll(kind, state, source, changes);
      this.#flush(kind, state, source, changes);
    }
  }

  /** A type's first request (see Subscription); initial_resource_versions counts on the first request only. */
  #firstSubscription(kind: ResourceKind, request: DeltaDiscoveryRequest, snapshot: Snapshot | undefined): DeltaTypeState {
    const requested = Subscription.delta(kind, request.resourceNamesSubscribe, request.resourceNamesUnsubscribe, (name) => intern(snapshot, kind, name));
    const state = new DeltaTypeState(kind, requested, this.#differ);
    state.initialVersions = request.initialResourceVersions;
    return state;
  }

  /**
   * A subscribed name is sent even if the client seems to have it ("the server *must* still provide those
   * resources"), or put in removed_resources if it does not exist ("Knowing When a Requested Resource Does
   * Not Exist"). Unsubscribing needs no answer except while wildcard: then the name is sent again if the
   * wildcard covers it, else removed ("Unsubscribing from Resources"). Turning the wildcard on sends what it
   * adds; turning it off needs no answer (the client drops what only the wildcard covered).
   */
  #changeSubscription(kind: ResourceKind, state: DeltaTypeState, request: DeltaDiscoveryRequest, changes: Changes): void {
    const basis = state.basis;
    const covered = basis ? state.coverage(basis) : () => undefined;
    const answer = (name: string) => {
      const resource = covered(name);
      if (resource) changes.send(resource);
      else if (basis) changes.remove(name);
    };
    const namedBefore = state.requested.wildcard ? undefined : new Set(state.requested.names);
    const update = state.requested.update(request.resourceNamesSubscribe, request.resourceNamesUnsubscribe, (name) => intern(basis, kind, name));
    for (const name of update.subscribed) answer(name);
    if (update.wildcardAdded && namedBefore) for (const [held, resource] of state.heldResources) if (!namedBefore.has(held)) changes.send(resource);
    for (const name of update.unsubscribedUnderWildcard) answer(name);
    for (const name of state.rejected.keys()) if (!covered(name)) state.rejected.delete(name);
  }

  /** From the previous snapshot to `to`: only the names that changed between the two can change here. */
  #advance(kind: ResourceKind, state: DeltaTypeState, to: Snapshot, changes: Changes): void {
    const from = state.basis;
    if (!from || from === to) return;
    const [before, after] = [state.coverage(from), state.coverage(to)];
    for (const name of this.#differ.changed(from, to, kind)) {
      const had = before(name);
      const wants = after(name);
      if (wants && wants.version !== had?.version) changes.send(wants);
      else if (!wants && had) changes.remove(name);
    }
    state.basis = to;
  }

  /**
   * The first snapshot for this type on this stream. A reconnecting client lists what it holds in
   * initial_resource_versions: equal versions are not sent again, others are, and what it holds that is
   * gone (or no longer covered) is removed. Named resources that do not exist are reported removed.
   */
  #reconcileAll(kind: ResourceKind, state: DeltaTypeState, snapshot: Snapshot, changes: Changes): void {
    const initial = state.initialVersions ?? new Map<string, string>();
    const all = snapshot.resources(kind);
    const covered = state.coverage(snapshot);
    const visit = (name: string) => {
      const wants = covered(name);
      const has = initial.get(name);
      if (wants && wants.version !== has) changes.send(wants);
      else if (!wants && (has !== undefined || state.requested.names.has(name))) changes.remove(name);
    };
    // Each name once: every existing one if wildcard, then the named ones, then the ones the client holds.
    const { wildcard, names } = state.requested;
    if (wildcard) for (const name of all.keys()) visit(name);
    for (const name of names) if (!wildcard || !all.has(name)) visit(name);
    for (const name of initial.keys()) if (!names.has(name) && !(wildcard && all.has(name))) visit(name);
    state.basis = snapshot;
    state.initialVersions = undefined;
  }

  /** Queues this type's changes behind what already waits for it, then writes what the transport can take. */
  #flush(kind: ResourceKind, state: DeltaTypeState, snapshot: Snapshot, changes: Changes): void {
    if (changes.empty && !state.unsent) return state.settle();
    if (!state.unsent) state.unsent = changes;
    else state.unsent.absorb(changes);
    state.unsentFrom = snapshot;
    this.#drain();
  }

  /** One response at a time, the waiting types in make-before-break order. */
  #drain(): void {
    while (!this.#inFlight) {
      const kind = RESOURCE_KINDS.find((k) => this.#types.get(k)?.unsent);
      const state = kind && this.#types.get(kind);
      if (!kind || !state?.unsent || !state.unsentFrom) return;
      const [changes, snapshot] = [state.unsent, state.unsentFrom];
      state.unsent = state.unsentFrom = undefined;
      this.#write(kind, state, snapshot, changes);
    }
  }

  #write(kind: ResourceKind, state: DeltaTypeState, snapshot: Snapshot, changes: Changes): void {
    // Resources of a NACKed response ride along with the next response this type needs anyway (a client
    // may have accepted all but one of them), as state of the world resends a whole type when it changes.
    const covered = state.coverage(snapshot);
    for (const name of state.rejected.keys()) {
      const resource = changes.removed.has(name) || changes.resources.has(name) ? undefined : covered(name);
      if (resource) changes.send(resource);
    }
    const nonce = String(++this.#nonce);
    const [resources, removed] = [[...changes.resources.values()], [...changes.removed]];
    state.sentNonce = nonce;
    state.sentVersion = snapshot.version;
    state.sentSequence = snapshot.sequence;
    state.sentAt = this.#now();
    state.remember(nonce, { version: snapshot.version, sequence: snapshot.sequence, resources, removed });
    const written = this.#send({ kind, typeUrl: TYPE_URLS[kind], version: snapshot.version, nonce, resources, removed });
    const bytes = resources.reduce((sum, r) => sum + r.any.length, 0) + removed.reduce((sum, name) => sum + name.length, 0);
    this.#events.push(kind, resources.length, bytes);
    if (!written) return;
    this.#inFlight = true;
    const done = () => this.#written();
    written.then(done, done);
  }

  #written(): void {
    this.#inFlight = false;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting) this.onSnapshot(waiting);
    this.#drain();
  }

  /**
   * ACK = response_nonce without error_detail, NACK = with it. Each delta response is a diff, so every
   * unanswered response is tracked, not only the latest; clients answer in order, so an answer also
   * settles older unanswered ones. A nonce already answered or never sent records nothing. A NACK triggers
   * no push: its resources are retried with the next response this type needs (see #flush).
   */
  #recordReply(kind: ResourceKind, state: DeltaTypeState, request: DeltaDiscoveryRequest): void {
    const nonce = request.responseNonce;
    if (!state.pending.has(nonce)) {
      return this.#events.ignored(`stale or unknown nonce ${nonce} (latest ${state.sentNonce ?? 'none'}): no ACK/NACK recorded`, request);
    }
    for (const [answered, response] of state.pending) {
      state.pending.delete(answered);
      const error = answered === nonce ? request.errorDetail : undefined;
      if (error) {
        for (const resource of response.resources) state.rejected.set(resource.name, resource.version);
        const { version, sequence } = response;
        state.lastNack = { nonce, version, sequence, keptVersion: state.ackedVersion ?? '', code: error.code, message: error.message, at: this.#now() };
        this.#events.nack(kind, this.node, state.lastNack);
      } else {
        for (const name of state.rejected.size > 0 ? [...response.resources.map((r) => r.name), ...response.removed] : []) state.rejected.delete(name);
        if (answered === nonce) {
          state.ackedVersion = response.version;
          state.ackedAt = this.#now();
          this.#events.ack(kind, this.node, response.version);
        }
      }
      if (answered === nonce) break;
    }
    // Refused routes are not run: the client keeps the ones it accepted before, and the clusters they name.
    if (kind === 'route' && state.answered) this.#routesAccepted = state.basis;
    state.settle();
  }
}

/** The snapshot's own copy of a name, so thousands of streams subscribing to it share one string. */
function intern(snapshot: Snapshot | undefined, kind: ResourceKind, name: string): string {
  return snapshot?.resources(kind).get(name)?.name ?? name;
}
