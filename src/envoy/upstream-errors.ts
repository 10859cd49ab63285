import type { AccessLogFilter, ResponseMapper } from './messages.ts';
import { CLUSTER_METADATA_NAMESPACE } from './names.ts';
import { flatStruct } from './wrappers.ts';

/**
 * Local replies Envoy writes itself when a routed request cannot be served (text/plain by default), as JSON
 * for REST callers, keeping Envoy's status code. `model` and `backend` come from the routed cluster's
 * metadata, so they are right for path-routed calls and aliases too; `detail` is Envoy's own text. Each
 * mapper names the status Envoy answers with and the response flags it sets for that failure, so a flag
 * that rides along (URX after a timed-out try) does not pick the wrong error. Mappers only ever see Envoy's
 * own answers: a pod's error response passes through untouched, even with URX after the last retry.
 * gRPC callers are left alone: Envoy maps the status to a gRPC code and sends its text as grpc-message.
 */
export function upstreamErrorMappers(restCaller: AccessLogFilter): ResponseMapper[] {
  const meta = (key: string) => `%CLUSTER_METADATA(${CLUSTER_METADATA_NAMESPACE}:${key})%`;
  const model = meta('model');
  const backend = meta('backend');
  const mapper = (status: number, flags: string[], error: string, message: string): ResponseMapper => ({
    filter: {
      and_filter: {
        filters: [
          restCaller,
          ...(flags.length > 0 ? [{ response_flag_filter: { flags } }] : []),
          // op EQ, the default, is not written (see wrappers.ts on defaults).
          { status_code_filter: { comparison: { value: { default_value: status, runtime_key: `infermesh.local_reply.${error}` } } } },
        ],
      },
    },
    body_format_override: { json_format: flatStruct({ error, model, backend, message, detail: '%LOCAL_REPLY_BODY%' }) },
  });
  return [
    // UO: a circuit-breaker limit (connections, pending or active requests) was full.
    mapper(503, ['UO'], 'overloaded', `model ${model} is at its concurrency limit (circuit breaker of backend ${backend}): retry later`),
    // UH: the cluster has no healthy endpoint (none ready, all ejected, or scaled to zero).
    mapper(503, ['UH'], 'no_healthy_upstream', `backend ${backend} of model ${model} has no healthy endpoint`),
    // Any 504 of Envoy's: a try ran out (UT, per-try or route timeout), or the route's max_stream_duration
    // ended the call, which sets no response flag at all (Envoy 1.38 to 1.40). A pod's own 504 is no local reply.
    mapper(504, [], 'timeout', `model ${model} did not answer within its timeout`),
    // UF: connect failure, URX: retries exhausted, UC / UR: the upstream connection closed or reset the stream.
    mapper(503, ['UF', 'URX', 'UC', 'UR'], 'upstream_unavailable', `backend ${backend} of model ${model} could not be reached`),
  ];
}
