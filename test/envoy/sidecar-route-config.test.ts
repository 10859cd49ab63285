import { describe, expect, it } from 'vitest';
import { EMPTY_LAST_GOOD, reconcileWorld } from '../../src/controller/reconcile.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { ResourceCodec } from '../../src/snapshot/codec.ts';
import { readFolder } from '../../src/sources/folder.ts';
import { routeConfiguration, sidecarRouteConfiguration } from './route-config-json.ts';

type Json = Record<string, any>;
interface Request {
  path: string;
  headers: Record<string, string>;
}

/** Envoy's first-match walk over a route list, for the matchers infermesh emits. */
function firstMatch(routes: Json[], request: Request): string | undefined {
  const hit = routes.find((route) => {
    const match = route['match'] as Json;
    const pathOk = match['prefix'] !== undefined ? request.path.startsWith(match['prefix']) : new RegExp(match['safe_regex']['regex']).test(request.path);
    return pathOk && ((match['headers'] ?? []) as Json[]).every((h) => (h['present_match'] ? request.headers[h['name']] !== undefined : request.headers[h['name']] === h['exact_match']));
  });
  return hit?.['name'] as string | undefined;
}

/** Envoy's lookup in a virtual host: the matcher tree when there is one (exact map on a header), else the list. */
function lookup(config: Json, request: Request): string | undefined {
  const host = config['virtual_hosts'][0] as Json;
  if (!host['matcher']) return firstMatch(host['routes'], request);
  const tree = host['matcher']['matcher_tree'];
  const key = request.headers[tree['input']['typed_config']['header_name']];
  const onMatch = (key !== undefined && tree['exact_match_map']['map'][key]) || host['matcher']['on_no_match'];
  return firstMatch(onMatch['action']['typed_config']['routes'], request);
}

const CASES: [string, Request, string][] = [
  ['model by name', { path: '/inference.GRPCInferenceService/ModelInfer', headers: { 'x-model': 'resnet50' } }, 'resnet50'],
  ['model by alias', { path: '/x', headers: { 'x-model': 'resnet' } }, 'resnet'],
  ['version pin', { path: '/x', headers: { 'x-model': 'resnet50', 'x-model-version': '2' } }, 'resnet50|version=2'],
  ['unknown version', { path: '/x', headers: { 'x-model': 'resnet50', 'x-model-version': '9' } }, 'resnet50|unknown-version'],
  ['unknown model', { path: '/v2/models/resnet50/infer', headers: { 'x-model': 'nope' } }, 'unknown-model'],
  ['REST path without header', { path: '/v2/models/resnet50/infer', headers: {} }, '/v2/models/resnet50'],
  ['REST path of another model without header', { path: '/v1/models/bert:predict', headers: {} }, '/v1/models/bert'],
  ['nothing to route by', { path: '/healthz', headers: {} }, 'missing-model-header'],
];

describe('the sidecar matcher tree and the gRPC route list', () => {
  it.each(CASES)('pick the same route: %s', async (_label, request, expected) => {
    const codec = new ResourceCodec(loadEnvoyProtos());
    const result = reconcileWorld(await readFolder('examples/basic'), EMPTY_LAST_GOOD, codec, DEFAULT_SETTINGS);
    const parts = result.encoded.map((m) => m.routes);
    expect(lookup(sidecarRouteConfiguration(parts, DEFAULT_SETTINGS), request)).toBe(expected);
    expect(lookup(routeConfiguration(parts, DEFAULT_SETTINGS), request)).toBe(expected);
  });
});
