import { modelTableName } from '../envoy/names.ts';
import type { ResourceKind } from '../envoy/type-urls.ts';
import type { PolicySource } from '../model/types.ts';
import type { ClientStream, TypeSyncView } from './client-view.ts';
import { StreamGroups, pendingNodes, type SubscriptionOf } from './rollout-groups.ts';

/** A model's current version entered the mesh in this snapshot. */
export interface ModelChange {
  model: string;
  sequence: number;
  /** When the controller saw the change (ms since epoch): the start of its convergence time. */
  observedAt: number;
  source?: PolicySource;
  /** The model's cluster (and EDS) names. */
  clusters: readonly string[];
  /**
   * The model's own route tables (`<grpc target>/<name>` for its name and each alias), which on-demand
   * sidecars and per-model proxyless targets subscribe to. Without it, the table of the model's name only.
   */
  tables?: readonly string[];
}

export type RolloutState = 'pending' | 'live' | 'degraded';

export interface ProxyRejection {
  node: string;
  pod?: string;
  namespace?: string;
  type: ResourceKind;
  rejectedVersion: string;
  error: string;
  /** The policy changes that went into the rejected version: where an operator should look. */
  causes: { model: string; source: string }[];
}

export interface ModelRollout {
  model: string;
  sequence: number;
  state: RolloutState;
  source?: string;
  proxies: { relevant: number; live: number; pending: string[]; rejected: ProxyRejection[] };
  /** Seconds from the change being observed to every relevant proxy ACKing it, once that happened. */
  convergedSeconds?: number;
}

export interface RolloutObserver {
  converged(seconds: number): void;
  states(counts: Record<RolloutState, number>): void;
}

function describeSource(source: PolicySource | undefined): string | undefined {
  return source ? `${source.namespace}/${source.configMap} key "${source.key}" [doc ${source.index}]` : undefined;
}

function covers(subscription: ReadonlySet<string> | 'wildcard', names: readonly string[]): boolean {
  return subscription === 'wildcard' || names.every((name) => subscription.has(name));
}

/**
 * A sidecar that routes by scopes (it subscribes to SRDS) loads a model's table on its first request for it
 * and each cluster on the first request a route sends there (on-demand CDS, one backend at a time): what it
 * does not hold yet it fetches at the current version, so it carries a change once what it holds is synced.
 */
function loadsOnDemand(stream: ClientStream): boolean {
  return stream.syncState().has('scopedRoute');
}

/**
 * The types of a stream that must carry the model, or undefined when the stream does not use it at all: it
 * neither subscribes to a route table holding the model (a whole-mesh one or the model's own) nor to one of
 * its clusters. On-demand sidecars that never called the model, and proxyless clients on another model's
 * target, are not waited for.
 */
function relevantTypes(stream: ClientStream, change: ModelChange, routeNames: readonly string[], subscriptionOf: SubscriptionOf): ResourceKind[] | undefined {
  const sync = stream.syncState();
  const route = sync.get('route');
  const subscribed = route?.subscription;
  const usesRoutes = subscribed !== undefined && subscribed !== 'wildcard' && routeNames.some((name) => subscribed.has(name));
  const cluster = sync.get('cluster');
  const clusters = cluster && subscriptionOf(cluster);
  const usesClusters = clusters !== undefined && (clusters === 'wildcard' || change.clusters.some((name) => clusters.has(name)));
  if (!usesRoutes && !usesClusters) return undefined;
  const types: ResourceKind[] = [];
  if (route && usesRoutes) types.push('route');
  if (cluster) types.push('cluster');
  if (sync.get('endpoint')) types.push('endpoint');
  // Scopes name the model's tables: a sidecar that refused or has not ACKed them does not run the change.
  if (sync.get('scopedRoute')) types.push('scopedRoute');
  return types;
}

/**
 * ACK-gated model state. A model's latest change is `pending` until every connected proxy that uses it has
 * ACKed a snapshot at least as new as the change for each type that carries it (and, unless it loads them on
 * demand, subscribed to its clusters), then `live`; `degraded` as soon as one of those proxies NACKs a version that carries it, naming
 * the proxy, its error and the policy changes that went into the rejected version.
 */
export class RolloutTracker {
  /**
   * The route configurations that carry every model (the gRPC target's, xds:///infermesh). A model's own
   * tables are `<route name>/<model>` unless its change lists them (ModelChange.tables).
   */
  readonly #routeNames: readonly string[];
  readonly #observer: RolloutObserver | undefined;
  readonly #now: () => number;
  readonly #latest = new Map<string, ModelChange>();
  readonly #history: ModelChange[] = [];
  readonly #converged = new Map<string, number>();

  constructor(options: { routeNames: readonly string[]; observer?: RolloutObserver; now?: () => number }) {
    this.#routeNames = options.routeNames;
    this.#observer = options.observer;
    this.#now = options.now ?? Date.now;
  }

  /** Called when a snapshot is published: which models changed in it, and which still exist. */
  recordSnapshot(changes: readonly ModelChange[], current: ReadonlySet<string>): void {
    for (const change of changes) {
      this.#latest.set(change.model, change);
      this.#converged.delete(change.model);
      this.#history.push(change);
    }
    for (const model of [...this.#latest.keys()]) if (!current.has(model)) this.#latest.delete(model);
    // Keep enough history to explain any rejection a connected proxy can still be stuck on.
    if (this.#history.length > 10_000) this.#history.splice(0, this.#history.length - 10_000);
  }

  /** The changes published after `after` and up to `through`. */
  changesBetween(after: number, through: number): ModelChange[] {
    return this.#history.filter((change) => change.sequence > after && change.sequence <= through);
  }

  evaluate(streams: readonly ClientStream[]): ModelRollout[] {
    const groups = new StreamGroups(streams);
    const pendingLists = new Map<string, string[]>();
    const rollouts = [...this.#latest.values()].sort((a, b) => (a.model < b.model ? -1 : 1)).map((change) => this.#evaluateOne(change, groups, pendingLists));
    const counts: Record<RolloutState, number> = { pending: 0, live: 0, degraded: 0 };
    for (const rollout of rollouts) counts[rollout.state] += 1;
    this.#observer?.states(counts);
    return rollouts;
  }

  /** Judged once per group of alike streams, then again for the streams whose own route tables carry the model (rollout-groups.ts). */
  #evaluateOne(change: ModelChange, groups: StreamGroups, pendingLists: Map<string, string[]>): ModelRollout {
    let relevant = 0;
    let live = 0;
    const pendingGroups: number[] = [];
    const rejected: ProxyRejection[] = [];
    const tables = change.tables ?? this.#routeNames.map((name) => modelTableName(name, change.model));
    const routeNames = [...this.#routeNames, ...tables];
    const verdicts = groups.list.map((group, index) => {
      const verdict = group.alone ? this.#judge(group.sample, group.nodes[0]!, change, routeNames, rejected) : this.#judge(group.sample, group.nodes[0]!, change, [], rejected, groups.asGroup);
      if (verdict === 'irrelevant') return verdict;
      relevant += group.nodes.length;
      if (verdict === 'live') live += group.nodes.length;
      else pendingGroups.push(index);
      return verdict;
    });
    // Streams that name the model's tables or clusters themselves are judged again, in full.
    const extra: string[] = [];
    const cleared = new Set<number>();
    for (const i of groups.namedUsers(routeNames, change.clusters)) {
      const group = groups.groupOf[i]!;
      if (groups.list[group]!.alone) continue;
      const before = verdicts[group];
      const verdict = this.#judge(groups.streams[i]!, groups.nodeOf[i]!, change, routeNames, rejected);
      relevant += Number(verdict !== 'irrelevant') - Number(before !== 'irrelevant');
      live += Number(verdict === 'live') - Number(before === 'live');
      if (verdict === 'pending' && before !== 'pending') extra.push(groups.nodeOf[i]!);
      if (verdict !== 'pending' && before === 'pending') cleared.add(i);
    }
    const grouped = cleared.size > 0 ? groups.nodeOf.filter((_, i) => verdicts[groups.groupOf[i]!] === 'pending' && !cleared.has(i)) : pendingNodes(groups, pendingGroups, pendingLists);
    const pending = extra.length > 0 ? [...grouped, ...extra] : grouped;
    const state: RolloutState = rejected.length > 0 ? 'degraded' : pending.length > 0 ? 'pending' : 'live';
    const convergedSeconds = this.#convergence(change, state, relevant);
    const source = describeSource(change.source);
    return { model: change.model, sequence: change.sequence, state, ...(source ? { source } : {}), proxies: { relevant, live, pending, rejected }, ...(convergedSeconds !== undefined ? { convergedSeconds } : {}) };
  }

  /** Whether one stream carries the change; its rejections of it are added to `rejected`. */
  #judge(stream: ClientStream, node: string, change: ModelChange, routeNames: readonly string[], rejected: ProxyRejection[], subscriptionOf: SubscriptionOf = (state) => state.subscription): 'irrelevant' | 'live' | 'pending' {
    const types = relevantTypes(stream, change, routeNames, subscriptionOf);
    if (!types) return 'irrelevant';
    const onDemand = loadsOnDemand(stream);
    let synced = true;
    for (const type of types) {
      const state: TypeSyncView | undefined = stream.syncState().get(type);
      if (!state) continue;
      const nack = state.standingNack;
      if (nack && nack.sequence >= change.sequence) {
        const causes = this.changesBetween(state.syncedThrough ?? 0, nack.sequence).map((c) => ({ model: c.model, source: describeSource(c.source) ?? '(unknown)' }));
        rejected.push({ node, ...(stream.node?.pod ? { pod: stream.node.pod } : {}), ...(stream.node?.namespace ? { namespace: stream.node.namespace } : {}), type, rejectedVersion: nack.version, error: nack.message, causes });
      }
      const carries = type === 'route' || type === 'scopedRoute' || onDemand || covers(subscriptionOf(state), change.clusters);
      if (!carries || (state.syncedThrough ?? -1) < change.sequence) synced = false;
    }
    return synced ? 'live' : 'pending';
  }

  /** Recorded once per change, when it first goes live; a change no proxy uses converges trivially, unrecorded. */
  #convergence(change: ModelChange, state: RolloutState, relevant: number): number | undefined {
    const known = this.#converged.get(change.model);
    if (known !== undefined || state !== 'live') return known;
    const seconds = relevant === 0 ? 0 : Math.max(0, (this.#now() - change.observedAt) / 1000);
    this.#converged.set(change.model, seconds);
    if (relevant > 0) this.#observer?.converged(seconds);
    return seconds;
  }
}
