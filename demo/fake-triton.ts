/**
 * The Triton personality of the fake model server: KServe v2 gRPC (inference.GRPCInferenceService) and
 * KServe v2 REST (/v2/...), plus client helpers for the same gRPC service.
 *
 * Model readiness follows real Triton (server/src/http_server.cc, core/src/model_lifecycle.cc,
 * core/src/model_repository_manager.cc, core/src/server.cc):
 * - POST /v2/repository/index, body {} or {"ready": true} (ready ones only) -> 200 [{name, version, state,
 *   reason}], state READY / LOADING / UNLOADING / UNAVAILABLE (reason "unloaded" after an unload, the load
 *   error after a failed load). Answered whether or not the server is ready.
 *   gRPC RepositoryIndex answers the same entries.
 * - GET /v2/models/M[/versions/V]/ready -> 200 ready; 400 not ready, unknown or unloaded (ModelIsReady answers
 *   ready=false without an error); 503 when the whole server is not ready (ModelIsReady fails with
 *   UNAVAILABLE "Server not ready"). gRPC ModelReady: {ready} / UNAVAILABLE likewise.
 * - Inference (and model metadata) on a model that is not ready: ModelLifeCycle::GetModel's error, prefixed
 *   "Request for unknown model: " by ModelRepositoryManager::GetModel, mapped by HttpCodeFromError
 *   (NOT_FOUND -> 404, UNAVAILABLE -> 503) and GrpcStatusUtil::CodeToStatus (same names) on gRPC:
 *     no version given, none READY (unloaded, loading, failed): NOT_FOUND "'M' has no available versions" -> 404
 *     version V not in the repository:                      NOT_FOUND "'M' version V is not found"     -> 404
 *     version V known but not READY:                         UNAVAILABLE "'M' version V is not at ready state" -> 503
 *     model never in the repository:                         NOT_FOUND "'M' is not found" -> 404
 *   The last is what Triton releases before model namespacing answer; newer ones fail earlier in
 *   ModelRepositoryManager::FindModelIdentifier with INVALID_ARG (HTTP 400, gRPC INVALID_ARGUMENT) and the same
 *   text. The fake keeps NOT_FOUND / 404 so existing callers see one stable answer for "no such model".
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
  type Refusal,
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

/** Why Triton would refuse inference on `model` / `version` here, or undefined if it is ready (see header). */
export function tritonRefusal(state: FakeServerState, model: string, version: string): Refusal | undefined {
  const repository = state.repository;
  if (repository.isReady(model, version)) return undefined;
  const prefix = 'Request for unknown model: ';
  const notFound = (message: string): Refusal => ({ code: grpc.status.NOT_FOUND, httpStatus: 404, message: prefix + message });
  if (!repository.known(model)) return notFound(`'${model}' is not found`);
  if (version === '') return notFound(`'${model}' has no available versions`);
  if (repository.status(model, version) === undefined) return notFound(`'${model}' version ${version} is not found`);
  return { code: grpc.status.UNAVAILABLE, httpStatus: 503, message: `${prefix}'${model}' version ${version} is not at ready state` };
}

const tritonStates = {
  start: 'LOADING',
  loading: 'LOADING',
  ready: 'READY',
  unloading: 'UNLOADING',
  unloaded: 'UNAVAILABLE',
  failed: 'UNAVAILABLE',
} as const;

/** The repository index as Triton reports it; `readyOnly` keeps READY versions only. */
export function tritonIndexEntries(state: FakeServerState, readyOnly: boolean): { name: string; version: string; state: string; reason: string }[] {
  return state.repository
    .index()
    .filter((entry) => !readyOnly || entry.state === 'ready')
    .map((entry) => ({ name: entry.model, version: entry.version, state: tritonStates[entry.state], reason: entry.reason }));
}

function readyVersions(state: FakeServerState, model: string): string[] {
  return state.repository.versions(model).filter((entry) => entry.state === 'ready').map((entry) => entry.version);
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
      if (!state.ready) {
        replyError(state, callback, grpc.status.UNAVAILABLE, 'Server not ready');
        return;
      }
      replyOk(state, call, callback, { ready: state.serves(pickString(call.request, 'name'), pickString(call.request, 'version')) });
    },
    RepositoryIndex: (call, callback) => {
      replyOk(state, call, callback, { models: tritonIndexEntries(state, pick(call.request, 'ready') === true) });
    },
    ModelMetadata: (call, callback) => {
      const name = pickString(call.request, 'name');
      const version = pickString(call.request, 'version');
      const refusal = tritonRefusal(state, name, version);
      if (refusal !== undefined) {
        state.notFound += 1;
        replyError(state, callback, refusal.code, refusal.message);
        return;
      }
      replyOk(state, call, callback, {
        name,
        versions: readyVersions(state, name),
        platform,
        inputs: [],
        outputs: [servedByOutput],
      });
    },
    ModelInfer: (call, callback) => {
      const model = pickString(call.request, 'model_name');
      const version = pickString(call.request, 'model_version');
      const request = { model, refusal: tritonRefusal(state, model, version) };
      answerGrpcInference(state, callback, request, () =>
        replyOk(state, call, callback, {
          model_name: model,
          model_version: state.answeringVersion(model, version),
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

  if (path === '/v2/repository/index') {
    if (method !== 'POST') return methodNotAllowed(response, 'POST');
    const parsed = parseJsonBody(body);
    if (!parsed.ok) return sendJson(response, 400, { error: parsed.error });
    // A bare JSON array: there is no room for the identity fields here (the headers still carry it).
    return sendJson(response, 200, tritonIndexEntries(state, pick(parsed.value, 'ready') === true));
  }

  const match = modelPath.exec(path);
  if (match === null) return sendJson(response, 404, { error: `no such endpoint: ${method} ${path}` });
  const model = decodeSegment(match[1]);
  const version = decodeSegment(match[2]) ?? '';
  const action = match[3];
  if (model === null || model === undefined || version === null) {
    return sendJson(response, 400, { error: 'malformed percent-encoding in path' });
  }
  const refusal = tritonRefusal(state, model, version);

  if (action === 'ready') {
    if (method !== 'GET') return methodNotAllowed(response, 'GET');
    if (!state.ready) return sendJson(response, 503, { error: 'Server not ready', ...identity });
    return sendJson(response, refusal === undefined ? 200 : 400, { name: model, ready: refusal === undefined, ...identity });
  }
  if (action === undefined && method !== 'GET') return methodNotAllowed(response, 'GET');
  if (action === 'infer' && method !== 'POST') return methodNotAllowed(response, 'POST');
  if (action === 'infer') state.requestsByModel.set(model, (state.requestsByModel.get(model) ?? 0) + 1);
  if (refusal !== undefined) {
    state.notFound += 1;
    return sendJson(response, refusal.httpStatus, { error: refusal.message, ...identity });
  }
  if (action === undefined) {
    return sendJson(response, 200, {
      name: model,
      versions: readyVersions(state, model),
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
      model_version: state.answeringVersion(model, version),
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

export interface TritonIndexEntry {
  name: string;
  version: string;
  state: string;
  reason: string;
}

/** gRPC RepositoryIndex; `ready` asks for ready models only. */
export async function tritonGetRepositoryIndex(client: TritonClient, options: CallOptions & { ready?: boolean } = {}): Promise<TritonIndexEntry[]> {
  const { message } = await callUnary(client, 'RepositoryIndex', { repository_name: '', ready: options.ready ?? false }, options);
  const models = message['models'];
  return (Array.isArray(models) ? models : []).map((entry: unknown) => ({
    name: pickString(entry, 'name'),
    version: pickString(entry, 'version'),
    state: pickString(entry, 'state'),
    reason: pickString(entry, 'reason'),
  }));
}
