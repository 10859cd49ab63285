/**
 * The inspect parsers on admin answers captured from a real Envoy 1.40 (scripts/capture-inspect-fixtures.ts
 * writes fixtures/envoy-1.40/ and capture.json, what the fake pods served). The other fixtures hold
 * scenarios a healthy capture cannot show (ejections, refused updates); their format follows these.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { InspectView } from '../../src/inspect/view.ts';
import type { Answer } from './fake-admin.ts';
import { fake, run } from './harness.ts';

const dir = path.join(import.meta.dirname, 'fixtures', 'envoy-1.40');
const file = (name: string) => readFileSync(path.join(dir, name), 'utf8');
const capture = JSON.parse(file('capture.json')) as { envoyVersion: string; nodeId: string; served: Record<string, number> };

function routes(json: boolean): Record<string, Answer | ((url: URL) => Answer)> {
  return {
    '/server_info': { type: 'application/json', body: file('server_info.json') },
    '/clusters': { type: 'application/json', body: file('clusters.json') },
    '/stats': json ? { type: 'application/json', body: file('stats.json') } : { status: 404, body: 'no JSON stats here' },
    '/stats/prometheus': { type: 'text/plain; version=0.0.4', body: file('stats.prom') },
    '/config_dump': { type: 'application/json', body: file('config_dump.json') },
  };
}

const backendRows = (view: InspectView) =>
  view.models.flatMap((m) => m.backends.map((b) => [`${m.model}/${b.backend}`, b.requests, `${b.endpoints.healthy}/${b.endpoints.total}`, b.responses5xx]));

describe('inspect on a real Envoy 1.40 capture', () => {
  const expected = [
    ['bert/main', capture.served['bert-0'], '1/1', 0],
    ['resnet50/canary', capture.served['resnet50-v2-0'], '1/1', 0],
    ['resnet50/stable', capture.served['resnet50-v1-0'], '1/1', 0],
  ];

  it('reads the node, version, config versions, and per backend the requests the pods served', async () => {
    const admin = await fake(routes(true));
    const { code, out } = await run(['--admin', admin.url, '-o', 'json']);
    expect(code).toBe(0);
    const view = JSON.parse(out) as InspectView;
    expect(view.sidecar).toMatchObject({ nodeId: capture.nodeId, envoyVersion: capture.envoyVersion, state: 'LIVE', statsFormat: 'json' });
    for (const type of ['cds', 'lds', 'rds'] as const) expect(view.configVersions[type]?.version).toMatch(/^[0-9a-f]{16}$/);
    expect(backendRows(view)).toEqual(expected);
    // The capture waited for a stats flush, so Envoy had computed the quantiles.
    for (const backend of view.models.flatMap((m) => m.backends)) expect(backend.latencyMs.p99).toEqual(expect.any(Number));
  });

  it('finds the same counts in the Prometheus text when JSON stats are unavailable', async () => {
    const admin = await fake(routes(false));
    const { code, out } = await run(['--admin', admin.url, '-o', 'json']);
    expect(code).toBe(0);
    const view = JSON.parse(out) as InspectView;
    expect(view.sidecar.statsFormat).toBe('prometheus');
    expect(backendRows(view)).toEqual(expected);
  });
});
