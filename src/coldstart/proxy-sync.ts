import type { ResourceKind } from '../envoy/type-urls.ts';
import type { ClientStream } from '../xds/client-view.ts';

/** The types a sidecar's copy of a model spans: its table, the scope naming it, its clusters and endpoints. */
const TYPES: readonly ResourceKind[] = ['route', 'scopedRoute', 'cluster', 'endpoint'];

/**
 * Whether a node (by id) has ACKed a snapshot at least as new as `sequence` for every type it subscribes to,
 * as the rollout judges a proxy (xds/rollout.ts); undefined when no stream of that node is connected. One
 * index of the streams per call, so settling many holds reads the streams once.
 */
export function proxySyncIndex(streams: readonly ClientStream[]): (node: string, sequence: number) => boolean | undefined {
  const byNode = new Map<string, ClientStream[]>();
  for (const stream of streams) {
    const id = stream.node?.id;
    if (id === undefined) continue;
    const list = byNode.get(id);
    if (list) list.push(stream);
    else byNode.set(id, [stream]);
  }
  return (node, sequence) => {
    const list = byNode.get(node);
    if (!list) return undefined;
    return list.some((stream) => {
      const sync = stream.syncState();
      return TYPES.every((type) => {
        const state = sync.get(type);
        return state === undefined || (state.syncedThrough ?? -1) >= sequence;
      });
    });
  };
}
