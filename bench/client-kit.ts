import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { loadEnvoyProtos } from '../src/envoy/protos.ts';

/** What bench/ads-clients.ts reads from every simulated client, sidecar or proxyless. */
export interface Tally {
  readonly id: number;
  readonly usesChanged: boolean;
  lastAck: Map<string, number>;
  bytesSinceMark: number;
  responsesSinceMark: number;
  /** Bytes since the mark, per type URL. */
  bytesByType: Map<string, number>;
  connect(warm: boolean): Promise<void>;
  /** What it still waits for, for a report when a sync times out. */
  missing(): string;
  disconnect(): void;
  shutdown(): void;
}

export const root = loadEnvoyProtos();
const routeType = root.lookupType('envoy.config.route.v3.RouteConfiguration');

/** Its own HTTP/2 connection, as every proxy has (grpc-js would otherwise share one between channels). */
export function channel(target: string): grpc.Client {
  return new grpc.Client(target, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.use_local_subchannel_pool': 1 });
}

function collect(value: unknown, into: Set<string>): Set<string> {
  if (typeof value === 'string' && value.startsWith('infermesh|')) into.add(value);
  else if (Array.isArray(value)) for (const item of value) collect(item, into);
  else if (value && typeof value === 'object') for (const item of Object.values(value)) collect(item, into);
  return into;
}

/** The backend clusters an Any-wrapped RouteConfiguration names (the Any's value is its field 2). */
export function clustersOfRouteAny(any: Uint8Array): string[] {
  const reader = protobuf.Reader.create(any);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 2) return [...collect(routeType.toObject(routeType.decode(reader.bytes())), new Set())];
    reader.skipType(tag & 7);
  }
  return [];
}
