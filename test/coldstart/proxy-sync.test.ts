/** Which sidecar has ACKed what, by node id, from the streams' own views (as rollout and CSDS read them). */
import { describe, expect, it } from 'vitest';
import { proxySyncIndex } from '../../src/coldstart/proxy-sync.ts';
import type { ResourceKind } from '../../src/envoy/type-urls.ts';
import type { ClientStream, TypeSyncView } from '../../src/xds/client-view.ts';
import type { NodeInfo } from '../../src/xds/messages.ts';

function stream(id: string | undefined, synced: Partial<Record<ResourceKind, number | undefined>>): ClientStream {
  const node: NodeInfo | undefined = id === undefined ? undefined : { id, cluster: 'c', userAgentName: 'envoy', userAgentVersion: '', metadata: {}, raw: {} };
  const views = new Map(Object.entries(synced).map(([kind, through]) => [kind as ResourceKind, { syncedThrough: through } as TypeSyncView]));
  return { id: `s-${id}`, connectedAt: new Date(0), node, syncState: () => views, onSnapshot: () => {} };
}

describe('proxySyncIndex', () => {
  it('is synced when every type the node holds has ACKed the sequence', () => {
    const sync = proxySyncIndex([stream('a', { route: 5, scopedRoute: 5, cluster: 6, endpoint: 5, listener: 1 })]);
    expect(sync('a', 5)).toBe(true);
    expect(sync('a', 6)).toBe(false);
  });

  it('is not synced while one type lags (endpoints not ACKed yet)', () => {
    expect(proxySyncIndex([stream('a', { route: 5, cluster: 5, endpoint: 4 })])('a', 5)).toBe(false);
    expect(proxySyncIndex([stream('a', { route: 5, cluster: 5, endpoint: undefined })])('a', 5)).toBe(false);
  });

  it('takes any stream of the node (a reconnect), and says unknown for a node not connected here', () => {
    const sync = proxySyncIndex([stream('a', { endpoint: 2 }), stream('a', { endpoint: 7 }), stream(undefined, { endpoint: 9 })]);
    expect(sync('a', 7)).toBe(true);
    expect(sync('b', 1)).toBeUndefined();
  });
});
