import type protobuf from 'protobufjs';
import { RESOURCE_KINDS, TYPE_URLS } from '../envoy/type-urls.ts';
import type { ClientStream, TypeSyncView } from './client-view.ts';

/** The parts of envoy.type.matcher.v3.NodeMatcher / StringMatcher infermesh honours. */
interface StringMatcher {
  exact?: string;
  prefix?: string;
  suffix?: string;
  contains?: string;
  ignore_case?: boolean;
}

export interface ClientStatusRequest {
  node_matchers?: { node_id?: StringMatcher }[];
  exclude_resource_contents?: boolean;
}

function matches(matcher: StringMatcher | undefined, value: string): boolean {
  if (!matcher) return true;
  const fold = (text: string) => (matcher.ignore_case ? text.toLowerCase() : text);
  const v = fold(value);
  if (matcher.exact !== undefined && matcher.exact !== '') return v === fold(matcher.exact);
  if (matcher.prefix) return v.startsWith(fold(matcher.prefix));
  if (matcher.suffix) return v.endsWith(fold(matcher.suffix));
  if (matcher.contains) return v.includes(fold(matcher.contains));
  return true;
}

function timestamp(date: Date | undefined): { seconds: number; nanos: number } | undefined {
  if (!date) return undefined;
  const ms = date.getTime();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

/**
 * One GenericXdsConfig per resource the client was sent, with the standard statuses: SYNCED/ACKED when the
 * client runs this version, ERROR/NACKED when it rejected the response carrying it (error_state says why),
 * STALE/REQUESTED while the response is unanswered, NOT_SENT/DOES_NOT_EXIST for names it asked for that do not exist.
 */
function typeConfigs(state: TypeSyncView, typeUrl: string, anyType: protobuf.Type, includeContents: boolean): Record<string, unknown>[] {
  const nack = state.standingNack;
  const configs: Record<string, unknown>[] = [];
  const sent = state.heldResources;
  for (const [name, resource] of sent) {
    const acked = state.ackedResources.get(name)?.version === resource.version;
    const config: Record<string, unknown> = {
      type_url: typeUrl,
      name,
      version_info: state.versionsPerResource ? resource.version : acked ? (state.ackedVersion ?? '') : (state.sentVersion ?? ''),
      last_updated: timestamp(acked ? state.ackedAt : state.sentAt),
      config_status: acked ? 'SYNCED' : nack ? 'ERROR' : 'STALE',
      client_status: acked ? 'ACKED' : nack ? 'NACKED' : 'REQUESTED',
    };
    if (includeContents) config['xds_config'] = anyType.toObject(anyType.decode(resource.any));
    if (nack && !acked) {
      config['error_state'] = { last_update_attempt: timestamp(nack.at), details: nack.message, version_info: nack.version };
    }
    configs.push(config);
  }
  if (state.subscription !== 'wildcard') {
    for (const name of state.subscription) {
      if (!sent.has(name)) configs.push({ type_url: typeUrl, name, config_status: 'NOT_SENT', client_status: 'DOES_NOT_EXIST' });
    }
  }
  return configs;
}

/** envoy.service.status.v3.ClientStatusResponse for the connected clients the request selects. */
export function clientStatusResponse(request: ClientStatusRequest, streams: readonly ClientStream[], root: protobuf.Root): Record<string, unknown> {
  const anyType = root.lookupType('google.protobuf.Any');
  const includeContents = !request.exclude_resource_contents;
  const matchers = request.node_matchers ?? [];
  const config = streams
    .filter((stream) => stream.node !== undefined)
    .filter((stream) => matchers.every((matcher) => matches(matcher.node_id, stream.node?.id ?? '')))
    .map((stream) => ({
      node: stream.node?.raw ?? {},
      generic_xds_configs: RESOURCE_KINDS.flatMap((kind) => {
        const state = stream.syncState().get(kind);
        return state ? typeConfigs(state, TYPE_URLS[kind], anyType, includeContents) : [];
      }),
    }));
  return { config };
}
