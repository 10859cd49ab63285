import { describe, expect, it } from 'vitest';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { TYPE_URLS, type ResourceKind } from '../../src/envoy/type-urls.ts';
import { runToEnd } from '../../src/util/cooperative.ts';
import { ResourceCodec, type EncodedResource } from '../../src/snapshot/codec.ts';
import { consistencySteps } from '../../src/snapshot/consistency.ts';
import { Snapshot } from '../../src/snapshot/snapshot.ts';

const root = loadEnvoyProtos();
const codec = new ResourceCodec(root);

function resource(kind: ResourceKind, type: string, object: Record<string, unknown>): EncodedResource {
  const messageType = root.lookupType(type);
  return codec.fromBytes(TYPE_URLS[kind], String(object['name'] ?? object['cluster_name']), messageType.encode(messageType.fromObject(object)).finish());
}

const cluster = (object: Record<string, unknown>) => resource('cluster', 'envoy.config.cluster.v3.Cluster', object);
const assignment = (name: string) => resource('endpoint', 'envoy.config.endpoint.v3.ClusterLoadAssignment', { cluster_name: name });

function problems(clusters: EncodedResource[], endpoints: EncodedResource[], routed: string[] = []): string[] {
  const sets = new Map<ResourceKind, Map<string, EncodedResource>>([
    ['cluster', new Map(clusters.map((r) => [r.name, r]))],
    ['endpoint', new Map(endpoints.map((r) => [r.name, r]))],
    ['route', new Map([['r', { name: 'r', typeUrl: TYPE_URLS.route, version: '1', any: new Uint8Array(), json: {} }]])],
  ]);
  return runToEnd(consistencySteps(new Snapshot('1', 1, sets), { r: routed }));
}

describe('snapshot consistency', () => {
  it('an EDS cluster needs the ClusterLoadAssignment its service_name names, else its own name', () => {
    const named = cluster({ name: 'c1', type: 'EDS', eds_cluster_config: { service_name: 's1', eds_config: { ads: {} } } });
    const unnamed = cluster({ name: 'c2', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } } });
    expect(problems([named, unnamed], [])).toEqual(['EDS cluster c1 has no ClusterLoadAssignment s1', 'EDS cluster c2 has no ClusterLoadAssignment c2']);
    expect(problems([named, unnamed], [assignment('s1'), assignment('c2')])).toEqual([]);
    expect(problems([named], [assignment('c1')])).toEqual(['EDS cluster c1 has no ClusterLoadAssignment s1']);
  });

  it('a cluster that is not EDS needs none, and a route may name only clusters that exist', () => {
    const dns = cluster({ name: 'dns', type: 'STRICT_DNS' });
    const fixed = cluster({ name: 'static' });
    expect(problems([dns, fixed], [], ['dns', 'static'])).toEqual([]);
    expect(problems([dns], [], ['gone'])).toEqual(['route configuration r names cluster gone, which does not exist']);
  });
});
