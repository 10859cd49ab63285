import type protobuf from 'protobufjs';
import { TYPE_URLS, messageName, type ResourceKind } from '../../src/envoy/type-urls.ts';
import { RawAdsClient, type RawResponse } from './raw-ads-client.ts';
import { RawDeltaClient, type RawDeltaResponse } from './raw-delta-client.ts';

/**
 * Fetching every resource a control-plane replica serves, over SotW and delta, and comparing two replicas'
 * answers byte for byte (test/e2e/replicas-agree*.test.ts).
 */
export interface Subscription {
  label: string;
  kind: ResourceKind;
  names: string[];
}

/** The way a sidecar and proxyless clients on per-model targets subscribe: tables and clusters named. */
export function subscriptions(tables: string[], clusters: string[]): Subscription[] {
  return [
    { label: 'LDS wildcard', kind: 'listener', names: [] },
    { label: 'LDS per-model targets', kind: 'listener', names: tables },
    { label: 'CDS wildcard', kind: 'cluster', names: [] },
    { label: 'EDS every cluster', kind: 'endpoint', names: clusters },
    { label: 'RDS every table', kind: 'route', names: tables },
    { label: 'SRDS wildcard', kind: 'scopedRoute', names: ['*'] },
  ];
}

export interface SotwAnswer {
  label: string;
  request: { kind: ResourceKind; names: string[] };
  response: RawResponse;
}

export interface DeltaAnswer {
  label: string;
  kind: ResourceKind;
  names: string[];
  response: RawDeltaResponse;
}

/** One stream per subscription, so no type waits for another's ACK (make-before-break) in a comparison. */
/** The node of a request: an id, and a locality when the client is in a zone (zone failover). */
export function nodeOf(nodeId: string, zone?: string): Record<string, unknown> {
  return { id: nodeId, ...(zone === undefined ? {} : { locality: { zone } }) };
}

export function fetchSotw(root: protobuf.Root, address: string, nodeId: string, wanted: Subscription[], opened: { close(): void }[], zone?: string): Promise<SotwAnswer[]> {
  return Promise.all(
    wanted.map(async ({ label, kind, names }) => {
      const client = new RawAdsClient(root, address);
      opened.push(client);
      client.send({ node: nodeOf(nodeId, zone), type_url: TYPE_URLS[kind], resource_names: names });
      const response = await client.next((r) => r.type_url === TYPE_URLS[kind]);
      return { label, request: { kind, names }, response };
    }),
  );
}

export function fetchDelta(root: protobuf.Root, address: string, nodeId: string, wanted: Subscription[], opened: { close(): void }[], zone?: string): Promise<DeltaAnswer[]> {
  return Promise.all(
    wanted.map(async ({ label, kind, names }) => {
      const client = new RawDeltaClient(root, address);
      opened.push(client);
      const subscribe = names.length > 0 ? names : ['*'];
      client.send({ node: nodeOf(nodeId, zone), type_url: TYPE_URLS[kind], resource_names_subscribe: subscribe });
      const response = await client.next((r) => r.type_url === TYPE_URLS[kind]);
      return { label, kind, names: subscribe, response };
    }),
  );
}

function resourceName(root: protobuf.Root, typeUrl: string, value: Uint8Array): string {
  const message = root.lookupType(messageName(typeUrl)).decode(value) as unknown as { name?: string; cluster_name?: string };
  return message.name || message.cluster_name || '';
}

/** Everything a SotW response carries but its nonce and control_plane, bytes as hex. */
export function sotwContent(root: protobuf.Root, { label, response }: SotwAnswer) {
  return {
    label,
    type_url: response.type_url,
    version_info: response.version_info,
    resources: response.resources.map((r) => ({ name: resourceName(root, r.type_url, r.value), type_url: r.type_url, bytes: Buffer.from(r.value).toString('hex') })),
  };
}

/** Everything a delta response carries but its nonce and control_plane. */
export function deltaContent({ label, response }: { label: string; response: RawDeltaResponse }) {
  return {
    label,
    type_url: response.type_url,
    system_version_info: response.system_version_info,
    removed_resources: response.removed_resources,
    resources: response.resources.map((r) => ({ name: r.name, version: r.version, type_url: r.resource.type_url, bytes: Buffer.from(r.resource.value).toString('hex') })),
  };
}

/** The labels and resource names where two answers differ: empty when byte-identical. */
export function differences<T extends { label: string; resources: { name: string }[] }>(a: T[], b: T[]): string[] {
  const found: string[] = [];
  for (const [i, left] of a.entries()) {
    const right = b[i]!;
    const { resources: leftResources, ...leftRest } = left;
    const { resources: rightResources, ...rightRest } = right;
    if (JSON.stringify(leftRest) !== JSON.stringify(rightRest)) found.push(`${left.label}: ${JSON.stringify(leftRest)} != ${JSON.stringify(rightRest)}`);
    if (leftResources.length !== rightResources.length) found.push(`${left.label}: ${leftResources.length} != ${rightResources.length} resources`);
    for (const [j, resource] of leftResources.entries()) {
      if (JSON.stringify(resource) !== JSON.stringify(rightResources[j])) found.push(`${left.label}: resource #${j} ${resource.name} != ${rightResources[j]?.name}`);
    }
  }
  return found;
}

/** Delta answers with their resources by name: order within a delta response carries no meaning. */
export function sortedByName<T extends { resources: { name: string }[] }>(content: T): T {
  return { ...content, resources: [...content.resources].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0)) };
}
