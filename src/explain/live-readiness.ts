import { CONTROL_PLANE_HINT, InspectError, showBase } from '../inspect/fetch.ts';
import { count, field, isRecord, list, text } from '../inspect/json.ts';
import { ENDPOINT_STATES, zeroCounts, type BackendView, type EndpointState, type EndpointView, type ModelEndpoints } from '../status/model-endpoints.ts';

const HEALTH = new Set(['healthy', 'unhealthy', 'draining']);
const STATES = new Set<string>(ENDPOINT_STATES);

function endpointOf(value: unknown): EndpointView | undefined {
  const address = text(field(value, 'address'));
  const health = text(field(value, 'health'));
  const state = text(field(value, 'state'));
  if (address === undefined || health === undefined || !HEALTH.has(health) || state === undefined || !STATES.has(state)) return undefined;
  const optional = (name: 'pod' | 'zone' | 'reason' | 'fallback') => {
    const got = text(field(value, name));
    return got === undefined ? {} : { [name]: got };
  };
  return { address, health: health as EndpointView['health'], state: state as EndpointState, ...optional('pod'), ...optional('zone'), ...optional('reason'), ...optional('fallback') };
}

function modelOf(value: unknown): ModelEndpoints | undefined {
  const model = text(field(value, 'model'));
  if (model === undefined || !isRecord(field(value, 'probe'))) return undefined;
  const probe = field(value, 'probe');
  const port = field(probe, 'port');
  const counts = zeroCounts();
  for (const state of ENDPOINT_STATES) counts[state] = count(field(field(value, 'counts'), state)) ?? 0;
  const backends = list(field(value, 'backends')).map((backend): BackendView => ({
    name: text(field(backend, 'name')) ?? '',
    cluster: text(field(backend, 'cluster')) ?? '',
    service: text(field(backend, 'service')) ?? '',
    endpoints: list(field(backend, 'endpoints')).flatMap((e) => endpointOf(e) ?? []),
  }));
  return {
    model,
    probe: { enabled: field(probe, 'enabled') === true, port: typeof port === 'number' ? port : (text(port) ?? '') },
    serving: count(field(value, 'serving')) ?? 0,
    counts,
    backends,
  };
}

/** The `modelEndpoints` list of infermesh's /status; undefined when the body has none (an older version). */
export function parseModelEndpoints(body: unknown): ModelEndpoints[] | undefined {
  const models = field(body, 'modelEndpoints');
  if (!Array.isArray(models)) return undefined;
  return models.flatMap((m) => modelOf(m) ?? []);
}

/** Reads per-endpoint readiness from a running control plane's /status (its admin address). */
export async function readLiveReadiness(base: URL, timeoutMs: number, fetchImpl: typeof fetch = fetch): Promise<ModelEndpoints[]> {
  const url = new URL('status', base).href;
  let body: unknown;
  try {
    const response = await fetchImpl(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    if (response.status !== 200) throw new InspectError(`${url} answered HTTP ${response.status}`);
    body = JSON.parse(await response.text());
  } catch (error) {
    if (error instanceof InspectError) throw error;
    throw new InspectError(`cannot read ${url}: ${error instanceof Error ? error.message : String(error)}; ${CONTROL_PLANE_HINT}`);
  }
  const models = parseModelEndpoints(body);
  if (!models) throw new InspectError(`${showBase(base)}/status has no modelEndpoints: is it infermesh serve's admin address, of a version that probes models?`);
  return models;
}
