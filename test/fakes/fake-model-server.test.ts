import { connect } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  callUnary,
  createTfServingClient,
  createTritonClient,
  startFakeModelServer,
  tfServingGetModelMetadata,
  tfServingPredict,
  tritonInfer,
  tritonModelReady,
  tritonServerReady,
  type FakeModelServer,
  type TfServingClient,
  type TritonClient,
} from '../../demo/fake-model-server.ts';

/** Runs `call` and returns the gRPC status code it failed with (or 'ok'). */
async function outcome(call: () => Promise<unknown>): Promise<grpc.status | 'ok'> {
  try {
    await call();
    return 'ok';
  } catch (error) {
    return grpcError(error).code;
  }
}

function isServiceError(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && 'code' in error && 'details' in error && 'metadata' in error && error.metadata instanceof grpc.Metadata;
}

function grpcError(error: unknown): grpc.ServiceError {
  if (!isServiceError(error)) throw new Error(`not a gRPC error: ${String(error)}`);
  return error;
}

async function json(response: Response): Promise<Record<string, unknown>> {
  const body: unknown = await response.json();
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('expected a JSON object');
  return Object.fromEntries(Object.entries(body));
}

let triton: FakeModelServer;
let tfserving: FakeModelServer;
let tritonClient: TritonClient;
let tfClient: TfServingClient;

beforeAll(async () => {
  [triton, tfserving] = await Promise.all([
    startFakeModelServer({ kind: 'triton', host: '127.0.0.11', grpcPort: 0, pod: 'resnet50-v1-0', models: ['resnet50', 'resnet'], version: '1' }),
    startFakeModelServer({ kind: 'tfserving', host: '127.0.0.12', grpcPort: 0, pod: 'mnist-v3-0', models: ['mnist'], version: '3' }),
  ]);
  tritonClient = createTritonClient(triton.address());
  tfClient = createTfServingClient(tfserving.address());
});

afterAll(async () => {
  tritonClient?.close();
  tfClient?.close();
  await Promise.all([triton?.close(), tfserving?.close()]);
});

beforeEach(() => {
  for (const server of [triton, tfserving]) {
    server.setFailure({ kind: 'none' });
    server.setReady(true);
  }
});

describe('fake Triton server', () => {
  it('listens on its own loopback address with distinct gRPC and HTTP ports', () => {
    expect(triton.kind).toBe('triton');
    expect(triton.host).toBe('127.0.0.11');
    expect(triton.grpcPort).toBeGreaterThan(0);
    expect(triton.httpPort).toBeGreaterThan(0);
    expect(triton.grpcPort).not.toBe(triton.httpPort);
    expect(triton.address()).toBe(`127.0.0.11:${triton.grpcPort}`);
    expect(triton.httpAddress()).toBe(`127.0.0.11:${triton.httpPort}`);
  });

  it('answers ModelInfer over gRPC with its identity in the message and the initial metadata', async () => {
    const before = triton.requests;
    const identity = await tritonInfer(tritonClient, 'resnet50', { version: '1' });
    expect(identity).toEqual({ pod: 'resnet50-v1-0', version: '1', model: 'resnet50' });

    const { message, headers } = await callUnary(tritonClient, 'ModelInfer', { model_name: 'resnet', id: 'req-7' });
    expect(headers.get('x-served-by')).toEqual(['resnet50-v1-0']);
    expect(headers.get('x-model-version')).toEqual(['1']);
    expect(message).toMatchObject({
      model_name: 'resnet',
      model_version: '1',
      id: 'req-7',
      parameters: { served_by: { string_param: 'resnet50-v1-0' } },
    });
    expect(triton.requests).toBe(before + 2);
  });

  it('answers the health and metadata methods', async () => {
    await expect(callUnary(tritonClient, 'ServerLive', {})).resolves.toMatchObject({ message: { live: true } });
    await expect(tritonServerReady(tritonClient)).resolves.toBe(true);
    await expect(tritonModelReady(tritonClient, 'resnet50')).resolves.toBe(true);
    await expect(tritonModelReady(tritonClient, 'unknown')).resolves.toBe(false);
    const { message, headers } = await callUnary(tritonClient, 'ModelMetadata', { name: 'resnet50' });
    expect(message).toMatchObject({ name: 'resnet50', versions: ['1'] });
    expect(headers.get('x-served-by')).toEqual(['resnet50-v1-0']);
  });

  it('returns NOT_FOUND for an unknown model or version, naming itself in the error metadata', async () => {
    const before = { requests: triton.requests, notFound: triton.notFound };
    const error = grpcError(await tritonInfer(tritonClient, 'bert').catch((e: unknown) => e));
    expect(error.code).toBe(grpc.status.NOT_FOUND);
    expect(error.details).toContain("'bert'");
    expect(error.metadata.get('x-served-by')).toEqual(['resnet50-v1-0']);
    expect(await outcome(() => tritonInfer(tritonClient, 'resnet50', { version: '2' }))).toBe(grpc.status.NOT_FOUND);
    expect(await outcome(() => callUnary(tritonClient, 'ModelMetadata', { name: 'bert' }))).toBe(grpc.status.NOT_FOUND);
    expect(triton.requests).toBe(before.requests);
    expect(triton.notFound).toBe(before.notFound + 3);
  });

  it('serves the KServe v2 REST API with its identity in headers and body', async () => {
    const base = `http://${triton.httpAddress()}`;
    const ready = await fetch(`${base}/v2/health/ready`);
    expect(ready.status).toBe(200);
    expect(ready.headers.get('x-served-by')).toBe('resnet50-v1-0');
    await ready.arrayBuffer();

    const metadata = await fetch(`${base}/v2/models/resnet50/versions/1`);
    expect(metadata.status).toBe(200);
    expect(await json(metadata)).toMatchObject({ name: 'resnet50', versions: ['1'], served_by: 'resnet50-v1-0' });

    const infer = await fetch(`${base}/v2/models/resnet50/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'r1', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1], data: [1] }] }),
    });
    expect(infer.status).toBe(200);
    expect(infer.headers.get('x-served-by')).toBe('resnet50-v1-0');
    expect(infer.headers.get('x-model-version')).toBe('1');
    expect(await json(infer)).toMatchObject({
      model_name: 'resnet50',
      model_version: '1',
      id: 'r1',
      parameters: { served_by: 'resnet50-v1-0' },
      served_by: 'resnet50-v1-0',
    });
  });

  it('answers 404 over REST for an unknown model or version, and 400 for a malformed body', async () => {
    const base = `http://${triton.httpAddress()}`;
    const unknown = await fetch(`${base}/v2/models/bert/infer`, { method: 'POST', body: '{}' });
    expect(unknown.status).toBe(404);
    expect(await json(unknown)).toMatchObject({ error: expect.stringContaining("'bert'") });
    const wrongVersion = await fetch(`${base}/v2/models/resnet50/versions/9/infer`, { method: 'POST', body: '{}' });
    expect(wrongVersion.status).toBe(404);
    await wrongVersion.arrayBuffer();
    const malformed = await fetch(`${base}/v2/models/resnet50/infer`, { method: 'POST', body: '{not json' });
    expect(malformed.status).toBe(400);
    await malformed.arrayBuffer();
  });
});

describe('fake TF Serving server', () => {
  it('answers Predict over gRPC with its identity in the output tensors and the initial metadata', async () => {
    await expect(tfServingPredict(tfClient, 'mnist')).resolves.toEqual({ pod: 'mnist-v3-0', version: '3', model: 'mnist' });
    await expect(tfServingPredict(tfClient, 'mnist', { version: '3' })).resolves.toMatchObject({ pod: 'mnist-v3-0' });

    const { message, headers } = await callUnary(tfClient, 'Predict', { model_spec: { name: 'mnist' } });
    expect(headers.get('x-served-by')).toEqual(['mnist-v3-0']);
    expect(headers.get('x-model-version')).toEqual(['3']);
    expect(message).toMatchObject({ model_spec: { name: 'mnist', version: { value: '3' } } });
  });

  it('answers GetModelMetadata, and NOT_FOUND for an unknown model or version', async () => {
    await expect(tfServingGetModelMetadata(tfClient, 'mnist')).resolves.toEqual({ model: 'mnist', version: '3' });
    const before = tfserving.notFound;
    expect(await outcome(() => tfServingPredict(tfClient, 'resnet50'))).toBe(grpc.status.NOT_FOUND);
    expect(await outcome(() => tfServingPredict(tfClient, 'mnist', { version: '4' }))).toBe(grpc.status.NOT_FOUND);
    expect(await outcome(() => tfServingGetModelMetadata(tfClient, 'resnet50'))).toBe(grpc.status.NOT_FOUND);
    expect(tfserving.notFound).toBe(before + 3);
  });

  it('serves the /v1/models REST API with its identity in headers and body, 404 for unknown models', async () => {
    const base = `http://${tfserving.httpAddress()}`;
    const status = await fetch(`${base}/v1/models/mnist`);
    expect(status.status).toBe(200);
    expect(await json(status)).toMatchObject({ model_version_status: [{ version: '3', state: 'AVAILABLE' }] });

    const predict = await fetch(`${base}/v1/models/mnist/versions/3:predict`, {
      method: 'POST',
      body: JSON.stringify({ instances: [[1, 2], [3, 4]] }),
    });
    expect(predict.status).toBe(200);
    expect(predict.headers.get('x-served-by')).toBe('mnist-v3-0');
    expect(predict.headers.get('x-model-version')).toBe('3');
    const body = await json(predict);
    expect(body).toMatchObject({ served_by: 'mnist-v3-0', model_version: '3' });
    expect(body['predictions']).toHaveLength(2);

    const unknown = await fetch(`${base}/v1/models/resnet50:predict`, { method: 'POST', body: '{}' });
    expect(unknown.status).toBe(404);
    expect(await json(unknown)).toMatchObject({ error: expect.stringContaining('resnet50') });
  });
});

describe('failure injection', () => {
  it('every-nth with n=2 fails exactly every other gRPC call, counting from when it was set', async () => {
    await tritonInfer(tritonClient, 'resnet50'); // before the mode: does not shift the pattern
    const before = { requests: triton.requests, failures: triton.failures };
    triton.setFailure({ kind: 'every-nth', n: 2 });
    const outcomes: Array<grpc.status | 'ok'> = [];
    for (let i = 0; i < 6; i += 1) outcomes.push(await outcome(() => tritonInfer(tritonClient, 'resnet50')));
    const U = grpc.status.UNAVAILABLE;
    expect(outcomes).toEqual(['ok', U, 'ok', U, 'ok', U]);
    expect(triton.requests).toBe(before.requests + 6);
    expect(triton.failures).toBe(before.failures + 3);
  });

  it('every-nth applies to TF Serving Predict and to REST predict alike (shared count)', async () => {
    tfserving.setFailure({ kind: 'every-nth', n: 3, code: grpc.status.RESOURCE_EXHAUSTED });
    const base = `http://${tfserving.httpAddress()}`;
    const results: Array<string | number> = [];
    for (let i = 0; i < 3; i += 1) results.push(await outcome(() => tfServingPredict(tfClient, 'mnist')));
    for (let i = 0; i < 3; i += 1) {
      const response = await fetch(`${base}/v1/models/mnist:predict`, { method: 'POST', body: '{}' });
      results.push(response.status);
      await response.arrayBuffer();
    }
    expect(results).toEqual(['ok', 'ok', grpc.status.RESOURCE_EXHAUSTED, 200, 200, 503]);
  });

  it('always fails every inference call with the chosen code (UNAVAILABLE by default), HTTP 503, and can be turned off', async () => {
    const before = { requests: triton.requests, failures: triton.failures };
    triton.setFailure({ kind: 'always' });
    const error = grpcError(await tritonInfer(tritonClient, 'resnet50').catch((e: unknown) => e));
    expect(error.code).toBe(grpc.status.UNAVAILABLE);
    expect(error.metadata.get('x-served-by')).toEqual(['resnet50-v1-0']);

    triton.setFailure({ kind: 'always', code: grpc.status.INTERNAL });
    expect(await outcome(() => tritonInfer(tritonClient, 'resnet50'))).toBe(grpc.status.INTERNAL);
    const rest = await fetch(`http://${triton.httpAddress()}/v2/models/resnet50/infer`, { method: 'POST', body: '{}' });
    expect(rest.status).toBe(503);
    expect(rest.headers.get('x-served-by')).toBe('resnet50-v1-0');
    await rest.arrayBuffer();

    // Health and metadata methods are not inference calls: they keep answering.
    await expect(tritonServerReady(tritonClient)).resolves.toBe(true);
    expect(await outcome(() => callUnary(tritonClient, 'ModelMetadata', { name: 'resnet50' }))).toBe('ok');

    triton.setFailure({ kind: 'none' });
    await expect(tritonInfer(tritonClient, 'resnet50')).resolves.toMatchObject({ pod: 'resnet50-v1-0' });
    expect(triton.requests).toBe(before.requests + 4);
    expect(triton.failures).toBe(before.failures + 3);
  });

  it('rejects an every-nth mode without a positive integer n, and a delay mode without ms >= 0', () => {
    expect(() => triton.setFailure({ kind: 'every-nth', n: 0 })).toThrow(RangeError);
    expect(() => triton.setFailure({ kind: 'every-nth', n: 1.5 })).toThrow(RangeError);
    expect(() => triton.setFailure({ kind: 'delay', ms: -1 })).toThrow(RangeError);
  });

  it('delay holds gRPC and REST inference calls open for its pause, then answers them successfully', async () => {
    triton.resetCounters();
    triton.setFailure({ kind: 'delay', ms: 300 });
    try {
      const started = performance.now();
      const grpcCall = tritonInfer(tritonClient, 'resnet50');
      const restCall = fetch(`http://${triton.httpAddress()}/v2/models/resnet50/infer`, { method: 'POST', body: '{}' });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(triton.inFlight).toBe(2);
      await expect(grpcCall).resolves.toMatchObject({ pod: 'resnet50-v1-0' });
      const rest = await restCall;
      expect(rest.status).toBe(200);
      await rest.arrayBuffer();
      expect(performance.now() - started).toBeGreaterThanOrEqual(290);
      expect([triton.inFlight, triton.maxInFlight, triton.requests, triton.failures]).toEqual([0, 2, 2, 0]);
    } finally {
      triton.setFailure({ kind: 'none' });
    }
  });
});

describe('wire protocol', () => {
  it('records how each inference call arrived: gRPC over HTTP/2, REST over HTTP/1.1 or h2c on the same port', async () => {
    tfserving.resetCounters();
    await tfServingPredict(tfClient, 'mnist');
    const http1 = await fetch(`http://${tfserving.httpAddress()}/v1/models/mnist:predict`, { method: 'POST', body: '{}' });
    expect(http1.status).toBe(200);
    await http1.arrayBuffer();
    const session = connect(`http://${tfserving.httpAddress()}`);
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/v1/models/mnist:predict', 'content-type': 'application/json' });
      stream.end('{}');
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      const status = await new Promise<number | undefined>((resolve) => stream.on('response', (headers) => resolve(headers[':status'])));
      await new Promise((resolve) => stream.on('end', resolve));
      expect(status).toBe(200);
      expect(JSON.parse(Buffer.concat(chunks).toString('utf8'))).toMatchObject({ served_by: 'mnist-v3-0' });
    } finally {
      session.close();
    }
    expect(Object.fromEntries(tfserving.protocols)).toEqual({ 'HTTP/2.0': 2, 'HTTP/1.1': 1 });
    expect(tfserving.requests).toBe(3);
  });
});

describe('readiness', () => {
  it('setReady(false) makes Triton ServerReady, ModelReady and the REST health endpoints report not ready', async () => {
    const base = `http://${triton.httpAddress()}`;
    triton.setReady(false);
    expect(triton.ready).toBe(false);
    await expect(tritonServerReady(tritonClient)).resolves.toBe(false);
    // Real Triton: ModelIsReady fails with UNAVAILABLE "Server not ready" (HTTP 503) while the server is not ready.
    expect(await outcome(() => tritonModelReady(tritonClient, 'resnet50'))).toBe(grpc.status.UNAVAILABLE);
    await expect(callUnary(tritonClient, 'ServerLive', {})).resolves.toMatchObject({ message: { live: true } });
    const health = await fetch(`${base}/v2/health/ready`);
    expect(health.status).toBe(400);
    expect(await json(health)).toMatchObject({ ready: false, served_by: 'resnet50-v1-0' });
    const modelReady = await fetch(`${base}/v2/models/resnet50/ready`);
    expect(modelReady.status).toBe(503);
    await modelReady.arrayBuffer();

    triton.setReady(true);
    await expect(tritonServerReady(tritonClient)).resolves.toBe(true);
    const healthy = await fetch(`${base}/v2/health/ready`);
    expect(healthy.status).toBe(200);
    await healthy.arrayBuffer();
  });

  it('setReady(false) makes the TF Serving model status answer 200 LOADING, as real TF Serving does', async () => {
    const url = `http://${tfserving.httpAddress()}/v1/models/mnist`;
    tfserving.setReady(false);
    const notReady = await fetch(url);
    expect(notReady.status).toBe(200);
    expect(await json(notReady)).toMatchObject({ model_version_status: [{ state: 'LOADING' }] });
    tfserving.setReady(true);
    const ready = await fetch(url);
    expect(ready.status).toBe(200);
    await ready.arrayBuffer();
  });
});

describe('lifecycle', () => {
  it('refuses a taken port, closes cleanly (idempotently); calls afterwards fail with UNAVAILABLE', async () => {
    const probe = await startFakeModelServer({ kind: 'triton', host: '127.0.0.13', pod: 'probe', models: ['m'], version: '1' });
    // Its HTTP port is taken by `probe`: a second server must refuse to start (shutting down the gRPC server it had bound).
    const clash = await startFakeModelServer({
      kind: 'tfserving',
      host: '127.0.0.13',
      httpPort: probe.httpPort,
      pod: 'clash',
      models: ['m'],
      version: '7',
    }).catch((error: unknown) => error);
    expect(clash).toMatchObject({ code: 'EADDRINUSE' });

    const client = createTritonClient(probe.address());
    try {
      await expect(tritonInfer(client, 'm')).resolves.toMatchObject({ pod: 'probe' });
      await Promise.all([probe.close(), probe.close()]);
      expect(await outcome(() => tritonInfer(client, 'm', { timeoutMs: 5_000 }))).toBe(grpc.status.UNAVAILABLE);
      await expect(fetch(`http://${probe.httpAddress()}/v2/health/ready`)).rejects.toThrow();
    } finally {
      client.close();
      await probe.close();
    }
  });
});
