import type { ClientStream } from './client-view.ts';

/**
 * Streams that judge every model alike, so rollout judges a model once per group rather than once per stream:
 * with a thousand proxies and a thousand models, per-stream judging was a million checks after every burst of
 * ACKs, most of the server's CPU during a connect storm.
 *
 * A group's streams have the same types, each (but routes) under the very same subscription object (SotW
 * subscriptions are interned between streams) and synced as far. Route subscriptions differ between proxies
 * (each names the tables of the models it calls), so they are left out of the key: a group is judged as if
 * it used no route table, and the few streams whose tables carry a model (`routeUsers`) are judged on their
 * own for that model. A stream with a standing NACK is a group of its own (`alone`), judged in full, so the
 * rejection names it.
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

  constructor(streams: readonly ClientStream[]) {
    this.streams = streams;
    const ids = new Map<unknown, number>();
    const idOf = (value: unknown) => {
      let id = ids.get(value);
      if (id === undefined) ids.set(value, (id = ids.size));
      return id;
    };
    const byKey = new Map<string, number>();
    for (const [i, stream] of streams.entries()) {
      let key = '';
      let alone = false;
      for (const [kind, state] of stream.syncState()) {
        alone ||= state.standingNack !== undefined;
        key += kind === 'route' ? 'route;' : `${kind}:${idOf(state.subscription)}:${state.syncedThrough ?? ''};`;
        const subscription = state.subscription;
        if (kind === 'route' && subscription !== 'wildcard') {
          for (const name of subscription) {
            const users = this.#routeUsers.get(name);
            if (users) users.push(i);
            else this.#routeUsers.set(name, [i]);
          }
        }
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

  /** The streams (by index, in order) that subscribe by name to one of these route tables. */
  routeUsers(names: readonly string[]): number[] {
    const users = new Set<number>();
    for (const name of names) for (const i of this.#routeUsers.get(name) ?? []) users.add(i);
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
