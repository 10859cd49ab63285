import { type ClusterStatus, parseClusters } from './clusters.ts';
import { type ConfigVersions, parseConfigDump, routesByScope } from './config-dump.ts';
import { type ControlPlaneStatus, parseControlPlaneStatus } from './control-plane.ts';
import { parsePrometheus } from './prometheus.ts';
import { type ServerInfo, parseServerInfo } from './server-info.ts';
import { type ParsedStats, parseStatsJson } from './stats.ts';

/** A failure to read an admin API: the CLI prints the message and exits 1. */
export class InspectError extends Error {}

export interface HttpOptions {
  /** Per request; AbortSignal.timeout. */
  timeoutMs: number;
  fetch?: typeof fetch;
  /** Cancels requests in flight (--watch stopped by Ctrl-C). */
  signal?: AbortSignal;
}

/** Everything `inspect` reads from one sidecar's Envoy admin API. */
export interface SidecarAnswers {
  serverInfo: ServerInfo;
  clusters: ClusterStatus[];
  stats: ParsedStats;
  config: ConfigVersions;
  /** Routes by scopes, loading models on demand (config-dump.ts routesByScope); absent means no. */
  onDemand?: boolean;
}

export const SIDECAR_HINT =
  "is the sidecar's admin port forwarded? Envoy's admin API listens on the pod's 127.0.0.1:9901: kubectl port-forward pod/NAME 9901";
export const CONTROL_PLANE_HINT =
  "is infermesh serve's admin address forwarded? kubectl port-forward -n infermesh-system deploy/infermesh 9090";

/** `http://127.0.0.1:9901`, `127.0.0.1:9901` or `localhost:9901/` as a base URL; undefined when not one. */
export function baseUrl(address: string): URL | undefined {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(address) ? address : `http://${address}`;
  try {
    const url = new URL(withScheme);
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '' || url.search !== '' || url.hash !== '') return undefined;
    url.pathname = url.pathname.replace(/\/*$/, '/');
    return url;
  } catch {
    return undefined;
  }
}

/** The base as the user would type it: no trailing slash. */
export function showBase(base: URL): string {
  return base.href.replace(/\/$/, '');
}

interface Answer {
  url: string;
  status: number;
  body: string;
}

function networkProblem(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return `no answer within ${timeoutMs / 1000}s`;
  const cause = error instanceof Error ? error.cause : undefined;
  const code = cause instanceof Error && 'code' in cause ? String(cause.code) : undefined;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'unknown host';
  if (code === 'ECONNRESET') return 'connection reset';
  const message = cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

async function get(base: URL, path: string, options: HttpOptions, hint: string): Promise<Answer> {
  const url = new URL(path, base).href;
  try {
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
    const response = await (options.fetch ?? fetch)(url, { signal, headers: { accept: 'application/json, text/plain' } });
    return { url, status: response.status, body: await response.text() };
  } catch (error) {
    throw new InspectError(`cannot reach ${url}: ${networkProblem(error, options.timeoutMs)}; ${hint}`);
  }
}

function excerpt(body: string): string {
  const line = body.trim().split('\n')[0] ?? '';
  return line === '' ? '' : `: ${line.length > 120 ? `${line.slice(0, 120)}...` : line}`;
}

function jsonOf(answer: Answer): unknown {
  try {
    return JSON.parse(answer.body);
  } catch {
    return undefined;
  }
}

async function getJson(base: URL, path: string, options: HttpOptions, hint: string): Promise<unknown> {
  const answer = await get(base, path, options, hint);
  if (answer.status !== 200) throw new InspectError(`${answer.url} answered HTTP ${answer.status}${excerpt(answer.body)}`);
  const body = jsonOf(answer);
  if (body === undefined) throw new InspectError(`${answer.url} answered with something other than JSON${excerpt(answer.body)}`);
  return body;
}

/** `/stats?format=json`, or `/stats/prometheus` when that fails (e.g. a proxy that exposes only the latter). */
async function readStats(base: URL, options: HttpOptions): Promise<ParsedStats> {
  const json = await get(base, `stats?format=json&filter=${encodeURIComponent('^cluster\\.infermesh\\|')}`, options, SIDECAR_HINT);
  const parsed = json.status === 200 ? parseStatsJson(jsonOf(json)) : undefined;
  if (parsed) return parsed;
  const why = json.status === 200 ? 'not the stats JSON format' : `HTTP ${json.status}`;
  const prometheus = await get(base, 'stats/prometheus', options, SIDECAR_HINT);
  if (prometheus.status !== 200) throw new InspectError(`${json.url} answered ${why} and ${prometheus.url} answered HTTP ${prometheus.status}${excerpt(prometheus.body)}`);
  return parsePrometheus(prometheus.body);
}

/** Reads one sidecar: `/server_info` first (is it Envoy at all?), then clusters, stats and config in parallel. */
export async function readSidecar(base: URL, options: HttpOptions): Promise<SidecarAnswers> {
  const info = await get(base, 'server_info', options, SIDECAR_HINT);
  const serverInfo = info.status === 200 ? parseServerInfo(jsonOf(info)) : undefined;
  if (!serverInfo) {
    if (info.status >= 500) throw new InspectError(`${info.url} answered HTTP ${info.status}${excerpt(info.body)}`);
    const ours = info.body.includes('/readyz') ? '; this looks like infermesh\'s own admin address: pass it as --server' : '';
    throw new InspectError(`${showBase(base)} answered but is not an Envoy admin API (no server_info state/version)${ours}`);
  }
  const [clustersBody, stats, dumpBody] = await Promise.all([
    getJson(base, 'clusters?format=json', options, SIDECAR_HINT),
    readStats(base, options),
    getJson(base, 'config_dump?include_eds', options, SIDECAR_HINT),
  ]);
  const clusters = parseClusters(clustersBody);
  if (!clusters) throw new InspectError(`${new URL('clusters?format=json', base).href} is not Envoy's clusters JSON (no cluster_statuses list)`);
  const config = parseConfigDump(dumpBody);
  if (!config) throw new InspectError(`${new URL('config_dump?include_eds', base).href} is not an Envoy config dump (no configs list)`);
  return { serverInfo, clusters, stats, config, onDemand: routesByScope(dumpBody) };
}

/** Reads infermesh's `/status` from its admin address. */
export async function readControlPlane(base: URL, options: HttpOptions): Promise<ControlPlaneStatus> {
  const body = await getJson(base, 'status', options, CONTROL_PLANE_HINT);
  const status = parseControlPlaneStatus(body);
  if (!status) throw new InspectError(`${new URL('status', base).href} answered but is not infermesh's status (no models list)`);
  return status;
}
