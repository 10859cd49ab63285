/**
 * What the fake Triton and TF Serving servers share: proto loading, per-pod state (identity, readiness,
 * failure injection, counters), and the small gRPC/HTTP/client plumbing both personalities use.
 * Nothing here runs at import time.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync, type MethodDefinition, type PackageDefinition, type ServiceDefinition } from '@grpc/proto-loader';

export type FakeServerKind = 'triton' | 'tfserving';

/** Failure injection for inference calls (ModelInfer, Predict, REST infer/predict). HTTP answers 503. */
export type FailureMode =
  | { kind: 'none' }
  | { kind: 'always'; code?: grpc.status }
  | {
      kind: 'every-nth';
      /** Fails the calls whose count (from the moment this mode is set, starting at 1) is a multiple of n. */
      n: number;
      code?: grpc.status;
    };

/** Response header (gRPC initial metadata and HTTP) naming the pod that answered. */
export const SERVED_BY_HEADER = 'x-served-by';
/** Response header (gRPC initial metadata and HTTP) carrying the version the pod serves. */
export const MODEL_VERSION_HEADER = 'x-model-version';
/** Field (Triton parameter, TF Serving output tensor, JSON body) naming the pod that answered. */
export const SERVED_BY_FIELD = 'served_by';
/** TF Serving output tensor / JSON body field carrying the served version. */
export const MODEL_VERSION_FIELD = 'model_version';

// ---------------------------------------------------------------------------------------------------------
// Protos

const protosDir = fileURLToPath(new URL('../protos', import.meta.url));

const loaderOptions = {
  includeDirs: [protosDir],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

function isServiceDefinition(definition: PackageDefinition[string] | undefined): definition is ServiceDefinition {
  return definition !== undefined && !('format' in definition && typeof definition.format === 'string');
}

/** Loads one service from the repo's protos/ folder (`file` is relative to it, e.g. "triton/grpc_service.proto"). */
export function loadService(file: string, serviceName: string): ServiceDefinition {
  const definition = loadSync(file, loaderOptions)[serviceName];
  if (!isServiceDefinition(definition)) throw new Error(`${file} does not define service ${serviceName}`);
  return definition;
}

export function serviceMethod(service: ServiceDefinition, name: string): MethodDefinition<object, object> {
  const method = service[name];
  if (method === undefined) throw new Error(`service has no method ${name}`);
  return method;
}

// ---------------------------------------------------------------------------------------------------------
// Loose readers for decoded messages and JSON bodies (both arrive as plain objects of unknown shape)

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Follows `keys` through nested objects; undefined as soon as one step is missing. */
export function pick(value: unknown, ...keys: string[]): unknown {
  let current = value;
  for (const key of keys) {
    if (!isRecord(current)) return undefined;
    current = current[key];
  }
  return current;
}

export function pickString(value: unknown, ...keys: string[]): string {
  const found = pick(value, ...keys);
  return typeof found === 'string' ? found : '';
}

// ---------------------------------------------------------------------------------------------------------
// Per-pod state

export interface FakeIdentity {
  pod: string;
  version: string;
  models: readonly string[];
}

export type InferenceAdmission = { ok: true; call: number } | { ok: false; call: number; code: grpc.status };

export class FakeServerState {
  readonly pod: string;
  readonly version: string;
  readonly models: ReadonlySet<string>;
  ready = true;
  /** Inference calls for a served model, successful or failed. */
  requests = 0;
  /** Inference calls failed by injection. */
  failures = 0;
  /** Calls naming a model (or version) this pod does not serve. */
  notFound = 0;
  #failure: FailureMode = { kind: 'none' };
  #callsSinceFailureSet = 0;

  constructor(identity: FakeIdentity) {
    this.pod = identity.pod;
    this.version = identity.version;
    this.models = new Set(identity.models);
  }

  setFailure(mode: FailureMode): void {
    if (mode.kind === 'every-nth' && !(Number.isInteger(mode.n) && mode.n >= 1)) {
      throw new RangeError(`every-nth failure mode needs an integer n >= 1, got ${mode.n}`);
    }
    this.#failure = { ...mode };
    this.#callsSinceFailureSet = 0;
  }

  /** True when this pod serves `model` and `version` is empty or the pod's version. */
  serves(model: string, version = ''): boolean {
    return this.models.has(model) && (version === '' || version === this.version);
  }

  /** Counts one inference call for a served model and decides whether injection fails it. */
  admitInference(): InferenceAdmission {
    this.requests += 1;
    this.#callsSinceFailureSet += 1;
    const call = this.#callsSinceFailureSet;
    const mode = this.#failure;
    const fail = mode.kind === 'always' || (mode.kind === 'every-nth' && call % mode.n === 0);
    if (!fail) return { ok: true, call };
    this.failures += 1;
    return { ok: false, call, code: mode.code ?? grpc.status.UNAVAILABLE };
  }

  injectedFailureMessage(call: number): string {
    return `injected failure on ${this.pod} (call ${call} since the failure mode was set)`;
  }

  identityMetadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    metadata.set(SERVED_BY_HEADER, this.pod);
    metadata.set(MODEL_VERSION_HEADER, this.version);
    return metadata;
  }
}

// ---------------------------------------------------------------------------------------------------------
// gRPC server side

export type UnaryHandler = (call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) => void;

/** Answers successfully, with the pod identity in the initial metadata. */
export function replyOk(
  state: FakeServerState,
  call: grpc.ServerUnaryCall<object, object>,
  callback: grpc.sendUnaryData<object>,
  response: object,
): void {
  call.sendMetadata(state.identityMetadata());
  callback(null, response);
}

/** Fails the call; the identity travels in the (trailers-only) metadata so callers can still see who failed. */
export function replyError(
  state: FakeServerState,
  callback: grpc.sendUnaryData<object>,
  code: grpc.status,
  details: string,
): void {
  callback({ code, details, metadata: state.identityMetadata() });
}

/**
 * The checks every inference method makes before answering: the pod serves this model and version (else
 * NOT_FOUND with `unknownMessage`), and the failure mode lets this call through. False when it answered.
 */
export function admitGrpcInference(state: FakeServerState, callback: grpc.sendUnaryData<object>, model: string, version: string, unknownMessage: string): boolean {
  if (!state.serves(model, version)) {
    state.notFound += 1;
    replyError(state, callback, grpc.status.NOT_FOUND, unknownMessage);
    return false;
  }
  const admission = state.admitInference();
  if (!admission.ok) {
    replyError(state, callback, admission.code, state.injectedFailureMessage(admission.call));
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// HTTP server side

export type HttpHandler = (request: IncomingMessage, response: ServerResponse, body: Buffer) => void;

const maxBodyBytes = 4 * 1024 * 1024;

/** Serves `handle` once the whole body has arrived; identity headers go on every answer. */
export function httpListener(state: FakeServerState, handle: HttpHandler): (req: IncomingMessage, res: ServerResponse) => void {
  return (request, response) => {
    response.setHeader(SERVED_BY_HEADER, state.pod);
    response.setHeader(MODEL_VERSION_HEADER, state.version);
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) tooLarge = true;
      else chunks.push(chunk);
    });
    request.on('end', () => {
      if (tooLarge) {
        sendJson(response, 413, { error: `request body larger than ${maxBodyBytes} bytes` });
        return;
      }
      try {
        handle(request, response, Buffer.concat(chunks));
      } catch (error) {
        sendJson(response, 500, { error: error instanceof Error ? error.message : String(error) });
      }
    });
    request.on('error', () => response.destroy());
  };
}

export function sendJson(response: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

export function methodNotAllowed(response: ServerResponse, allowed: string): void {
  response.setHeader('allow', allowed);
  sendJson(response, 405, { error: `method not allowed; use ${allowed}` });
}

/** Parses a JSON request body; an empty body is `{}`. Returns an error message instead of throwing. */
export function parseJsonBody(body: Buffer): { ok: true; value: unknown } | { ok: false; error: string } {
  if (body.length === 0) return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) };
  } catch (error) {
    return { ok: false, error: `request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** Decodes one URL path segment; undefined for a missing segment, null for a malformed one. */
export function decodeSegment(segment: string | undefined): string | undefined | null {
  if (segment === undefined) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Client side

/** A gRPC client for one fake personality; `target` may be anything grpc-js resolves, e.g. xds:///infermesh. */
export interface ServingClient<K extends FakeServerKind> {
  readonly kind: K;
  readonly grpcClient: grpc.Client;
  readonly service: ServiceDefinition;
  close(): void;
}

export function createServingClient<K extends FakeServerKind>(
  kind: K,
  service: ServiceDefinition,
  target: string,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  channelOptions: grpc.ChannelOptions = {},
): ServingClient<K> {
  const grpcClient = new grpc.Client(target, credentials, channelOptions);
  return { kind, grpcClient, service, close: () => grpcClient.close() };
}

export interface CallOptions {
  /** Per-call request metadata, e.g. `{ 'x-model': 'resnet50' }`. */
  metadata?: grpc.Metadata | Record<string, string>;
  /** Deadline for the call, in milliseconds from now. Default 10 s. */
  timeoutMs?: number;
}

export interface UnaryResult {
  message: Record<string, unknown>;
  /** The response's initial metadata (where the fakes put x-served-by / x-model-version). */
  headers: grpc.Metadata;
}

function toMetadata(metadata: CallOptions['metadata']): grpc.Metadata {
  if (metadata instanceof grpc.Metadata) return metadata.clone();
  const result = new grpc.Metadata();
  for (const [key, value] of Object.entries(metadata ?? {})) result.set(key, value);
  return result;
}

/** Calls one unary method by name; rejects with the grpc-js ServiceError (which has `.code`) on failure. */
export function callUnary<K extends FakeServerKind>(
  client: ServingClient<K>,
  methodName: string,
  request: object,
  options: CallOptions = {},
): Promise<UnaryResult> {
  const method = serviceMethod(client.service, methodName);
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  return new Promise((resolve, reject) => {
    let headers = new grpc.Metadata();
    const call = client.grpcClient.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      toMetadata(options.metadata),
      { deadline },
      (error, value) => {
        if (error) reject(error);
        else if (!isRecord(value)) reject(new Error(`${method.path} returned no message`));
        else resolve({ message: value, headers });
      },
    );
    call.on('metadata', (metadata: grpc.Metadata) => {
      headers = metadata;
    });
  });
}

/** Who answered an inference call, as reported in the response message. */
export interface InferenceIdentity {
  pod: string;
  version: string;
  model: string;
}

export function metadataString(metadata: grpc.Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : value.toString('utf8');
}
