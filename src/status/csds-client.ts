import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';

export interface GenericXdsConfig {
  type_url: string;
  name: string;
  version_info?: string;
  config_status?: string;
  client_status?: string;
  error_state?: { details?: string; version_info?: string };
}

export interface ClientConfig {
  node?: { id?: string; cluster?: string; metadata?: unknown; user_agent_name?: string; user_agent_version?: string; locality?: { zone?: string } };
  generic_xds_configs?: GenericXdsConfig[];
}

/**
 * Asks a control plane's CSDS (envoy.service.status.v3.ClientStatusDiscoveryService/FetchClientStatus) what
 * each connected proxy runs. Works with any CSDS server that follows the proto.
 */
export async function fetchClientStatus(
  root: protobuf.Root,
  address: string,
  timeoutMs = 5_000,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  channelOptions: grpc.ChannelOptions = {},
): Promise<ClientConfig[]> {
  const requestType = root.lookupType('envoy.service.status.v3.ClientStatusRequest');
  const responseType = root.lookupType('envoy.service.status.v3.ClientStatusResponse');
  const client = new grpc.Client(address, credentials, channelOptions);
  try {
    const response = await new Promise<{ config?: ClientConfig[] }>((resolve, reject) => {
      client.makeUnaryRequest(
        '/envoy.service.status.v3.ClientStatusDiscoveryService/FetchClientStatus',
        (request: Record<string, unknown>) => Buffer.from(requestType.encode(requestType.fromObject(request)).finish()),
        (bytes: Buffer) => responseType.toObject(responseType.decode(bytes), { enums: String, arrays: true, longs: String }) as { config?: ClientConfig[] },
        { exclude_resource_contents: true },
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (error, value) => (error || !value ? reject(error ?? new Error('empty CSDS response')) : resolve(value)),
      );
    });
    return response.config ?? [];
  } catch (error) {
    const status = error as grpc.ServiceError;
    if (status.code === grpc.status.UNAVAILABLE || status.code === grpc.status.DEADLINE_EXCEEDED) {
      throw new Error(`cannot reach the control plane's CSDS at ${address} (${status.details}); pass --server HOST:PORT (each replica's xDS port, e.g. kubectl -n infermesh-system port-forward pod/NAME 18000), or --kubeconfig FILE to find every replica`);
    }
    if (status.code === grpc.status.UNIMPLEMENTED) throw new Error(`${address} does not serve CSDS (envoy.service.status.v3.ClientStatusDiscoveryService)`);
    throw error;
  } finally {
    client.close();
  }
}
