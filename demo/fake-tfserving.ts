/**
 * The TensorFlow Serving personality of the fake model server: gRPC tensorflow.serving.PredictionService
 * (Predict, GetModelMetadata) and the /v1/models REST API, plus client helpers for the same gRPC service.
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
const protoFile = 'tfserving/prediction_service.proto';

/** Loads the service definition from protos/ (not at import time). */
export function loadTfServingService(): ServiceDefinition {
  return loadService(protoFile, TFSERVING_SERVICE);
}

function unknownModel(model: string, version: string): string {
  return version === ''
    ? `Servable not found for request: Latest(${model})`
    : `Servable not found for request: Specific(${model}, ${version})`;
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
      const request = { model, version, unknownMessage: unknownModel(model, version) };
      answerGrpcInference(state, callback, request, () =>
        replyOk(state, call, callback, {
          model_spec: {
            name: model,
            signature_name: pickString(spec, 'signature_name') || 'serving_default',
            ...versionChoice(state.version),
          },
          outputs: {
            [SERVED_BY_FIELD]: stringTensor(state.pod),
            [MODEL_VERSION_FIELD]: stringTensor(state.version),
          },
        }),
      );
    },
    GetModelMetadata: (call, callback) => {
      const spec = pick(call.request, 'model_spec');
      const model = pickString(spec, 'name');
      const version = requestedVersion(spec);
      if (!state.serves(model, version)) {
        state.notFound += 1;
        replyError(state, callback, grpc.status.NOT_FOUND, unknownModel(model, version));
        return;
      }
      replyOk(state, call, callback, {
        model_spec: { name: model, signature_name: '', ...versionChoice(state.version) },
        metadata: {},
      });
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
  if (!state.serves(model, version)) {
    state.notFound += 1;
    return sendJson(response, 404, { error: unknownModel(model, version), ...identity });
  }

  if (action === undefined) {
    // Model status. Real TF Serving answers 200 with state LOADING while not ready; the fake answers 503 so
    // that plain HTTP health checks see the difference.
    return sendJson(response, state.ready ? 200 : 503, {
      model_version_status: [
        {
          version: state.version,
          state: state.ready ? 'AVAILABLE' : 'LOADING',
          status: { error_code: 'OK', error_message: '' },
        },
      ],
      ...identity,
    });
  }
  if (action === '/metadata') {
    return sendJson(response, 200, {
      model_spec: { name: model, signature_name: '', version: state.version },
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
