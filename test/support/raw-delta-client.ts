import type * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { RawStreamClient } from './raw-stream-client.ts';

export interface RawDeltaResponse {
  system_version_info: string;
  type_url: string;
  nonce: string;
  removed_resources: string[];
  resources: { name: string; version: string; resource: { type_url: string; value: Uint8Array } }[];
}

/** A delta ADS client written against the protocol. */
export class RawDeltaClient extends RawStreamClient<RawDeltaResponse> {
  constructor(root: protobuf.Root, address: string, channelOptions: grpc.ChannelOptions = {}) {
    super(root, address, 'DeltaAggregatedResources', 'envoy.service.discovery.v3.DeltaDiscoveryRequest', 'envoy.service.discovery.v3.DeltaDiscoveryResponse', channelOptions);
  }
}
