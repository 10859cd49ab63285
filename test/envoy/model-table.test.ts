import { describe, expect, it } from 'vitest';
import { EMPTY_LAST_GOOD, reconcileWorld } from '../../src/controller/reconcile.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { ResourceCodec } from '../../src/snapshot/codec.ts';
import { readFolder } from '../../src/sources/folder.ts';
import { modelTableConfiguration, routeConfiguration } from './route-config-json.ts';

type Json = Record<string, any>;
interface Request {
  path: string;
  headers: Record<string, string>;
}

/**
 * Envoy's first-match walk over a route list, for the matchers infermesh emits; the route's retry policy is
 * its own or, without one, its virtual host's (as Envoy and gRPC clients apply it), unless it aborts.
 */
function firstMatch(config: Json, request: Request): Json | undefined {
  const host = config['virtual_hosts'][0] as Json;
  const hit = (host['routes'] as Json[]).find((route) => {
    const match = route['match'] as Json;
    const pathOk = match['prefix'] !== undefined ? request.path.startsWith(match['prefix']) : new RegExp(match['safe_regex']['regex']).test(request.path);
    return pathOk && ((match['headers'] ?? []) as Json[]).every((h) => (h['present_match'] ? request.headers[h['name']] !== undefined : request.headers[h['name']] === h['exact_match']));
  });
  // An error route aborts (fault filter) before any upstream attempt: a policy it inherits never applies.
  if (!hit?.['route'] || hit['route']['retry_policy'] || !host['retry_policy'] || hit['typed_per_filter_config']) return hit;
  return { ...hit, route: { ...hit['route'], retry_policy: host['retry_policy'] } };
}

/** What a route does: where it sends the request (and how), or how it fails it. */
const outcome = (route: Json | undefined) => JSON.stringify(route ? [route['route'], route['typed_per_filter_config']] : null);

/** [label, the table's name (the scope the header picks), request (the header as a sidecar sees it)] */
const CASES: [string, string, Request][] = [
  ['model by name', 'resnet50', { path: '/inference.GRPCInferenceService/ModelInfer', headers: { 'x-model': 'resnet50' } }],
  ['model by alias', 'resnet', { path: '/x', headers: { 'x-model': 'resnet' } }],
  ['version pin', 'resnet50', { path: '/x', headers: { 'x-model': 'resnet50', 'x-model-version': '2' } }],
  ['version pin through an alias', 'resnet', { path: '/x', headers: { 'x-model': 'resnet', 'x-model-version': '1' } }],
  ['unknown version', 'resnet50', { path: '/x', headers: { 'x-model': 'resnet50', 'x-model-version': '9' } }],
  ['REST path, model header set from it', 'resnet50', { path: '/v2/models/resnet50/infer', headers: { 'x-model': 'resnet50' } }],
  ['REST path of another kind', 'bert', { path: '/v1/models/bert:predict', headers: { 'x-model': 'bert' } }],
];

describe("a model's own table and the header-routed gRPC list", () => {
  it.each(CASES)('do the same: %s', async (_label, name, request) => {
    const codec = new ResourceCodec(loadEnvoyProtos());
    const result = reconcileWorld(await readFolder('examples/basic'), EMPTY_LAST_GOOD, codec, DEFAULT_SETTINGS);
    const parts = result.encoded.map((m) => m.routes);
    const part = result.encoded.find((m) => m.routes.byName.some((group) => group.name === name))?.routes;
    expect(part, name).toBeDefined();
    const own = firstMatch(modelTableConfiguration(part!, DEFAULT_SETTINGS, name), request);
    expect(own).toBeDefined();
    expect(outcome(own)).toBe(outcome(firstMatch(routeConfiguration(parts, DEFAULT_SETTINGS), request)));
  });
});
