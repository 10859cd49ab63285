/**
 * The fakes' per-pod model repositories: load / unload / loading timing / failed loads, and what Triton's
 * repository index, model ready and inference, and TF Serving's model status and Predict answer for each
 * state (status codes, gRPC codes and messages as the real servers; see demo/fake-triton.ts and
 * demo/fake-tfserving.ts). Pods on 127.0.0.210-127.0.0.215.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  callUnary,
  createTfServingClient,
  createTfServingModelClient,
  createTritonClient,
  startFakeModelServer,
  tfServingGetModelStatus,
  tfServingPredict,
  tritonGetRepositoryIndex,
  tritonInfer,
  tritonModelReady,
  type FakeModelServer,
  type TfServingClient,
  type TritonClient,
} from '../../demo/fake-model-server.ts';

function isServiceError(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && 'code' in error && 'details' in error;
}

/** The gRPC status code and details a call failed with, or 'ok'. */
async function failure(call: () => Promise<unknown>): Promise<{ code: grpc.status; details: string } | 'ok'> {
  try {
    await call();
    return 'ok';
  } catch (error) {
    if (!isServiceError(error)) throw error;
    return { code: error.code, details: error.details };
  }
}

async function answer(response: Response): Promise<{ status: number; body: unknown }> {
  return { status: response.status, body: await response.json() };
}

let triton: FakeModelServer;
let tfserving: FakeModelServer;
const replicas: FakeModelServer[] = [];
let tritonClient: TritonClient;
let tfClient: TfServingClient;
let tritonBase: string;
let tfBase: string;

const index = (ready = false) =>
  fetch(`${tritonBase}/v2/repository/index`, { method: 'POST', body: JSON.stringify(ready ? { ready: true } : {}) }).then(answer);
const tritonReady = (path: string) => fetch(`${tritonBase}/v2/models/${path}/ready`).then(async (r) => (await r.arrayBuffer(), r.status));
const tritonRestInfer = (path: string) => fetch(`${tritonBase}/v2/models/${path}/infer`, { method: 'POST', body: '{}' }).then(answer);
const tfStatus = (path: string) => fetch(`${tfBase}/v1/models/${path}`).then(answer);
const tfRestPredict = (path: string) => fetch(`${tfBase}/v1/models/${path}:predict`, { method: 'POST', body: '{"instances":[1]}' }).then(answer);

beforeAll(async () => {
  [triton, tfserving] = await Promise.all([
    startFakeModelServer({ kind: 'triton', host: '127.0.0.210', pod: 'triton-0', models: ['resnet50'], version: '1' }),
    startFakeModelServer({ kind: 'tfserving', host: '127.0.0.211', pod: 'tf-0', models: ['mnist'], version: '3' }),
  ]);
  tritonClient = createTritonClient(triton.address());
  tfClient = createTfServingClient(tfserving.address());
  tritonBase = `http://${triton.httpAddress()}`;
  tfBase = `http://${tfserving.httpAddress()}`;
});

afterAll(async () => {
  tritonClient?.close();
  tfClient?.close();
  await Promise.all([triton?.close(), tfserving?.close(), ...replicas.map((pod) => pod.close())]);
});

describe('fake Triton model repository', () => {
  it('POST /v2/repository/index lists every version with state and reason; {"ready": true} only the ready ones', async () => {
    await triton.load('bert', '2', { fail: 'failed to allocate memory' });
    await triton.load('resnet50', '2');
    triton.setModelState('resnet50', '3', 'unloading');
    expect(await index()).toEqual({
      status: 200,
      body: [
        { name: 'resnet50', version: '1', state: 'READY', reason: '' },
        { name: 'resnet50', version: '2', state: 'READY', reason: '' },
        { name: 'resnet50', version: '3', state: 'UNLOADING', reason: '' },
        { name: 'bert', version: '2', state: 'UNAVAILABLE', reason: 'failed to allocate memory' },
      ],
    });
    expect((await index(true)).body).toEqual([
      { name: 'resnet50', version: '1', state: 'READY', reason: '' },
      { name: 'resnet50', version: '2', state: 'READY', reason: '' },
    ]);
    const get = await fetch(`${tritonBase}/v2/repository/index`);
    expect(get.status).toBe(405);
    await get.arrayBuffer();
    triton.unload('resnet50', '2');
    triton.unload('resnet50', '3');
  });

  it('gRPC RepositoryIndex answers the same entries as the REST index', async () => {
    triton.setModelState('resnet50', '3', 'loading');
    try {
      const rest = await index();
      await expect(tritonGetRepositoryIndex(tritonClient)).resolves.toEqual(rest.body);
      await expect(tritonGetRepositoryIndex(tritonClient, { ready: true })).resolves.toEqual((await index(true)).body);
      expect((await tritonGetRepositoryIndex(tritonClient)).find((entry) => entry.version === '3')).toEqual({ name: 'resnet50', version: '3', state: 'LOADING', reason: '' });
    } finally {
      triton.unload('resnet50', '3');
    }
  });

  it('model ready: 200 ready, 400 not ready or unknown, 503 when the server is not ready; gRPC ModelReady agrees', async () => {
    expect(await tritonReady('resnet50')).toBe(200);
    expect(await tritonReady('resnet50/versions/1')).toBe(200);
    expect(await tritonReady('resnet50/versions/2')).toBe(400); // unloaded
    expect(await tritonReady('resnet50/versions/9')).toBe(400); // never there
    expect(await tritonReady('nope')).toBe(400);
    await expect(tritonModelReady(tritonClient, 'resnet50')).resolves.toBe(true);
    await expect(tritonModelReady(tritonClient, 'resnet50', { version: '2' })).resolves.toBe(false);
    await expect(tritonModelReady(tritonClient, 'nope')).resolves.toBe(false);
    triton.setReady(false);
    try {
      expect(await tritonReady('resnet50')).toBe(503);
      expect(await failure(() => tritonModelReady(tritonClient, 'resnet50'))).toEqual({ code: grpc.status.UNAVAILABLE, details: 'Server not ready' });
      expect((await index()).status).toBe(200);
    } finally {
      triton.setReady(true);
    }
  });

  it('load goes LOADING for loadingMs, then READY; the load promise resolves then', async () => {
    const started = Date.now();
    const loading = triton.load('yolo', '1', { loadingMs: 300 });
    expect((await index()).body).toContainEqual({ name: 'yolo', version: '1', state: 'LOADING', reason: '' });
    expect(await tritonReady('yolo')).toBe(400);
    expect(await failure(() => tritonInfer(tritonClient, 'yolo'))).toMatchObject({ code: grpc.status.NOT_FOUND });
    await expect(loading).resolves.toMatchObject({ model: 'yolo', version: '1', state: 'ready' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(await tritonReady('yolo')).toBe(200);
    await expect(tritonInfer(tritonClient, 'yolo')).resolves.toEqual({ pod: 'triton-0', version: '1', model: 'yolo' });
  });

  it('unload makes the model not ready at once: UNAVAILABLE "unloaded", and inference answers as real Triton', async () => {
    triton.unload('yolo');
    expect((await index()).body).toContainEqual({ name: 'yolo', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' });
    expect(await tritonReady('yolo')).toBe(400);
    expect(await failure(() => tritonInfer(tritonClient, 'yolo'))).toEqual({
      code: grpc.status.NOT_FOUND,
      details: "Request for unknown model: 'yolo' has no available versions",
    });
    expect(await failure(() => tritonInfer(tritonClient, 'yolo', { version: '1' }))).toEqual({
      code: grpc.status.UNAVAILABLE,
      details: "Request for unknown model: 'yolo' version 1 is not at ready state",
    });
    expect(await failure(() => tritonInfer(tritonClient, 'yolo', { version: '7' }))).toEqual({
      code: grpc.status.NOT_FOUND,
      details: "Request for unknown model: 'yolo' version 7 is not found",
    });
    expect(await failure(() => callUnary(tritonClient, 'ModelMetadata', { name: 'yolo' }))).toMatchObject({ code: grpc.status.NOT_FOUND });
    expect(await tritonRestInfer('yolo')).toEqual({
      status: 404,
      body: expect.objectContaining({ error: "Request for unknown model: 'yolo' has no available versions" }),
    });
    expect(await tritonRestInfer('yolo/versions/1')).toMatchObject({ status: 503 });
    expect(await tritonRestInfer('never-loaded')).toEqual({
      status: 404,
      body: expect.objectContaining({ error: "Request for unknown model: 'never-loaded' is not found" }),
    });
    // Loading it again serves again.
    await triton.load('yolo');
    expect(await tritonReady('yolo')).toBe(200);
  });

  it('unpinned inference is served by the highest ready version; pinned by the one named', async () => {
    await triton.load('resnet50', '2');
    await expect(tritonInfer(tritonClient, 'resnet50')).resolves.toMatchObject({ version: '2' });
    await expect(tritonInfer(tritonClient, 'resnet50', { version: '1' })).resolves.toMatchObject({ version: '1' });
    triton.unload('resnet50', '2');
    await expect(tritonInfer(tritonClient, 'resnet50')).resolves.toMatchObject({ version: '1' });
  });

  it('counts inference calls per model, served or refused', async () => {
    triton.resetCounters();
    await tritonInfer(tritonClient, 'resnet50');
    await failure(() => tritonInfer(tritonClient, 'bert'));
    await tritonRestInfer('bert');
    expect([triton.requestsFor('resnet50'), triton.requestsFor('bert'), triton.requests, triton.notFound]).toEqual([1, 2, 1, 2]);
  });
});

describe('fake TF Serving model repository', () => {
  it('GET /v1/models/M answers 200 for a version in any state, 404 for an unknown model or version', async () => {
    expect(await tfStatus('mnist')).toEqual({
      status: 200,
      body: expect.objectContaining({ model_version_status: [{ version: '3', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] }),
    });
    const loading = tfserving.load('mnist', '4', { loadingMs: 200 });
    tfserving.setModelState('mnist', '2', 'start');
    expect((await tfStatus('mnist')).body).toMatchObject({
      model_version_status: [
        { version: '3', state: 'AVAILABLE' },
        { version: '4', state: 'LOADING', status: { error_code: 'OK' } },
        { version: '2', state: 'START' },
      ],
    });
    expect(await tfStatus('mnist/versions/4')).toMatchObject({ status: 200, body: { model_version_status: [{ version: '4', state: 'LOADING' }] } });
    await loading;
    expect(await tfStatus('mnist/versions/4')).toMatchObject({ status: 200, body: { model_version_status: [{ state: 'AVAILABLE' }] } });
    tfserving.setModelState('mnist', '2', 'unloading');
    expect(await tfStatus('mnist/versions/2')).toMatchObject({ status: 200, body: { model_version_status: [{ state: 'UNLOADING' }] } });
    tfserving.unload('mnist', '2');
    expect(await tfStatus('mnist/versions/2')).toMatchObject({ status: 200, body: { model_version_status: [{ state: 'END', status: { error_code: 'OK' } }] } });
    expect(await tfStatus('nope')).toEqual({ status: 404, body: expect.objectContaining({ error: 'Could not find any versions of model nope' }) });
    expect(await tfStatus('mnist/versions/9')).toEqual({ status: 404, body: expect.objectContaining({ error: 'Could not find version 9 of model mnist' }) });
    tfserving.unload('mnist', '4');
  });

  it('a failed load ends in END with status.error_code / error_message', async () => {
    await expect(tfserving.load('bert', '1', { fail: 'Could not find SavedModel', errorCode: 'NOT_FOUND' })).resolves.toMatchObject({ state: 'failed' });
    expect(await tfStatus('bert')).toMatchObject({
      status: 200,
      body: { model_version_status: [{ version: '1', state: 'END', status: { error_code: 'NOT_FOUND', error_message: 'Could not find SavedModel' } }] },
    });
  });

  it('gRPC ModelService/GetModelStatus answers the same states, NOT_FOUND for an unknown model', async () => {
    const client = createTfServingModelClient(tfserving.address());
    try {
      await expect(tfServingGetModelStatus(client, 'bert')).resolves.toEqual([
        { version: '1', state: 'END', errorCode: 'NOT_FOUND', errorMessage: 'Could not find SavedModel' },
      ]);
      await expect(tfServingGetModelStatus(client, 'mnist', { version: '3' })).resolves.toEqual([
        { version: '3', state: 'AVAILABLE', errorCode: 'OK', errorMessage: '' },
      ]);
      expect(await failure(() => tfServingGetModelStatus(client, 'nope'))).toEqual({ code: grpc.status.NOT_FOUND, details: 'Could not find any versions of model nope' });
    } finally {
      client.close();
    }
  });

  it('Predict on a model that is not AVAILABLE: gRPC NOT_FOUND "Servable not found for request", REST 404', async () => {
    tfserving.unload('mnist');
    expect(await failure(() => tfServingPredict(tfClient, 'mnist'))).toEqual({ code: grpc.status.NOT_FOUND, details: 'Servable not found for request: Latest(mnist)' });
    expect(await failure(() => tfServingPredict(tfClient, 'mnist', { version: '3' }))).toEqual({
      code: grpc.status.NOT_FOUND,
      details: 'Servable not found for request: Specific(mnist, 3)',
    });
    expect(await tfRestPredict('mnist')).toEqual({ status: 404, body: expect.objectContaining({ error: 'Servable not found for request: Latest(mnist)' }) });
    expect(await tfRestPredict('bert')).toMatchObject({ status: 404 });
    expect((await tfStatus('mnist/versions/3')).body).toMatchObject({ model_version_status: [{ version: '3', state: 'END' }] });
    await tfserving.load('mnist', '3');
    await expect(tfServingPredict(tfClient, 'mnist')).resolves.toEqual({ pod: 'tf-0', version: '3', model: 'mnist' });
    expect((await tfRestPredict('mnist')).status).toBe(200);
  });
});

describe('the /fake/ admin path', () => {
  it('loads (with loadingMs), unloads and lists models over HTTP', async () => {
    const post = (query: string) => fetch(`${tritonBase}/fake/${query}`, { method: 'POST' }).then(answer);
    expect(await post('load?model=vit&version=5&loadingMs=200')).toEqual({
      status: 200,
      body: { model: 'vit', version: '5', state: 'loading', reason: '', errorCode: 'OK' },
    });
    expect(await tritonReady('vit/versions/5')).toBe(400);
    await expect.poll(() => tritonReady('vit/versions/5'), { timeout: 2_000, interval: 50 }).toBe(200);
    expect(await post('unload?model=vit')).toMatchObject({ status: 200, body: { models: [{ version: '5', state: 'unloaded' }] } });
    expect(await tritonReady('vit')).toBe(400);
    expect(await post('load?model=vit&fail=bad%20config')).toMatchObject({ status: 200, body: { version: '1' } });
    expect((await index()).body).toContainEqual({ name: 'vit', version: '1', state: 'UNAVAILABLE', reason: 'bad config' });
    const list = await fetch(`${tfBase}/fake/models`).then(answer);
    expect(list).toMatchObject({ status: 200, body: { models: expect.arrayContaining([expect.objectContaining({ model: 'mnist', version: '3', state: 'ready' })]) } });
    expect(await post('load')).toMatchObject({ status: 400 });
    expect(await post('load?model=x&loadingMs=-1')).toMatchObject({ status: 400 });
    expect((await fetch(`${tritonBase}/fake/load?model=x`)).status).toBe(405);
  });
});

describe('multi-model pods with different subsets per replica', () => {
  it('three replicas, resnet50 on two: the third refuses it until it loads it, and again after unloading', async () => {
    replicas.push(
      ...(await Promise.all([
        startFakeModelServer({ kind: 'triton', host: '127.0.0.212', pod: 'multi-0', models: ['resnet50', 'bert'], version: '1' }),
        startFakeModelServer({ kind: 'triton', host: '127.0.0.213', pod: 'multi-1', models: ['resnet50'], version: '1' }),
        startFakeModelServer({ kind: 'triton', host: '127.0.0.214', pod: 'multi-2', models: ['bert'], version: '1' }),
      ])),
    );
    const readyOn = async (pod: FakeModelServer) => {
      const response = await fetch(`http://${pod.httpAddress()}/v2/repository/index`, { method: 'POST', body: '{"ready":true}' });
      const entries: unknown = await response.json();
      return Array.isArray(entries) ? entries.map((entry: { name?: unknown }) => entry.name) : [];
    };
    expect(await Promise.all(replicas.map(readyOn))).toEqual([['resnet50', 'bert'], ['resnet50'], ['bert']]);
    const third = replicas[2]!;
    const client = createTritonClient(third.address());
    try {
      expect(await failure(() => tritonInfer(client, 'resnet50'))).toMatchObject({ code: grpc.status.NOT_FOUND });
      await third.load('resnet50');
      await expect(tritonInfer(client, 'resnet50')).resolves.toMatchObject({ pod: 'multi-2', model: 'resnet50' });
      third.unload('resnet50');
      expect(await failure(() => tritonInfer(client, 'resnet50'))).toMatchObject({ code: grpc.status.NOT_FOUND });
      expect(third.requestsFor('resnet50')).toBe(3);
    } finally {
      client.close();
    }
  });

  it('a pod may start with no model at all and load one later', async () => {
    const empty = await startFakeModelServer({ kind: 'tfserving', host: '127.0.0.215', pod: 'empty-0', models: [], version: '1' });
    replicas.push(empty);
    expect(await fetch(`http://${empty.httpAddress()}/v1/models/mnist`).then((r) => r.status)).toBe(404);
    await empty.load('mnist');
    expect(empty.models()).toEqual([{ model: 'mnist', version: '1', state: 'ready', reason: '', errorCode: 'OK' }]);
  });
});
