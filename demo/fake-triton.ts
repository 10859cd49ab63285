/**
 * The Triton personality of the fake model server: KServe v2 gRPC (inference.GRPCInferenceService) and
 * KServe v2 REST (/v2/...), plus client helpers for the same gRPC service.
 */
import * as grpc from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/proto-loader';
import {
  answerGrpcInference,
  callUnary,
  createServingClient,
  decodeSegment,
  type CallOptions,
  type FakeHttpRequest,
  type FakeHttpResponse,
  type FakeServerState,
  type InferenceIdentity,
  type ServingClient,
  type UnaryHandler,
  loadService,
  methodNotAllowed,
  parseJsonBody,
  pick,
  pickString,
  replyError,
  replyOk,
  sendJson,
  SERVED_BY_FIELD,
} from './fake-server-core.ts';

export const TRITON_SERVICE = 'inference.GRPCInferenceService';
const protoFile = 'triton/grpc_service.proto';
const platform = 'infermesh_fake';

/** Loads the service definition from protos/ (not at import time). */
export function loadTritonService(): ServiceDefinition {
  return loadService(protoFile, TRITON_SERVICE);
}

function unknownModel(model: string, version: string): string {
  return version === ''
    ? `Request for unknown model: '${model}' is not found`
    : `Request for unknown model: '${model}' version ${version} is not found`;
}

/** The one output every fake model declares (and fills with the pod name). */
const servedByOutput = { name: SERVED_BY_FIELD, datatype: 'BYTES', shape: [1] };

// ---------------------------------------------------------------------------------------------------------
// gRPC

export function tritonGrpcImplementation(state: FakeServerState): Record<string, UnaryHandler> {
  return {
    ServerLive: (call, callback) => replyOk(state, call, callback, { live: true }),
    ServerReady: (call, callback) => replyOk(state, call, callback, { ready: state.ready }),
    ModelReady: (call, callback) => {
      const ready = state.ready && state.serves(pickString(call.request, 'name'), pickString(call.request, 'version'));
      replyOk(state, call, callback, { ready });
    },
    ModelMetadata: (call, callback) => {
      const name = pickString(call.request, 'name');
      const version = pickString(call.request, 'version');
      if (!state.serves(name, version)) {
        state.notFound += 1;
        replyError(state, callback, grpc.status.NOT_FOUND, unknownModel(name, version));
        return;
      }
      replyOk(state, call, callback, {
        name,
        versions: [state.version],
        platform,
        inputs: [],
        outputs: [servedByOutput],
      });
    },
    ModelInfer: (call, callback) => {
      const model = pickString(call.request, 'model_name');
      const version = pickString(call.request, 'model_version');
      const request = { model, version, unknownMessage: unknownModel(model, version) };
      answerGrpcInference(state, callback, request, () =>
        replyOk(state, call, callback, {
          model_name: model,
          model_version: state.version,
          id: pickString(call.request, 'id'),
          parameters: { [SERVED_BY_FIELD]: { string_param: state.pod } },
          outputs: [
            {
              ...servedByOutput,
              contents: { bytes_contents: [Buffer.from(state.pod)] },
            },
          ],
        }),
      );
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// REST (KServe v2)

const modelPath = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(?:\/(ready|infer))?$/;

export function handleTritonHttp(state: FakeServerState, request: FakeHttpRequest, response: FakeHttpResponse, body: Buffer): void {
  const path = new URL(request.url ?? '/', 'http://fake').pathname;
  const method = request.method ?? 'GET';
  const identity = { served_by: state.pod, model_version: state.version };

  if (path === '/v2/health/live') {
    if (method !== 'GET') return methodNotAllowed(response, 'GET');
    return sendJson(response, 200, { live: true, ...identity });
  }
  if (path === '/v2/health/ready') {
    if (method !== 'GET') return methodNotAllowed(response, 'GET');
    // KServe v2: 200 means ready, a 4xx means not ready (Triton answers 400).
    return sendJson(response, state.ready ? 200 : 400, { ready: state.ready, ...identity });
  }
  if (path === '/v2') {
    if (method !== 'GET') return methodNotAllowed(response, 'GET');
    return sendJson(response, 200, { name: 'triton', version: 'infermesh-fake', extensions: [], ...identity });
  }

  const match = modelPath.exec(path);
  if (match === null) return sendJson(response, 404, { error: `no such endpoint: ${method} ${path}` });
  const model = decodeSegment(match[1]);
  const version = decodeSegment(match[2]) ?? '';
  const action = match[3];
  if (model === null || model === undefined || version === null) {
    return sendJson(response, 400, { error: 'malformed percent-encoding in path' });
  }
  const known = state.serves(model, version);

  if (action === 'ready') {
    if (method !== 'GET') return methodNotAllowed(response, 'GET');
    if (!known) state.notFound += 1;
    const ready = known && state.ready;
    return sendJson(response, known ? (ready ? 200 : 400) : 404, { name: model, ready, ...identity });
  }
  if (action === undefined && method !== 'GET') return methodNotAllowed(response, 'GET');
  if (action === 'infer' && method !== 'POST') return methodNotAllowed(response, 'POST');
  if (!known) {
    state.notFound += 1;
    return sendJson(response, 404, { error: unknownModel(model, version), ...identity });
  }
  if (action === undefined) {
    return sendJson(response, 200, {
      name: model,
      versions: [state.version],
      platform,
      inputs: [],
      outputs: [servedByOutput],
      ...identity,
    });
  }

  const parsed = parseJsonBody(body);
  if (!parsed.ok) return sendJson(response, 400, { error: parsed.error });
  const admission = state.admitInference(`HTTP/${request.httpVersion}`);
  if (!admission.ok) return sendJson(response, 503, { error: state.injectedFailureMessage(admission.call), ...identity });
  const id = pick(parsed.value, 'id');
  state.answerAdmitted(admission, () =>
    sendJson(response, 200, {
      model_name: model,
      model_version: state.version,
      ...(typeof id === 'string' ? { id } : {}),
      parameters: { [SERVED_BY_FIELD]: state.pod },
      outputs: [{ ...servedByOutput, data: [state.pod] }],
      served_by: state.pod,
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Client helpers

export type TritonClient = ServingClient<'triton'>;

/** A client for inference.GRPCInferenceService at `target` (host:port, or e.g. xds:///infermesh). */
export function createTritonClient(
  target: string,
  credentials?: grpc.ChannelCredentials,
  channelOptions?: grpc.ChannelOptions,
): TritonClient {
  return createServingClient('triton', loadTritonService(), target, credentials, channelOptions);
}

export interface TritonInferOptions extends CallOptions {
  /** model_version in the request; empty or absent lets the server choose. */
  version?: string;
  id?: string;
}

/** ModelInfer; resolves with the identity the answering pod put in the response message. */
export async function tritonInfer(client: TritonClient, model: string, options: TritonInferOptions = {}): Promise<InferenceIdentity> {
  const { message } = await callUnary(client, 'ModelInfer', {
    model_name: model,
    model_version: options.version ?? '',
    id: options.id ?? '',
  }, options);
  const pod = pickString(message, 'parameters', SERVED_BY_FIELD, 'string_param');
  if (pod === '') throw new Error(`ModelInfer response for ${model} carries no ${SERVED_BY_FIELD} parameter`);
  return { pod, version: pickString(message, 'model_version'), model: pickString(message, 'model_name') };
}

export async function tritonServerReady(client: TritonClient, options: CallOptions = {}): Promise<boolean> {
  const { message } = await callUnary(client, 'ServerReady', {}, options);
  return message['ready'] === true;
}

export async function tritonModelReady(
  client: TritonClient,
  model: string,
  options: CallOptions & { version?: string } = {},
): Promise<boolean> {
  const { message } = await callUnary(client, 'ModelReady', { name: model, version: options.version ?? '' }, options);
  return message['ready'] === true;
}
