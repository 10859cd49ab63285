import { describe, expect, it } from 'vitest';
import { TYPE_URLS } from '../../src/envoy/type-urls.ts';
import type { ClientConfig, GenericXdsConfig } from '../../src/status/csds-client.ts';
import { modelOnProxy, summarizeProxy } from '../../src/status/summarize.ts';

const config = (kind: keyof typeof TYPE_URLS, name: string, status: 'SYNCED' | 'STALE' | 'ERROR' = 'SYNCED'): GenericXdsConfig => ({
  type_url: TYPE_URLS[kind],
  name,
  version_info: `${name}@1`,
  config_status: status,
  client_status: status === 'SYNCED' ? 'ACKED' : status === 'ERROR' ? 'NACKED' : 'REQUESTED',
  ...(status === 'ERROR' ? { error_state: { details: 'refused' } } : {}),
});

/** An on-demand sidecar: the listener, every scope, and the table and cluster of the models it called. */
function onDemand(...called: { model: string; status?: 'SYNCED' | 'STALE' | 'ERROR' }[]): ClientConfig {
  return {
    node: { id: 'web-0.shop', cluster: 'shop' },
    generic_xds_configs: [
      config('listener', 'infermesh-sidecar'),
      config('scopedRoute', 'infermesh/m'),
      config('scopedRoute', 'infermesh/n'),
      ...called.flatMap(({ model, status }) => [config('route', `infermesh/${model}`, status), config('cluster', `infermesh|${model}|a`), config('endpoint', `infermesh|${model}|a`)]),
    ],
  };
}

describe('status of on-demand sidecars', () => {
  it('lists SRDS beside the other types, and only the tables and clusters the sidecar loaded', () => {
    expect(summarizeProxy(onDemand())).toMatchObject({ status: 'SYNCED', types: { listener: { status: 'SYNCED' }, scopedRoute: { status: 'SYNCED', resources: 2 } } });
    expect(Object.keys(summarizeProxy(onDemand()).types).sort()).toEqual(['listener', 'scopedRoute']);
    expect(summarizeProxy(onDemand({ model: 'm' })).types).toMatchObject({ route: { resources: 1 }, cluster: { resources: 1 }, endpoint: { resources: 1 } });
  });

  it('places a model by its own table: not-used until called, then live, pending or refused', () => {
    expect(modelOnProxy(onDemand(), 'm', 'infermesh').state).toBe('not-used');
    expect(modelOnProxy(onDemand({ model: 'n' }), 'm', 'infermesh').state).toBe('not-used');
    expect(modelOnProxy(onDemand({ model: 'm' }), 'm', 'infermesh')).toEqual({ node: 'web-0.shop', pod: 'web-0', state: 'live' });
    expect(modelOnProxy(onDemand({ model: 'm', status: 'STALE' }), 'm', 'infermesh').state).toBe('pending');
    expect(modelOnProxy(onDemand({ model: 'm', status: 'ERROR' }), 'm', 'infermesh')).toMatchObject({ state: 'refused', error: 'refused' });
    // Its table loaded, its clusters not yet (fetched on the request that needs them): live.
    const tableOnly: ClientConfig = { ...onDemand(), generic_xds_configs: [...(onDemand().generic_xds_configs ?? []), config('route', 'infermesh/m')] };
    expect(modelOnProxy(tableOnly, 'm', 'infermesh').state).toBe('live');
  });

  it('keeps a proxyless client on the whole-mesh target pending until it holds the model clusters', () => {
    const proxyless: ClientConfig = { node: { id: 'grpc-0' }, generic_xds_configs: [config('listener', 'infermesh'), config('route', 'infermesh')] };
    expect(modelOnProxy(proxyless, 'm', 'infermesh').state).toBe('pending');
    proxyless.generic_xds_configs?.push(config('cluster', 'infermesh|m|a'));
    expect(modelOnProxy(proxyless, 'm', 'infermesh').state).toBe('live');
    expect(modelOnProxy({ node: { id: 'grpc-1' }, generic_xds_configs: [config('route', 'infermesh/n')] }, 'm', 'infermesh').state).toBe('not-used');
  });
});

describe('status of a proxy in a zone', () => {
  it('shows node.locality.zone (zone failover sends its calls there first); none without one', () => {
    const inZone: ClientConfig = { ...onDemand(), node: { id: 'web-0.shop', cluster: 'shop', locality: { zone: 'eu-west-1a' } } };
    expect(summarizeProxy(inZone).zone).toBe('eu-west-1a');
    expect(summarizeProxy(onDemand())).not.toHaveProperty('zone');
    expect(summarizeProxy({ ...onDemand(), node: { id: 'web-0.shop', cluster: 'shop', locality: { zone: '' } } })).not.toHaveProperty('zone');
  });
});
