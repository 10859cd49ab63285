import type { Latency, ParsedStats } from './stats.ts';

/**
 * `/stats/prometheus`, the fallback when `/stats?format=json` is unavailable. Envoy's tag extractors move the
 * cluster name into `envoy_cluster_name` and the response class into `envoy_response_code_class`, so
 *   envoy_cluster_upstream_rq_total{envoy_cluster_name="infermesh|bert|default"} 12
 *   envoy_cluster_upstream_rq_xx{envoy_response_code_class="5",envoy_cluster_name="infermesh|bert|default"} 1
 *   envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="infermesh|bert|default",le="25"} 9
 * become `cluster.infermesh|bert|default.upstream_rq_total`, `...upstream_rq_5xx` and the latency of
 * `...upstream_rq_time`, whose quantiles are estimated from the buckets as PromQL's histogram_quantile does.
 * Other series are ignored. (Envoy's extractor cuts a cluster name at its first '.', so a model name with a
 * '.' has no usable cluster stats in this format; the JSON format has no such limit.)
 */

interface Sample {
  metric: string;
  labels: Map<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/y;

function parseLabels(source: string): Map<string, string> | undefined {
  const labels = new Map<string, string>();
  let position = 0;
  while (position < source.length) {
    LABEL.lastIndex = position;
    const match = LABEL.exec(source);
    if (!match || match[0] === '') return undefined;
    const [whole, name = '', raw = ''] = match;
    labels.set(name, raw.replace(/\\(.)/g, (_, escaped: string) => (escaped === 'n' ? '\n' : escaped)));
    position += whole.length;
  }
  return labels;
}

function parseSample(line: string): Sample | undefined {
  const match = SAMPLE.exec(line.trim());
  if (!match) return undefined;
  const [, metric = '', labelText = '', valueText = ''] = match;
  const labels = parseLabels(labelText);
  const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
  return labels && !Number.isNaN(value) ? { metric, labels, value } : undefined;
}

/** histogram_quantile over cumulative buckets (upper bound -> count), linear within a bucket. */
export function bucketQuantile(buckets: ReadonlyMap<number, number>, quantile: number): number | null {
  const sorted = [...buckets.entries()].sort(([a], [b]) => a - b);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0) return null;
  const rank = quantile * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [upperBound, cumulative] of sorted) {
    if (cumulative >= rank) {
      if (upperBound === Infinity) return lowerBound;
      const inBucket = cumulative - lowerCount;
      return inBucket <= 0 ? upperBound : lowerBound + ((upperBound - lowerBound) * (rank - lowerCount)) / inBucket;
    }
    lowerBound = upperBound;
    lowerCount = cumulative;
  }
  return lowerBound;
}

export function parsePrometheus(body: string): ParsedStats {
  const values = new Map<string, number>();
  const buckets = new Map<string, Map<number, number>>();
  for (const line of body.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const sample = parseSample(line);
    const cluster = sample?.labels.get('envoy_cluster_name');
    if (!sample || cluster === undefined || !sample.metric.startsWith('envoy_cluster_')) continue;
    const stat = sample.metric.slice('envoy_cluster_'.length);
    // The sidecar bootstrap's own tags (infermesh_model, infermesh_backend) repeat what the cluster name says.
    const others = [...sample.labels.keys()].filter((label) => label !== 'envoy_cluster_name' && !label.startsWith('infermesh_'));
    const le = sample.labels.get('le');
    if (stat.endsWith('_bucket') && le !== undefined && others.length === 1) {
      const histogram = `cluster.${cluster}.${stat.slice(0, -'_bucket'.length)}`;
      const bounds = buckets.get(histogram) ?? new Map<number, number>();
      bounds.set(le === '+Inf' ? Infinity : Number(le), sample.value);
      buckets.set(histogram, bounds);
    } else if (stat === 'upstream_rq_xx' && others.length === 1 && others[0] === 'envoy_response_code_class') {
      values.set(`cluster.${cluster}.upstream_rq_${sample.labels.get('envoy_response_code_class') ?? '?'}xx`, sample.value);
    } else if (others.length === 0) {
      values.set(`cluster.${cluster}.${stat}`, sample.value);
    }
  }
  const latencies = new Map<string, Latency>();
  for (const [histogram, bounds] of buckets) {
    latencies.set(histogram, { p50: bucketQuantile(bounds, 0.5), p99: bucketQuantile(bounds, 0.99) });
  }
  return { format: 'prometheus', values, latencies };
}
