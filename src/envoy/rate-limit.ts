import type { Model } from '../model/types.ts';
import { durationMessage } from '../util/duration.ts';
import type { AccessLogFilter, ResponseMapper, VirtualHost } from './messages.ts';
import { LOCAL_RATE_LIMIT_FILTER } from './names.ts';
import { typedConfig } from './typed-config.ts';
import { flatStruct } from './wrappers.ts';

/** Response header on a rate-limited answer: the model whose limit it was. */
export const RATE_LIMITED_HEADER = 'x-infermesh-rate-limited';
/** Stats: http_local_rate_limit.<prefix>.{enabled,enforced,rate_limited,ok}. */
const STAT_PREFIX = 'infermesh_rate_limit';

/**
 * The sidecar's local rate limit filter, inactive: no token bucket, and filter_enabled unset (0%). A model
 * with a rate limit switches it on on the virtual host of each of its tables (rateLimitOverride). Never on the API listener: proxyless gRPC
 * clients NACK a listener with a required filter they do not implement.
 */
export function localRateLimitFilter() {
  return { name: LOCAL_RATE_LIMIT_FILTER, typed_config: typedConfig('localRateLimit', { stat_prefix: STAT_PREFIX }) };
}

/** A runtime fraction of 100% (denominator HUNDRED is the default, so not written: see wrappers.ts). */
function always(runtimeKey: string) {
  return { runtime_key: runtimeKey, default_value: { numerator: 100 } };
}

/**
 * The per-filter config of a model's tables' virtual host: one token bucket per table (model name) and
 * sidecar, shared by all the table's routes (split, version pins, REST paths). max_tokens = burst, refilled
 * by requestsPerSecond every second (it starts full). An empty bucket answers 429; a gRPC caller gets RESOURCE_EXHAUSTED instead of the
 * UNAVAILABLE Envoy maps 429 to, so clients do not retry it as a transient failure. Wrapped in an optional
 * FilterConfig: the same tables reach proxyless gRPC clients (per-model targets), which implement no rate
 * limit and ignore an optional override but NACK an unknown required one (gRFC A39).
 */
export function rateLimitOverride(model: Model): NonNullable<VirtualHost['typed_per_filter_config']> | undefined {
  const limit = model.policy.rateLimit;
  if (!limit) return undefined;
  const config = typedConfig('localRateLimit', {
    stat_prefix: STAT_PREFIX,
    token_bucket: { max_tokens: limit.burst, tokens_per_fill: { value: limit.requestsPerSecond }, fill_interval: durationMessage(1_000) },
    filter_enabled: always('infermesh.rate_limit.enabled'),
    filter_enforced: always('infermesh.rate_limit.enforced'),
    response_headers_to_add: [{ header: { key: RATE_LIMITED_HEADER, value: model.policy.model }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
    rate_limited_as_resource_exhausted: true,
  });
  return { [LOCAL_RATE_LIMIT_FILTER]: typedConfig('routeFilterConfig', { config, is_optional: true }) };
}

/**
 * The answers to a rate-limited call, which Envoy words as a bare "local_rate_limited": JSON for REST
 * callers, as Envoy's other errors (upstream-errors.ts), keeping the 429; for gRPC callers a grpc-message
 * saying so, the status (RESOURCE_EXHAUSTED) left as the filter set it. The model is read back from the
 * header the filter has already added to the answer. Selected by status 429, not by the RL flag: the filter
 * sets that flag only after its local reply has been mapped. Mappers see only Envoy's own answers, and
 * nothing else of Envoy's answers 429, so a pod's own 429 passes untouched.
 */
export function rateLimitMappers(restCaller: AccessLogFilter, grpcCaller: AccessLogFilter): ResponseMapper[] {
  // op EQ, the default, is not written (see wrappers.ts on defaults).
  const limited: AccessLogFilter = { status_code_filter: { comparison: { value: { default_value: 429, runtime_key: 'infermesh.local_reply.rate_limited' } } } };
  const model = `%RESP(${RATE_LIMITED_HEADER})%`;
  const message = `model ${model} is over its rate limit in this sidecar: retry later`;
  return [
    { filter: { and_filter: { filters: [limited, restCaller] } }, body_format_override: { json_format: flatStruct({ error: 'rate_limited', model, message }) } },
    { filter: { and_filter: { filters: [limited, grpcCaller] } }, body_format_override: { text_format_source: { inline_string: message } } },
  ];
}
