import { describe, expect, expectTypeOf, it } from 'vitest';
import { backendCluster, blackholeCluster } from '../../src/envoy/cluster.ts';
import { clusterLoadAssignment } from '../../src/envoy/endpoints.ts';
import { abortRoute } from '../../src/envoy/error-routes.ts';
import { apiListener, sidecarListener } from '../../src/envoy/listener.ts';
import type { Cluster, ClusterLoadAssignment, Listener, OutlierDetection, Route, RouteAction } from '../../src/envoy/messages.ts';
import { splitAction } from '../../src/envoy/route-action.ts';
import { typedConfig } from '../../src/envoy/typed-config.ts';

/**
 * Type-level: `npm run typecheck` (tsc --noEmit, which covers test/) fails if a line marked @ts-expect-error
 * compiles, so each such line proves tsc rejects that builder mistake. The runtime assertions only keep the
 * literals from being dead code.
 */

describe('builder mistakes tsc rejects', () => {
  it('an unknown field', () => {
    // @ts-expect-error connect_timout is not a Cluster field
    const cluster: Cluster = { name: 'c', connect_timout: { seconds: 5 } };
    expect(cluster.name).toBe('c');
  });

  it('a wrong enum value', () => {
    // @ts-expect-error 'EDSS' is not a Cluster.DiscoveryType
    const cluster: Cluster = { name: 'c', type: 'EDSS' };
    const ok: Cluster = { name: 'c', type: 'EDS', lb_policy: 'LEAST_REQUEST' };
    expect([cluster.type, ok.type]).toEqual(['EDSS', 'EDS']);
  });

  it('a bare number where a wrapper (UInt32Value) is needed', () => {
    // @ts-expect-error max_ejection_percent is a google.protobuf.UInt32Value
    const outlier: OutlierDetection = { max_ejection_percent: 50 };
    const ok: OutlierDetection = { max_ejection_percent: { value: 50 } };
    // @ts-expect-error a weighted cluster's weight is a UInt32Value too
    const action: RouteAction = { weighted_clusters: { clusters: [{ name: 'c', weight: 10 }] } };
    expect([outlier, ok, action]).toHaveLength(3);
  });

  it('a proto3 JSON string where a Duration message is needed', () => {
    // @ts-expect-error timeout is a google.protobuf.Duration message, not "30s"
    const action: RouteAction = { cluster: 'c', timeout: '30s' };
    expect(action.cluster).toBe('c');
  });

  it('a mistake inside a typed_config payload, and a payload of the wrong message for its type URL', () => {
    // @ts-expect-error percentag is not a FaultAbort field
    const fault = typedConfig('fault', { abort: { http_status: 404, percentag: { numerator: 100 } } });
    // @ts-expect-error stat_prefix belongs to HttpConnectionManager, not to the Router the URL names
    const router = typedConfig('router', { stat_prefix: 'x' });
    expect([fault['@type'], router['@type']]).toHaveLength(2);
  });

  it('builders return the typed messages, not loose JSON', () => {
    expectTypeOf(backendCluster).returns.toEqualTypeOf<Cluster>();
    expectTypeOf(blackholeCluster).returns.toEqualTypeOf<Cluster>();
    expectTypeOf(clusterLoadAssignment).returns.toEqualTypeOf<ClusterLoadAssignment>();
    expectTypeOf(sidecarListener).returns.toEqualTypeOf<Listener>();
    expectTypeOf(apiListener).returns.toEqualTypeOf<Listener>();
    expectTypeOf(abortRoute).returns.toEqualTypeOf<Route>();
    expectTypeOf(splitAction).returns.toEqualTypeOf<RouteAction>();
    expect(blackholeCluster().type).toBe('EDS');
  });
});
