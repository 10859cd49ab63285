import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/** One canned answer; a function gets the request URL (e.g. to honour ?filter=). */
export interface Answer {
  status?: number;
  type?: string;
  body: string;
}
export type Route = Answer | ((url: URL) => Answer) | 'hang';

export interface FakeServer {
  url: string;
  port: number;
  /** Every request's path and query, in arrival order. */
  requests: string[];
  close(): Promise<void>;
}

const fixtures = path.join(import.meta.dirname, 'fixtures');
export const fixture = (name: string): string => readFileSync(path.join(fixtures, name), 'utf8');
export const fixtureJson = (name: string): unknown => JSON.parse(fixture(name));

const json = (body: unknown): Answer => ({ type: 'application/json', body: `${JSON.stringify(body, null, 1)}\n` });

/** `/stats?format=json` as Envoy answers it: the `filter` regex applies to stat and histogram names. */
function statsJson(url: URL): Answer {
  if (url.searchParams.get('format') !== 'json') return { type: 'text/plain', body: 'cluster.infermesh|bert|main.upstream_rq_total: 930\n' };
  const filter = url.searchParams.get('filter');
  const keep = (name: unknown) => filter === null || (typeof name === 'string' && new RegExp(filter).test(name));
  const body = fixtureJson('stats.json') as { stats: Record<string, unknown>[] };
  const stats = body.stats.flatMap((entry) => {
    const histograms = entry['histograms'] as { supported_quantiles: number[]; computed_quantiles: { name: string }[] } | undefined;
    if (!histograms) return keep(entry['name']) ? [entry] : [];
    return [{ histograms: { ...histograms, computed_quantiles: histograms.computed_quantiles.filter((h) => keep(h.name)) } }];
  });
  return json({ stats });
}

/** The routes of a healthy Envoy admin API serving the fixtures (Envoy 1.40, two models). */
export function envoyRoutes(): Record<string, Route> {
  return {
    '/server_info': { type: 'application/json', body: fixture('server_info.json') },
    '/clusters': (url) =>
      url.searchParams.get('format') === 'json'
        ? { type: 'application/json', body: fixture('clusters.json') }
        : { type: 'text/plain', body: 'infermesh|bert|main::10.0.3.31:8500::rq_total::925\n' },
    '/stats': statsJson,
    '/stats/prometheus': { type: 'text/plain; version=0.0.4', body: fixture('stats.prom') },
    '/config_dump': (url) => {
      const dump = fixtureJson('config_dump.json') as { configs: { '@type': string }[] };
      // Without include_eds Envoy leaves the endpoints out, as the real one does.
      if (url.searchParams.has('include_eds')) return json(dump);
      return json({ configs: dump.configs.filter((c) => !c['@type'].endsWith('EndpointsConfigDump')) });
    },
  };
}

/** An HTTP server on 127.0.0.1, port 0; unknown paths get Envoy's 404. */
export async function startFake(routes: Record<string, Route>): Promise<FakeServer> {
  const requests: string[] = [];
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://fake');
    requests.push(`${url.pathname}${url.search}`);
    const route = routes[url.pathname];
    if (route === 'hang') return;
    const answer = route === undefined ? { status: 404, type: 'text/plain', body: 'invalid path. admin commands are:\n  /: Admin home page\n' } : typeof route === 'function' ? route(url) : route;
    response.writeHead(answer.status ?? 200, { 'content-type': answer.type ?? 'text/plain' });
    response.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const fake = await startFake({});
  await fake.close();
  return fake.port;
}
