import { describe, expect, it } from 'vitest';
import { backendCluster } from '../../src/envoy/cluster.ts';
import { clusterLoadAssignment } from '../../src/envoy/endpoints.ts';
import { outlierDetection } from '../../src/envoy/outlier-detection.ts';
import { restPathRoutes } from '../../src/envoy/rest-routes.ts';
import { retryPolicy, splitAction } from '../../src/envoy/route-action.ts';
import type { Route } from '../../src/envoy/messages.ts';
import { modelHeaderRoutes } from '../../src/envoy/route-config.ts';
import { durationMessage } from '../../src/util/duration.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { testModel, testPolicy } from '../support/models.ts';

describe('durationMessage', () => {
  it.each([
    [30_000, { seconds: 30 }],
    [1_250, { seconds: 1, nanos: 250_000_000 }],
    [250, { nanos: 250_000_000 }],
    [1, { nanos: 1_000_000 }],
    [0, {}],
  ])('%i ms -> %j (zero parts left out, as the canonical encoding has them)', (ms, expected) => expect(durationMessage(ms)).toEqual(expected));
});

describe('splitAction', () => {
  it('splits by weight and sets total_weight to the sum (gRPC 1.51 needs it)', () => {
    const action = splitAction(testModel());
    expect(action['weighted_clusters']).toEqual({
      clusters: [
        { name: 'infermesh|resnet50|stable', weight: { value: 90 } },
        { name: 'infermesh|resnet50|canary', weight: { value: 10 } },
      ],
      total_weight: { value: 100 },
    });
    expect(action['timeout']).toEqual({ seconds: 30 });
    expect(action['max_stream_duration']).toEqual({ max_stream_duration: { seconds: 30 } });
  });

  it('sends to one cluster when only one backend has weight, leaving zero-weight backends out', () => {
    const policy = testPolicy();
    const model = testModel(testPolicy({ backends: policy.backends.map((b) => ({ ...b, weight: b.name === 'canary' ? 0 : 5 })) }));
    const action = splitAction(model);
    expect(action['cluster']).toBe('infermesh|resnet50|stable');
    expect(action['weighted_clusters']).toBeUndefined();
  });
});

describe('splitAction with endpoints', () => {
  const healthy = { address: '10.0.0.1', port: 1, health: 'healthy' as const };
  const draining = { address: '10.0.0.2', port: 1, health: 'draining' as const };

  it('leaves a backend without healthy endpoints out of the split, so its share is not failed', () => {
    const model = testModel();
    model.backends[0]!.endpoints = [healthy];
    model.backends[1]!.endpoints = [draining];
    expect(splitAction(model)['cluster']).toBe('infermesh|resnet50|stable');
  });

  it('keeps every weighted backend when none has healthy endpoints', () => {
    expect(splitAction(testModel())['weighted_clusters']).toBeDefined();
  });
});

describe('retryPolicy', () => {
  it('maps attempts, conditions, backoff and retries on another host', () => {
    expect(retryPolicy(testModel(testPolicy({ retries: { attempts: 3, perTryTimeoutMs: 5000, retryOn: ['unavailable', '5xx'], backoff: { baseMs: 25, maxMs: 250 } } })))).toEqual({
      retry_on: 'unavailable,5xx',
      num_retries: { value: 3 },
      per_try_timeout: { seconds: 5 },
      retry_back_off: { base_interval: { nanos: 25_000_000 }, max_interval: { nanos: 250_000_000 } },
      retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }],
      host_selection_retry_max_attempts: 3,
    });
  });

  it('retries the HTTP statuses of the gRPC names for protocol http (Envoy matches gRPC names on grpc-status only)', () => {
    const policy = (protocol: 'http' | 'grpc') => testPolicy({ protocol, retries: { attempts: 2, retryOn: ['connect-failure', 'unavailable', 'resource-exhausted'] } });
    const http = retryPolicy(testModel(policy('http')));
    expect(http).toMatchObject({ retry_on: 'connect-failure,unavailable,resource-exhausted,retriable-status-codes', retriable_status_codes: [429, 503] });
    const grpc = retryPolicy(testModel(policy('grpc')));
    expect(grpc['retry_on']).toBe('connect-failure,unavailable,resource-exhausted');
    expect(grpc['retriable_status_codes']).toBeUndefined();
    const httpOnlyNames = retryPolicy(testModel(testPolicy({ protocol: 'http', retries: { attempts: 1, retryOn: ['5xx'] } })));
    expect(httpOnlyNames['retry_on']).toBe('5xx');
  });

  it('is an explicit empty policy (no conditions, never retries) when attempts is 0: gRPC clients reject num_retries 0', () => {
    expect(retryPolicy(testModel(testPolicy({ retries: { attempts: 0, retryOn: ['unavailable'] } })))).toEqual({});
  });
});

describe('outlierDetection', () => {
  it('sets every enforcing field so Envoy and gRPC clients apply exactly the configured detectors', () => {
    expect(outlierDetection({ intervalMs: 1000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 50, failurePercentage: { threshold: 50, minimumHosts: 2, requestVolume: 10 } })).toEqual({
      interval: { seconds: 1 },
      base_ejection_time: { seconds: 30 },
      max_ejection_percent: { value: 50 },
      // A wrapper holding 0 is present but empty: detectors off, explicitly.
      enforcing_consecutive_5xx: {},
      enforcing_consecutive_gateway_failure: {},
      enforcing_success_rate: {},
      enforcing_failure_percentage: { value: 100 },
      failure_percentage_threshold: { value: 50 },
      failure_percentage_minimum_hosts: { value: 2 },
      failure_percentage_request_volume: { value: 10 },
    });
  });

  it('enables consecutive errors and success rate only when configured', () => {
    const result = outlierDetection({ consecutiveErrors: 5, intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 10, successRate: { stdevFactor: 1900, minimumHosts: 3, requestVolume: 20 } });
    expect(result).toMatchObject({
      consecutive_5xx: { value: 5 },
      enforcing_consecutive_5xx: { value: 100 },
      enforcing_success_rate: { value: 100 },
      success_rate_stdev_factor: { value: 1900 },
      enforcing_failure_percentage: {},
    });
  });
});

describe('backendCluster', () => {
  it('is an EDS-over-ADS cluster with HTTP/2 upstream for grpc and circuit breakers', () => {
    const model = testModel(testPolicy({ circuitBreaker: { maxConnections: 10, maxRequests: 20 } }));
    const backend = model.backends[0]!;
    const cluster = backendCluster(model, backend);
    expect(cluster).toMatchObject({
      name: 'infermesh|resnet50|stable',
      type: 'EDS',
      eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: 'infermesh|resnet50|stable' },
      circuit_breakers: { thresholds: [{ max_connections: { value: 10 }, max_requests: { value: 20 } }] },
    });
    expect(cluster['typed_extension_protocol_options']).toBeDefined();
  });

  it('keeps HTTP/1.1 upstream for protocol http', () => {
    const model = testModel(testPolicy({ protocol: 'http' }));
    expect(backendCluster(model, model.backends[0]!)['typed_extension_protocol_options']).toBeUndefined();
  });
});

describe('clusterLoadAssignment', () => {
  it('groups by zone, weights each locality by its healthy endpoints, marks draining', () => {
    const assignment = clusterLoadAssignment('c', [
      { address: '10.0.0.2', port: 8001, zone: 'b', health: 'healthy' },
      { address: '10.0.0.1', port: 8001, zone: 'a', health: 'healthy' },
      { address: '10.0.0.3', port: 8001, zone: 'a', health: 'draining' },
      { address: '10.0.0.4', port: 8001, zone: 'a', health: 'healthy' },
    ]);
    expect(assignment).toEqual({
      cluster_name: 'c',
      endpoints: [
        {
          locality: { zone: 'a' },
          load_balancing_weight: { value: 2 },
          lb_endpoints: [
            { endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: 8001 } } }, health_status: 'HEALTHY' },
            { endpoint: { address: { socket_address: { address: '10.0.0.3', port_value: 8001 } } }, health_status: 'DRAINING' },
            { endpoint: { address: { socket_address: { address: '10.0.0.4', port_value: 8001 } } }, health_status: 'HEALTHY' },
          ],
        },
        {
          locality: { zone: 'b' },
          load_balancing_weight: { value: 1 },
          lb_endpoints: [{ endpoint: { address: { socket_address: { address: '10.0.0.2', port_value: 8001 } } }, health_status: 'HEALTHY' }],
        },
      ],
    });
  });

  it('gives a locality without zone an empty locality (gRPC clients need one)', () => {
    const assignment = clusterLoadAssignment('c', [{ address: '10.0.0.1', port: 1, health: 'healthy' }]);
    expect(assignment.endpoints?.[0]?.locality).toEqual({});
  });
});

describe('modelHeaderRoutes', () => {
  it('puts version pins before the unknown-version route and the split, for the model and each alias', () => {
    const routes = modelHeaderRoutes(testModel(testPolicy({ aliases: ['resnet'] })), DEFAULT_SETTINGS);
    expect(routes.map((r) => r['name'])).toEqual([
      'resnet50|version=1',
      'resnet50|version=2',
      'resnet50|unknown-version',
      'resnet50',
      'resnet|version=1',
      'resnet|version=2',
      'resnet|unknown-version',
      'resnet',
    ]);
    expect(routes[0]?.['match']).toEqual({
      prefix: '/',
      headers: [
        { name: 'x-model', exact_match: 'resnet50' },
        { name: 'x-model-version', exact_match: '1' },
      ],
    });
  });

  it('uses the configured header names', () => {
    const routes = modelHeaderRoutes(testModel(), { ...DEFAULT_SETTINGS, modelHeader: 'model', versionHeader: 'model-ver' });
    expect(JSON.stringify(routes)).toContain('"name":"model-ver"');
    expect(JSON.stringify(routes)).not.toContain('x-model');
  });
});

describe('restPathRoutes', () => {
  function matcher(route: Route): RegExp {
    return new RegExp(route.match?.safe_regex?.regex ?? '(?!)');
  }

  it.each([
    ['triton', '/v2/models/resnet50/infer', 'resnet50'],
    ['triton', '/v2/models/resnet50', 'resnet50'],
    ['triton', '/v2/models/resnet50/versions/2/infer', 'resnet50|version=2'],
    ['tfserving', '/v1/models/resnet50:predict', 'resnet50'],
    ['tfserving', '/v1/models/resnet50/versions/1:predict', 'resnet50|version=1'],
  ] as const)('%s: %s goes to route %s', (server, path, expected) => {
    const routes = restPathRoutes(testModel(testPolicy({ server })));
    const first = routes.find((route) => matcher(route).test(path));
    expect(String(first?.['name']).endsWith(expected)).toBe(true);
  });

  it.each(['/v2/models/resnet500/infer', '/v2/models/resnet50x', '/v1/models/resnet50:predict', '/v2/models/resnet.50/infer'])('triton model resnet50 does not match %s', (path) => {
    const routes = restPathRoutes(testModel(testPolicy({ server: 'triton' })));
    expect(routes.some((route) => matcher(route).test(path))).toBe(false);
  });

  it('answers an unknown /versions/V of the model with an HTTP 404 abort, before the split takes the path', () => {
    const routes = restPathRoutes(testModel(testPolicy({ server: 'triton' })));
    const first = routes.find((route) => matcher(route).test('/v2/models/resnet50/versions/9/infer'));
    expect(first?.['name']).toBe('/v2/models/resnet50|unknown-version');
    expect(JSON.stringify(first?.['typed_per_filter_config'])).toContain('"http_status":404');
  });

  it('rewrites an alias in the path to the model\'s own name, and leaves the own name alone', () => {
    const routes = restPathRoutes(testModel(testPolicy({ server: 'tfserving', aliases: ['resnet'] })));
    const alias = routes.find((route) => matcher(route).test('/v1/models/resnet/versions/2:predict'));
    expect(alias?.route?.regex_rewrite).toEqual({ pattern: { regex: '^/v1/models/resnet' }, substitution: '/v1/models/resnet50' });
    const own = routes.find((route) => matcher(route).test('/v1/models/resnet50:predict'));
    expect(own?.route?.regex_rewrite).toBeUndefined();
  });

  it('escapes regex characters in model names', () => {
    const routes = restPathRoutes(testModel(testPolicy({ model: 'org/bert.v1', server: 'triton' })));
    expect(routes.some((route) => matcher(route).test('/v2/models/org/bertXv1/infer'))).toBe(false);
    expect(routes.some((route) => matcher(route).test('/v2/models/org/bert.v1/infer'))).toBe(true);
  });
});
