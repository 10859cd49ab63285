/**
 * The routing contract (README "Routing semantics") through a real Envoy sidecar, for HTTP/1.1 REST callers:
 * TF Serving /v1/models/M[:predict] and Triton / KServe v2 /v2/models/M/infer paths, with the x-model header
 * and without it (path routing), on every pinned Envoy (delta ADS, as every sidecar). Error answers are asserted
 * exactly: status, content type and JSON body. The fake pods check the model and version they are asked for,
 * so a request routed to the wrong backend fails here as a 404 from the pod.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
import { Mesh } from '../support/mesh.ts';
import { trackFailures, type Sidecar } from '../support/sidecar.ts';
import { describeWithTool, envoyBinaries } from '../support/tools.ts';
import { describeSidecars, servedBy, tallyPods } from './routing-support.ts';

const RESNET_POLICY = `
model: resnet50
aliases: [resnet]
server: triton
protocol: http
backends:
  - { name: stable, service: resnet50-v1, port: http, version: "1", weight: 90 }
  - { name: canary, service: resnet50-v2, port: http, version: "2", weight: 10 }
`;

const BERT_POLICY = `
model: bert
aliases: [bert-base]
server: tfserving
protocol: http
backends:
  - { name: v1, service: bert-v1, port: http, version: "1", weight: 50 }
  - { name: v2, service: bert-v2, port: http, version: "2", weight: 50 }
`;

/** Served but never called here: a sidecar must not load its table or its clusters. */
const DENSENET_POLICY = `
model: densenet
server: triton
protocol: http
backends:
  - { name: main, service: densenet, port: http, weight: 100 }
`;

interface RestAnswer {
  status: number;
  contentType: string | null;
  body: unknown;
}

async function call(sidecar: Sidecar, path: string, headers: Record<string, string> = {}, method = 'POST'): Promise<RestAnswer> {
  const init: RequestInit = { method, headers, signal: AbortSignal.timeout(5_000) };
  if (method === 'POST') init.body = JSON.stringify({ inputs: [] });
  const response = await fetch(`${sidecar.url}${path}`, init);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text, the assertion shows it
  }
  return { status: response.status, contentType: response.headers.get('content-type'), body };
}

/** The pod that served a successful inference (the fakes put it in every REST body). */
async function servedPod(sidecar: Sidecar, path: string, headers: Record<string, string> = {}): Promise<string> {
  const answer = await call(sidecar, path, headers);
  const pod = (answer.body as { served_by?: unknown }).served_by;
  if (answer.status !== 200 || typeof pod !== 'string') throw new Error(`${path} ${JSON.stringify(headers)}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return pod;
}

async function podsOf(sidecar: Sidecar, count: number, path: string, headers: Record<string, string> = {}): Promise<Map<string, number>> {
  const { byPod, errors } = await tallyPods(count, 20, () => servedPod(sidecar, path, headers));
  expect(errors).toEqual([]);
  return byPod;
}

const JSON_TYPE = 'application/json';
const HEADER_REQUIRED = 'set the x-model header (and optionally x-model-version), or call a /v1/models/M or /v2/models/M path of a known model';

function modelNotFound(model: string, version?: string): RestAnswer {
  const body = version === undefined
    ? { error: 'model_not_found', model, message: `no model named "${model}" is served here` }
    : { error: 'model_not_found', model, version, message: `no model named "${model}" with version "${version}" is served here` };
  return { status: 404, contentType: JSON_TYPE, body };
}

function pathNotFound(path: string): RestAnswer {
  return { status: 404, contentType: JSON_TYPE, body: { error: 'model_not_found', path, message: `no model version at ${path} is served here` } };
}

function headerRequired(path: string): RestAnswer {
  return { status: 400, contentType: JSON_TYPE, body: { error: 'model_header_required', path, message: HEADER_REQUIRED } };
}

const TRITON_INFER = '/v2/models/resnet50/infer';
const TF_PREDICT = '/v1/models/bert:predict';

let mesh: Mesh;
const failures = trackFailures();

beforeAll(async () => {
  mesh = await Mesh.start(
    [
      { kind: 'triton', host: '127.0.0.40', pod: 'resnet50-v1-a', service: 'resnet50-v1', models: ['resnet50'], version: '1' },
      { kind: 'triton', host: '127.0.0.41', pod: 'resnet50-v1-b', service: 'resnet50-v1', models: ['resnet50'], version: '1' },
      { kind: 'triton', host: '127.0.0.42', pod: 'resnet50-v2-a', service: 'resnet50-v2', models: ['resnet50'], version: '2' },
      { kind: 'tfserving', host: '127.0.0.43', pod: 'bert-v1-a', service: 'bert-v1', models: ['bert'], version: '1' },
      { kind: 'tfserving', host: '127.0.0.44', pod: 'bert-v2-a', service: 'bert-v2', models: ['bert'], version: '2' },
    ],
    { 'resnet50-policy': RESNET_POLICY, 'bert-policy': BERT_POLICY, 'densenet-policy': DENSENET_POLICY },
  );
});

afterAll(async () => {
  await mesh?.close();
});

describeWithTool('routing contract through an Envoy sidecar, REST over HTTP/1.1', envoyBinaries(), (binaries) => {
  for (const binary of binaries) {
    describeSidecars(binary, () => mesh, failures, (sidecar) => {
      it('x-model: M splits 1,000 requests across M\'s backends (Triton /v2 and TF Serving /v1)', async () => {
        await eventually(() => servedPod(sidecar(), TRITON_INFER, { 'x-model': 'resnet50' }));
        const byPod = await podsOf(sidecar(), 1000, TRITON_INFER, { 'x-model': 'resnet50' });
        const canary = servedBy(byPod, 'resnet50-v2');
        expect(servedBy(byPod, 'resnet50-v1') + canary).toBe(1000);
        // 90/10: 3.5 standard deviations of binomial(1000, 0.1) is about 33 requests.
        expect(canary).toBeGreaterThan(100 - 35);
        expect(canary).toBeLessThan(100 + 35);
        // Stable's share is spread over both of its pods (about 450 each).
        expect(byPod.get('resnet50-v1-a')).toBeGreaterThan(350);
        expect(byPod.get('resnet50-v1-b')).toBeGreaterThan(350);
        const bert = await podsOf(sidecar(), 100, TF_PREDICT, { 'x-model': 'bert' });
        expect(bert.get('bert-v1-a')).toBeGreaterThan(20);
        expect(bert.get('bert-v2-a')).toBeGreaterThan(20);
      });

      it('holds only the tables and clusters of the models it called, not the one it never called (README "What is pushed")', async () => {
        const dump = await sidecar().envoy.adminJson<{ configs: Record<string, unknown>[] }>('/config_dump');
        const of = (type: string) => dump.configs.find((config) => String(config['@type']).endsWith(`.${type}`)) ?? {};
        const listeners = (of('ListenersConfigDump')['dynamic_listeners'] ?? []) as { name: string }[];
        const routes = (of('RoutesConfigDump')['dynamic_route_configs'] ?? []) as { route_config: { name: string } }[];
        const clusters = (of('ClustersConfigDump')['dynamic_active_clusters'] ?? []) as { cluster: { name: string } }[];
        expect(listeners.map((listener) => listener.name)).toEqual(['infermesh-sidecar']);
        expect(routes.map((route) => route.route_config.name).sort()).toEqual(['infermesh/bert', 'infermesh/resnet50']);
        const models = new Set(clusters.map(({ cluster }) => cluster.name.split('|')[1]));
        expect(models.has('resnet50') && models.has('bert')).toBe(true);
        expect(models.has('densenet')).toBe(false);
      });

      it('x-model: M with x-model-version: V reaches only V\'s backend', async () => {
        expect([...(await podsOf(sidecar(), 30, TRITON_INFER, { 'x-model': 'resnet50', 'x-model-version': '2' })).keys()]).toEqual(['resnet50-v2-a']);
        expect(servedBy(await podsOf(sidecar(), 30, TRITON_INFER, { 'x-model': 'resnet50', 'x-model-version': '1' }), 'resnet50-v1')).toBe(30);
        expect([...(await podsOf(sidecar(), 30, TF_PREDICT, { 'x-model': 'bert', 'x-model-version': '1' })).keys()]).toEqual(['bert-v1-a']);
      });

      it('an alias in x-model routes like the model\'s own name', async () => {
        expect([...(await podsOf(sidecar(), 20, TRITON_INFER, { 'x-model': 'resnet', 'x-model-version': '2' })).keys()]).toEqual(['resnet50-v2-a']);
        expect([...(await podsOf(sidecar(), 20, TF_PREDICT, { 'x-model': 'bert-base', 'x-model-version': '2' })).keys()]).toEqual(['bert-v2-a']);
        const split = await podsOf(sidecar(), 60, TRITON_INFER, { 'x-model': 'resnet' });
        expect(servedBy(split, 'resnet50-v')).toBe(60);
      });

      it('x-model: M with an unknown x-model-version answers 404 JSON', async () => {
        expect(await call(sidecar(), TRITON_INFER, { 'x-model': 'resnet50', 'x-model-version': '7' })).toEqual(modelNotFound('resnet50', '7'));
        expect(await call(sidecar(), TF_PREDICT, { 'x-model': 'bert-base', 'x-model-version': '3', 'content-type': 'application/json' })).toEqual(modelNotFound('bert-base', '3'));
      });

      it('an unknown x-model answers 404 JSON naming the model', async () => {
        expect(await call(sidecar(), TRITON_INFER, { 'x-model': 'no-such-model' })).toEqual(modelNotFound('no-such-model'));
        expect(await call(sidecar(), TF_PREDICT, { 'x-model': 'no-such-model', 'x-model-version': '1', 'content-type': 'application/json' })).toEqual(modelNotFound('no-such-model', '1'));
        // The header wins over a known model's path.
        expect(await call(sidecar(), '/v1/models/bert', { 'x-model': 'gpt' }, 'GET')).toEqual(modelNotFound('gpt'));
      });

      it('no x-model: a /v2/models/M or /v1/models/M path routes by path, across the split', async () => {
        const triton = await podsOf(sidecar(), 200, TRITON_INFER);
        expect(servedBy(triton, 'resnet50-v1')).toBeGreaterThan(140);
        expect(servedBy(triton, 'resnet50-v2')).toBeGreaterThan(0);
        const tf = await podsOf(sidecar(), 60, TF_PREDICT);
        expect(tf.get('bert-v1-a')).toBeGreaterThan(10);
        expect(tf.get('bert-v2-a')).toBeGreaterThan(10);
        // Model status and metadata calls take the same routes (GET, no body).
        const status = await call(sidecar(), '/v1/models/bert', {}, 'GET');
        expect(status).toMatchObject({ status: 200, contentType: JSON_TYPE });
      });

      it('no x-model: /versions/V in the path pins V', async () => {
        expect([...(await podsOf(sidecar(), 20, '/v2/models/resnet50/versions/2/infer')).keys()]).toEqual(['resnet50-v2-a']);
        expect(servedBy(await podsOf(sidecar(), 20, '/v2/models/resnet50/versions/1/infer'), 'resnet50-v1')).toBe(20);
        expect([...(await podsOf(sidecar(), 20, '/v1/models/bert/versions/2:predict')).keys()]).toEqual(['bert-v2-a']);
        expect([...(await podsOf(sidecar(), 20, '/v1/models/bert/versions/1:predict')).keys()]).toEqual(['bert-v1-a']);
      });

      it('no x-model: an alias in the path reaches the model under its own name', async () => {
        expect([...(await podsOf(sidecar(), 20, '/v2/models/resnet/versions/2/infer')).keys()]).toEqual(['resnet50-v2-a']);
        expect(servedBy(await podsOf(sidecar(), 20, '/v2/models/resnet/infer'), 'resnet50-v')).toBe(20);
        expect([...(await podsOf(sidecar(), 20, '/v1/models/bert-base/versions/1:predict')).keys()]).toEqual(['bert-v1-a']);
      });

      it('no x-model: an unknown /versions/V in the path answers 404 JSON naming the path', async () => {
        expect(await call(sidecar(), '/v2/models/resnet50/versions/7/infer')).toEqual(pathNotFound('/v2/models/resnet50/versions/7/infer'));
        expect(await call(sidecar(), '/v1/models/bert/versions/9:predict', { 'content-type': 'application/json' })).toEqual(pathNotFound('/v1/models/bert/versions/9:predict'));
      });

      it('no x-model and no model path answers 400 JSON saying the header is required', async () => {
        // A bare GET carries no content-type at all.
        expect(await call(sidecar(), '/', {}, 'GET')).toEqual(headerRequired('/'));
        expect(await call(sidecar(), '/v2/health/ready', {}, 'GET')).toEqual(headerRequired('/v2/health/ready'));
        expect(await call(sidecar(), '/predict', { 'content-type': 'application/json' })).toEqual(headerRequired('/predict'));
      });

      it('no x-model and a REST path of a model that is not served answers 404 JSON naming that model', async () => {
        // The model is read from the path (model-from-path.ts), so the answer names it like the header would.
        expect(await call(sidecar(), '/v2/models/gpt/infer')).toEqual(modelNotFound('gpt'));
        expect(await call(sidecar(), '/v2/models/resnet500/infer')).toEqual(modelNotFound('resnet500'));
        expect(await call(sidecar(), '/v1/models/gpt/versions/3:predict')).toEqual(modelNotFound('gpt'));
      });
    });
  }

  it('never sent a request to a pod that does not serve its model and version', () => {
    for (const pod of mesh.pods.values()) expect({ pod: pod.pod, notFound: pod.notFound }).toEqual({ pod: pod.pod, notFound: 0 });
  });
});
