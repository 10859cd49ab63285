import type { ClientStream, TypeSyncView } from './client-view.ts';
import type { SubscriptionSelector } from './subscription.ts';

/** The subscription a type is judged by. */
export type SubscriptionOf = (state: TypeSyncView) => SubscriptionSelector;

const NOTHING: ReadonlySet<string> = new Set();

/**
 * Streams that judge every model alike, so rollout judges a model once per group rather than once per stream:
 * with a thousand proxies and a thousand models, per-stream judging was a million checks after every burst of
 * ACKs, most of the server's CPU during a connect storm.
 *
 * A group's streams have the same types, synced as far, each under the very same subscription object where
 * streams share one (SotW subscriptions are interned between streams; wildcards). Route subscriptions, and
 * cluster and endpoint subscriptions no other stream shares (a delta sidecar's own, naming the models it
 * calls), are left out of the key: the group is judged as if those named nothing (`asGroup`), and for each
 * model the few streams whose own names include its tables or clusters (`namedUsers`) are judged in full.
 * Judging "names nothing" and "names none of this model's" agree on every model. A stream with a standing
 * NACK is a group of its own (`alone`), judged in full, so the rejection names it.
 */
export interface StreamGroup {
  sample: ClientStream;
  alone: boolean;
  /** Node ids of the members, in stream order. */
  nodes: string[];
}

export class StreamGroups {
  readonly list: StreamGroup[] = [];
  readonly streams: readonly ClientStream[];
  /** Per stream (by index): its group and its node id. */
  readonly groupOf: number[] = [];
  readonly nodeOf: string[] = [];
  /** Route table name -> the streams (by index) that subscribe to it by name. */
  readonly #routeUsers = new Map<string, number[]>();
  /** Cluster name -> the streams (by index) whose own cluster or endpoint subscription names it. */
  readonly #clusterUsers = new Map<string, number[]>();
  /** Cluster and endpoint subscriptions of a single stream: judged as naming nothing in a group. */
  readonly #own = new Set<SubscriptionSelector>();
  readonly asGroup: SubscriptionOf = (state) => (this.#own.has(state.subscription) ? NOTHING : state.subscription);

  constructor(streams: readonly ClientStream[]) {
    this.streams = streams;
    const ids = new Map<unknown, number>();
    const idOf = (value: unknown) => {
      let id = ids.get(value);
      if (id === undefined) ids.set(value, (id = ids.size));
      return id;
    };
    const holders = new Map<SubscriptionSelector, number>();
    for (const stream of streams) {
      for (const [kind, state] of stream.syncState()) if (kind === 'cluster' || kind === 'endpoint') holders.set(state.subscription, (holders.get(state.subscription) ?? 0) + 1);
    }
    const indexNames = (users: Map<string, number[]>, names: Iterable<string>, i: number) => {
      for (const name of names) {
        const list = users.get(name);
        if (list === undefined) users.set(name, [i]);
        else if (list.at(-1) !== i) list.push(i);
      }
    };
    const byKey = new Map<string, number>();
    for (const [i, stream] of streams.entries()) {
      let key = '';
      let alone = false;
      for (const [kind, state] of stream.syncState()) {
        alone ||= state.standingNack !== undefined;
        const subscription = state.subscription;
        if (kind === 'route') {
          key += 'route;';
          if (subscription !== 'wildcard') indexNames(this.#routeUsers, subscription, i);
          continue;
        }
        const own = subscription !== 'wildcard' && (kind === 'cluster' || kind === 'endpoint') && holders.get(subscription) === 1;
        if (own) {
          this.#own.add(subscription);
          indexNames(this.#clusterUsers, subscription, i);
        }
        key += `${kind}:${own ? 'own' : idOf(subscription)}:${state.syncedThrough ?? ''};`;
      }
      if (alone) key = `alone ${i}`;
      const node = stream.node?.id ?? `stream ${stream.id}`;
      let index = byKey.get(key);
      if (index === undefined) {
        byKey.set(key, (index = this.list.length));
        this.list.push({ sample: stream, alone, nodes: [] });
      }
      this.list[index]!.nodes.push(node);
      this.groupOf.push(index);
      this.nodeOf.push(node);
    }
  }

  /** The streams (by index, in order) that name one of these route tables, or one of these clusters in a subscription of their own. */
  namedUsers(tables: readonly string[], clusters: readonly string[]): number[] {
    const users = new Set<number>();
    for (const name of tables) for (const i of this.#routeUsers.get(name) ?? []) users.add(i);
    for (const name of clusters) for (const i of this.#clusterUsers.get(name) ?? []) users.add(i);
    return [...users].sort((a, b) => a - b);
  }
}

/** The nodes of the pending groups in stream order; models with the same pending groups share one list. */
export function pendingNodes(groups: StreamGroups, pendingGroups: readonly number[], lists: Map<string, string[]>): string[] {
  if (pendingGroups.length === 0) return [];
  if (pendingGroups.length === 1) return groups.list[pendingGroups[0]!]!.nodes;
  const key = pendingGroups.join(',');
  let list = lists.get(key);
  if (!list) {
    const pending = new Set(pendingGroups);
    list = groups.nodeOf.filter((_, i) => pending.has(groups.groupOf[i]!));
    lists.set(key, list);
  }
  return list;
}
