import { DEFAULT_XDS_LIMITS, LIMIT_FLAGS, type XdsLimits } from '../xds/stream-limits.ts';
import { wholeNumberFlag } from './usage.ts';

/** `serve` flags for the limits on the xDS port (src/xds/stream-limits.ts). */
export const XDS_LIMIT_OPTIONS = {
  'max-xds-streams': { type: 'string' },
  'max-xds-streams-per-connection': { type: 'string' },
  'max-xds-node-bytes': { type: 'string' },
  'xds-request-burst': { type: 'string' },
  'xds-request-rate': { type: 'string' },
} as const;

const d = DEFAULT_XDS_LIMITS;
export const XDS_LIMIT_HELP = `  --max-xds-streams N     ADS streams this replica serves at once; more are refused with
                          RESOURCE_EXHAUSTED (default ${d.maxStreams})
  --max-xds-streams-per-connection N
                          ADS streams on one connection (default ${d.maxStreamsPerConnection}; Envoy and gRPC open one;
                          raise it behind an HTTP/2 proxy that multiplexes clients)
  --max-xds-node-bytes N  largest Node (id, cluster, metadata...; Envoy's extension list is not counted) a
                          client may send, encoded; a larger one is refused with INVALID_ARGUMENT (default ${d.maxNodeBytes})
  --xds-request-burst N   requests one stream may send at once (default ${d.requestBurst})
  --xds-request-rate N    requests per second one stream may sustain beyond the burst; a stream over it
                          is ended with RESOURCE_EXHAUSTED (default ${d.requestsPerSecond})
`;

export interface XdsLimitFlags {
  'max-xds-streams'?: string;
  'max-xds-streams-per-connection'?: string;
  'max-xds-node-bytes'?: string;
  'xds-request-burst'?: string;
  'xds-request-rate'?: string;
}

const FLAG_OF: Record<keyof typeof LIMIT_FLAGS, keyof XdsLimitFlags> = {
  maxStreams: 'max-xds-streams',
  maxStreamsPerConnection: 'max-xds-streams-per-connection',
  maxNodeBytes: 'max-xds-node-bytes',
  requestBurst: 'xds-request-burst',
  requestsPerSecond: 'xds-request-rate',
};

/** The limits the flags set (the rest default); throws on a value that is not a positive integer. */
export function xdsLimitsFromFlags(values: XdsLimitFlags): Partial<XdsLimits> {
  const limits: Partial<XdsLimits> = {};
  for (const [key, flag] of Object.entries(FLAG_OF) as [keyof typeof LIMIT_FLAGS, keyof XdsLimitFlags][]) {
    const text = values[flag];
    if (text === undefined) continue;
    limits[key] = wholeNumberFlag(LIMIT_FLAGS[key], text);
  }
  return limits;
}
