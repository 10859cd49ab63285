import { count, field, list, text } from './json.ts';

/** Upstream latency in milliseconds; null when Envoy has recorded no request yet. */
export interface Latency {
  p50: number | null;
  p99: number | null;
}

/** Envoy's stats by their full names (`cluster.infermesh|bert|default.upstream_rq_total`), from either format. */
export interface ParsedStats {
  /** json: `/stats?format=json` (quantiles Envoy computed); prometheus: `/stats/prometheus` (estimated from buckets). */
  format: 'json' | 'prometheus';
  values: ReadonlyMap<string, number>;
  /** Histogram name -> cumulative (since Envoy started) quantiles. */
  latencies: ReadonlyMap<string, Latency>;
}

/** What one cluster's stats say about its traffic since the sidecar started. */
export interface ClusterTraffic {
  requests: number;
  responses5xx: number;
  retries: number;
  timeouts: number;
  latencyMs: Latency;
}

function quantileAt(supported: readonly unknown[], values: readonly unknown[], wanted: number): number | null {
  const index = supported.findIndex((q) => count(q) === wanted);
  const value = count(field(values[index], 'cumulative'));
  return index < 0 || value === undefined ? null : value;
}

/**
 * Parses `/stats?format=json`: `{"stats": [{"name", "value"}..., {"histograms": {"supported_quantiles": [0, 25,
 * 50, ...], "computed_quantiles": [{"name", "values": [{"interval", "cumulative"}...]}]}}]}`, each `values`
 * entry matching `supported_quantiles` by position. Undefined when the body has no `stats` list.
 */
export function parseStatsJson(body: unknown): ParsedStats | undefined {
  const stats = field(body, 'stats');
  if (!Array.isArray(stats)) return undefined;
  const values = new Map<string, number>();
  const latencies = new Map<string, Latency>();
  for (const entry of stats) {
    const name = text(field(entry, 'name'));
    const value = count(field(entry, 'value'));
    if (name !== undefined && value !== undefined) values.set(name, value);
    const histograms = field(entry, 'histograms');
    if (histograms === undefined) continue;
    const supported = list(field(histograms, 'supported_quantiles'));
    for (const computed of list(field(histograms, 'computed_quantiles'))) {
      const histogram = text(field(computed, 'name'));
      const quantiles = list(field(computed, 'values'));
      if (histogram === undefined) continue;
      latencies.set(histogram, { p50: quantileAt(supported, quantiles, 50), p99: quantileAt(supported, quantiles, 99) });
    }
  }
  return { format: 'json', values, latencies };
}

/** The cluster's counters and latency; a counter Envoy has not created yet (no 5xx so far) counts as 0. */
export function clusterTraffic(stats: ParsedStats, statNames: readonly string[]): ClusterTraffic {
  const lookup = <T>(map: ReadonlyMap<string, T>, stat: string): T | undefined => {
    for (const name of statNames) {
      const value = map.get(`cluster.${name}.${stat}`);
      if (value !== undefined) return value;
    }
    return undefined;
  };
  const counter = (stat: string) => lookup(stats.values, stat) ?? 0;
  return {
    requests: counter('upstream_rq_total'),
    responses5xx: counter('upstream_rq_5xx'),
    retries: counter('upstream_rq_retry'),
    timeouts: counter('upstream_rq_timeout'),
    latencyMs: lookup(stats.latencies, 'upstream_rq_time') ?? { p50: null, p99: null },
  };
}
