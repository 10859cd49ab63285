import type * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { RawStreamClient } from './raw-stream-client.ts';

export interface RawResponse {
  version_info: string;
  type_url: string;
  nonce: string;
  resources: { type_url: string; value: Uint8Array }[];
}

/** A state-of-the-world ADS client written against the protocol. */
export class RawAdsClient extends RawStreamClient<RawResponse> {
  constructor(root: protobuf.Root, address: string, channelOptions: grpc.ChannelOptions = {}) {
    super(root, address, 'StreamAggregatedResources', 'envoy.service.discovery.v3.DiscoveryRequest', 'envoy.service.discovery.v3.DiscoveryResponse', channelOptions);
  }
}
