/**
 * The TensorFlow Serving personality of the fake model server: gRPC tensorflow.serving.PredictionService
 * (Predict, GetModelMetadata) and the /v1/models REST API, plus client helpers for the same gRPC service.
 *
 * Model readiness follows real TF Serving (tensorflow_serving/model_servers/get_model_status_impl.cc,
 * http_rest_api_handler.cc, core/servable_handle lookup in ServerCore / AspiredVersionsManager):
 * - GET /v1/models/M[/versions/V] -> 200 {"model_version_status": [{version, state, status: {error_code,
 *   error_message}}]} for a servable in ANY state: START / LOADING / AVAILABLE / UNLOADING / END (END with
 *   error_code/error_message after a failed load). 404 {"error": "Could not find any versions of model M"}
 *   (or "Could not find version V of model M") for a model / version the server never had. While the fake's
 *   server-ready flag is off, its AVAILABLE versions report LOADING (still 200).
 *   gRPC ModelService/GetModelStatus answers the same (NOT_FOUND with the same message for an unknown one;
 *   versions that are not numbers are left out, the proto's version being int64).
 * - Predict / metadata on a model with no AVAILABLE version (unknown, loading, unloaded, failed): the manager
 *   finds no servable: gRPC NOT_FOUND "Servable not found for request: Latest(M)" (or Specific(M, V)); REST
 *   maps NOT_FOUND to 404 {"error": "..."} (ToHTTPStatusCode in tensorflow_serving/util/net_http / http_rest_api_util).
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
  MODEL_VERSION_FIELD,
  parseJsonBody,
  pick,
  pickString,
  replyError,
  replyOk,
  sendJson,
  SERVED_BY_FIELD,
} from './fake-server-core.ts';

export const TFSERVING_SERVICE = 'tensorflow.serving.PredictionService';
export const TFSERVING_MODEL_SERVICE = 'tensorflow.serving.ModelService';
const protoFile = 'tfserving/prediction_service.proto';

/** Loads the service definition from protos/ (not at import time). */
export function loadTfServingService(): ServiceDefinition {
  return loadService(protoFile, TFSERVING_SERVICE);
}

/** ModelService (GetModelStatus), served on the same gRPC port as PredictionService, as real TF Serving does. */
export function loadTfServingModelService(): ServiceDefinition {
  return loadService('tfserving/model_service.proto', TFSERVING_MODEL_SERVICE);
}

/** Why TF Serving would refuse Predict on `model` / `version` here, or undefined if it is AVAILABLE (see header). */
export function tfServingRefusal(state: FakeServerState, model: string, version: string): Refusal | undefined {
  if (state.serves(model, version)) return undefined;
  const message = version === ''
    ? `Servable not found for request: Latest(${model})`
    : `Servable not found for request: Specific(${model}, ${version})`;
  return { code: grpc.status.NOT_FOUND, httpStatus: 404, message };
}

const tfServingStates = {
  start: 'START',
  loading: 'LOADING',
  ready: 'AVAILABLE',
  unloading: 'UNLOADING',
  unloaded: 'END',
  failed: 'END',
} as const;

interface ModelVersionStatus {
  version: string;
  state: string;
  status: { error_code: string; error_message: string };
}

/** GetModelStatus as TF Serving answers it: the versions' states, or the NOT_FOUND message for an unknown one. */
export function tfServingModelStatus(state: FakeServerState, model: string, version: string): { ok: true; versions: ModelVersionStatus[] } | { ok: false; error: string } {
  const all = state.repository.versions(model);
  if (all.length === 0) return { ok: false, error: `Could not find any versions of model ${model}` };
  const chosen = version === '' ? all : all.filter((entry) => entry.version === version);
  if (chosen.length === 0) return { ok: false, error: `Could not find version ${version} of model ${model}` };
  return {
    ok: true,
    versions: chosen.map((entry) => ({
      version: entry.version,
      // The server-ready flag off: what is loaded reports as still loading.
      state: entry.state === 'ready' && !state.ready ? 'LOADING' : tfServingStates[entry.state],
      status: entry.state === 'failed' ? { error_code: entry.errorCode, error_message: entry.reason } : { error_code: 'OK', error_message: '' },
    })),
  };
}

/** The version a ModelSpec asks for: its Int64Value version, else its version_label, else '' (latest). */
function requestedVersion(modelSpec: unknown): string {
  const numeric = pick(modelSpec, 'version', 'value');
  if (typeof numeric === 'string' || typeof numeric === 'number') return String(numeric);
  return pickString(modelSpec, 'version_label');
}

/** TF Serving versions are int64; a fake whose version is not numeric reports it as a version label. */
function versionChoice(version: string): object {
  return /^\d+$/.test(version) ? { version: { value: version } } : { version_label: version };
}

function stringTensor(value: string): object {
  return { dtype: 'DT_STRING', tensor_shape: { dim: [{ size: '1' }] }, string_val: [Buffer.from(value)] };
}

// ---------------------------------------------------------------------------------------------------------
// gRPC

export function tfServingGrpcImplementation(state: FakeServerState): Record<string, UnaryHandler> {
  return {
    Predict: (call, callback) => {
      const spec = pick(call.request, 'model_spec');
      const model = pickString(spec, 'name');
      const version = requestedVersion(spec);
      const request = { model, refusal: tfServingRefusal(state, model, version) };
      const answering = state.answeringVersion(model, version);
      answerGrpcInference(state, callback, request, () =>
        replyOk(state, call, callback, {
          model_spec: {
            name: model,
            signature_name: pickString(spec, 'signature_name') || 'serving_default',
            ...versionChoice(answering),
          },
          outputs: {
            [SERVED_BY_FIELD]: stringTensor(state.pod),
            [MODEL_VERSION_FIELD]: stringTensor(answering),
          },
        }),
      );
    },
    GetModelMetadata: (call, callback) => {
      const spec = pick(call.request, 'model_spec');
      const model = pickString(spec, 'name');
      const version = requestedVersion(spec);
      const refusal = tfServingRefusal(state, model, version);
      if (refusal !== undefined) {
        state.notFound += 1;
        replyError(state, callback, refusal.code, refusal.message);
        return;
      }
      replyOk(state, call, callback, {
        model_spec: { name: model, signature_name: '', ...versionChoice(state.answeringVersion(model, version)) },
        metadata: {},
      });
    },
  };
}

export function tfServingModelServiceImplementation(state: FakeServerState): Record<string, UnaryHandler> {
  return {
    GetModelStatus: (call, callback) => {
      const spec = pick(call.request, 'model_spec');
      const status = tfServingModelStatus(state, pickString(spec, 'name'), requestedVersion(spec));
      if (!status.ok) {
        replyError(state, callback, grpc.status.NOT_FOUND, status.error);
        return;
      }
      replyOk(state, call, callback, { model_version_status: status.versions.filter((entry) => /^\d+$/.test(entry.version)) });
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// REST (/v1/models)

const modelPath = /^\/v1\/models\/([^/:]+)(?:\/versions\/([^/:]+)|\/labels\/([^/:]+))?(\/metadata|:predict)?$/;

export function handleTfServingHttp(state: FakeServerState, request: FakeHttpRequest, response: FakeHttpResponse, body: Buffer): void {
  const path = new URL(request.url ?? '/', 'http://fake').pathname;
  const method = request.method ?? 'GET';
  const identity = { served_by: state.pod, model_version: state.version };

  const match = modelPath.exec(path);
  if (match === null) return sendJson(response, 404, { error: `no such endpoint: ${method} ${path}` });
  const model = decodeSegment(match[1]);
  const version = decodeSegment(match[2] ?? match[3]) ?? '';
  const action = match[4];
  if (model === null || model === undefined || version === null) {
    return sendJson(response, 400, { error: 'malformed percent-encoding in path' });
  }
  if (action === ':predict' ? method !== 'POST' : method !== 'GET') {
    return methodNotAllowed(response, action === ':predict' ? 'POST' : 'GET');
  }
  if (action === undefined) {
    const status = tfServingModelStatus(state, model, version);
    if (!status.ok) {
      return sendJson(response, 404, { error: status.error, ...identity });
    }
    return sendJson(response, 200, { model_version_status: status.versions, ...identity });
  }
  if (action === ':predict') state.requestsByModel.set(model, (state.requestsByModel.get(model) ?? 0) + 1);
  const refusal = tfServingRefusal(state, model, version);
  if (refusal !== undefined) {
    state.notFound += 1;
    return sendJson(response, refusal.httpStatus, { error: refusal.message, ...identity });
  }
  if (action === '/metadata') {
    return sendJson(response, 200, {
      model_spec: { name: model, signature_name: '', version: state.answeringVersion(model, version) },
      metadata: {},
      ...identity,
    });
  }

  const parsed = parseJsonBody(body);
  if (!parsed.ok) return sendJson(response, 400, { error: parsed.error });
  const admission = state.admitInference(`HTTP/${request.httpVersion}`);
  if (!admission.ok) return sendJson(response, 503, { error: state.injectedFailureMessage(admission.call), ...identity });
  const instances = pick(parsed.value, 'instances');
  const rows = Array.isArray(instances) && instances.length > 0 ? instances.length : 1;
  state.answerAdmitted(admission, () =>
    sendJson(response, 200, {
      predictions: Array.from({ length: rows }, () => ({ ...identity })),
      ...identity,
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Client helpers

export type TfServingClient = ServingClient<'tfserving'>;

/** A client for tensorflow.serving.PredictionService at `target` (host:port, or e.g. xds:///infermesh). */
export function createTfServingClient(
  target: string,
  credentials?: grpc.ChannelCredentials,
  channelOptions?: grpc.ChannelOptions,
): TfServingClient {
  return createServingClient('tfserving', loadTfServingService(), target, credentials, channelOptions);
}

export interface TfServingPredictOptions extends CallOptions {
  /** Numeric versions go in model_spec.version, anything else in model_spec.version_label. */
  version?: string;
  signatureName?: string;
}

function modelSpec(model: string, options: { version?: string; signatureName?: string }): object {
  const version = options.version ?? '';
  return {
    name: model,
    signature_name: options.signatureName ?? '',
    ...(version === '' ? {} : versionChoice(version)),
  };
}

function tensorString(message: Record<string, unknown>, output: string): string {
  const values = pick(message, 'outputs', output, 'string_val');
  const first: unknown = Array.isArray(values) ? values[0] : undefined;
  return Buffer.isBuffer(first) ? first.toString('utf8') : '';
}

/** Predict; resolves with the identity the answering pod put in the response message. */
export async function tfServingPredict(
  client: TfServingClient,
  model: string,
  options: TfServingPredictOptions = {},
): Promise<InferenceIdentity> {
  const { message } = await callUnary(client, 'Predict', { model_spec: modelSpec(model, options), inputs: {} }, options);
  const pod = tensorString(message, SERVED_BY_FIELD);
  if (pod === '') throw new Error(`Predict response for ${model} carries no ${SERVED_BY_FIELD} output`);
  return { pod, version: tensorString(message, MODEL_VERSION_FIELD), model: pickString(message, 'model_spec', 'name') };
}

/** GetModelMetadata; resolves with the model name and version echoed in the response's model_spec. */
export async function tfServingGetModelMetadata(
  client: TfServingClient,
  model: string,
  options: CallOptions & { version?: string } = {},
): Promise<{ model: string; version: string }> {
  const { message } = await callUnary(client, 'GetModelMetadata', { model_spec: modelSpec(model, options), metadata_field: [] }, options);
  return { model: pickString(message, 'model_spec', 'name'), version: requestedVersion(pick(message, 'model_spec')) };
}

/** A client for tensorflow.serving.ModelService (GetModelStatus) at `target`. */
export function createTfServingModelClient(target: string, credentials?: grpc.ChannelCredentials): TfServingClient {
  return createServingClient('tfserving', loadTfServingModelService(), target, credentials);
}

/** GetModelStatus: every version of `model` (or the one asked for) with its state and status. */
export async function tfServingGetModelStatus(
  client: TfServingClient,
  model: string,
  options: CallOptions & { version?: string } = {},
): Promise<{ version: string; state: string; errorCode: string; errorMessage: string }[]> {
  const { message } = await callUnary(client, 'GetModelStatus', { model_spec: modelSpec(model, options) }, options);
  const versions = message['model_version_status'];
  return (Array.isArray(versions) ? versions : []).map((entry: unknown) => {
    const version = pick(entry, 'version');
    return {
      version: typeof version === 'string' || typeof version === 'number' ? String(version) : '',
      state: pickString(entry, 'state'),
      errorCode: pickString(entry, 'status', 'error_code'),
      errorMessage: pickString(entry, 'status', 'error_message'),
    };
  });
}
