/**
 * What the fake Triton and TF Serving servers share: proto loading, per-pod state (identity, readiness,
 * failure injection, counters), and the small gRPC/HTTP/client plumbing both personalities use.
 * Nothing here runs at import time.
 */
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync, type MethodDefinition, type PackageDefinition, type ServiceDefinition } from '@grpc/proto-loader';
import { FakeRepository } from './fake-repository.ts';

export type FakeServerKind = 'triton' | 'tfserving';

/**
 * Failure injection for inference calls (ModelInfer, Predict, REST infer/predict). HTTP answers 503.
 * `delay` answers successfully, but only after `ms` (for timeouts, and to hold calls open for circuit breakers).
 */
export type FailureMode =
  | { kind: 'none' }
  | { kind: 'always'; code?: grpc.status }
  | {
      kind: 'every-nth';
      /** Fails the calls whose count (from the moment this mode is set, starting at 1) is a multiple of n. */
      n: number;
      code?: grpc.status;
    }
  | { kind: 'delay'; ms: number };

/** How an inference call reached the pod: REST reports Node's `request.httpVersion`; gRPC is always "HTTP/2.0". */
export type WireProtocol = `HTTP/${string}`;

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

export type InferenceAdmission = { ok: true; call: number; delayMs: number } | { ok: false; call: number; code: grpc.status };

/** Why an inference call was refused before admission (the model or version is not ready on this pod). */
export interface Refusal {
  code: grpc.status;
  httpStatus: number;
  message: string;
}

export class FakeServerState {
  readonly pod: string;
  readonly version: string;
  /** Models and versions on this pod and their states; only ready versions serve inference. */
  readonly repository: FakeRepository;
  ready = true;
  /** Inference calls for a served model, successful or failed. */
  requests = 0;
  /** Inference calls failed by injection. */
  failures = 0;
  /** Calls naming a model (or version) this pod does not serve: unknown, unloaded, loading or failed. */
  notFound = 0;
  /** Inference calls by the model they named, admitted or refused. */
  readonly requestsByModel = new Map<string, number>();
  /** Admitted inference calls not answered yet (held by the delay mode), and the most there ever were. */
  inFlight = 0;
  maxInFlight = 0;
  /** Inference calls for a served model by the protocol they arrived over, e.g. "HTTP/1.1": 3. */
  readonly protocols = new Map<WireProtocol, number>();
  #failure: FailureMode = { kind: 'none' };
  #callsSinceFailureSet = 0;
  readonly #delayed = new Set<NodeJS.Timeout>();

  constructor(identity: FakeIdentity) {
    this.pod = identity.pod;
    this.version = identity.version;
    this.repository = new FakeRepository(identity.version, identity.models);
  }

  setFailure(mode: FailureMode): void {
    if (mode.kind === 'every-nth' && !(Number.isInteger(mode.n) && mode.n >= 1)) {
      throw new RangeError(`every-nth failure mode needs an integer n >= 1, got ${mode.n}`);
    }
    if (mode.kind === 'delay' && !(Number.isFinite(mode.ms) && mode.ms >= 0)) {
      throw new RangeError(`delay failure mode needs ms >= 0, got ${mode.ms}`);
    }
    this.#failure = { ...mode };
    this.#callsSinceFailureSet = 0;
  }

  /** True when `version` of `model` (any version when empty) is ready on this pod. */
  serves(model: string, version = ''): boolean {
    return this.repository.isReady(model, version);
  }

  /** The version that answers a call for `model` naming `version` ('' = the highest ready one). */
  answeringVersion(model: string, version: string): string {
    return version !== '' ? version : (this.repository.servingVersion(model) ?? this.version);
  }

  /** Counts one inference call for a served model and decides whether injection fails or delays it. */
  admitInference(protocol: WireProtocol): InferenceAdmission {
    this.requests += 1;
    this.protocols.set(protocol, (this.protocols.get(protocol) ?? 0) + 1);
    this.#callsSinceFailureSet += 1;
    const call = this.#callsSinceFailureSet;
    const mode = this.#failure;
    const fail = mode.kind === 'always' || (mode.kind === 'every-nth' && call % mode.n === 0);
    if (!fail) return { ok: true, call, delayMs: mode.kind === 'delay' ? mode.ms : 0 };
    this.failures += 1;
    return { ok: false, call, code: mode.code ?? grpc.status.UNAVAILABLE };
  }

  /** Runs `answer` for an admitted call: at once, or after the delay mode's pause (in flight meanwhile). */
  answerAdmitted(admission: { delayMs: number }, answer: () => void): void {
    if (admission.delayMs <= 0) {
      answer();
      return;
    }
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const timer = setTimeout(() => {
      this.#delayed.delete(timer);
      this.inFlight -= 1;
      answer();
    }, admission.delayMs);
    this.#delayed.add(timer);
  }

  resetCounters(): void {
    this.requests = 0;
    this.failures = 0;
    this.notFound = 0;
    this.requestsByModel.clear();
    this.maxInFlight = this.inFlight;
    this.protocols.clear();
  }

  /** Drops the answers still held by the delay mode (the pod is closing). */
  cancelDelayed(): void {
    for (const timer of this.#delayed) clearTimeout(timer);
    this.#delayed.clear();
    this.inFlight = 0;
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
 * NOT_FOUND with `unknownMessage`), and the failure mode lets this call through; then `answer` runs, at once
 * or after the delay mode's pause. gRPC arrives over HTTP/2 only (grpc-js serves nothing else).
 */
export function answerGrpcInference(
  state: FakeServerState,
  callback: grpc.sendUnaryData<object>,
  request: { model: string; refusal: Refusal | undefined },
  answer: () => void,
): void {
  state.requestsByModel.set(request.model, (state.requestsByModel.get(request.model) ?? 0) + 1);
  if (request.refusal !== undefined) {
    state.notFound += 1;
    replyError(state, callback, request.refusal.code, request.refusal.message);
    return;
  }
  const admission = state.admitInference('HTTP/2.0');
  if (!admission.ok) {
    replyError(state, callback, admission.code, state.injectedFailureMessage(admission.call));
    return;
  }
  state.answerAdmitted(admission, answer);
}

// ---------------------------------------------------------------------------------------------------------
// HTTP server side

/** What the REST side uses of a request, whether it arrived over HTTP/1.1 (node:http) or h2c (node:http2). */
export type FakeHttpRequest = Readable & {
  readonly url?: string | undefined;
  readonly method?: string | undefined;
  readonly httpVersion: string;
  readonly headers?: Readonly<Record<string, string | string[] | undefined>>;
};

/** What the REST side uses of a response, from node:http or node:http2's compatibility API alike. */
export interface FakeHttpResponse {
  setHeader(name: string, value: string | number): unknown;
  writeHead(status: number, headers: Record<string, string | number>): unknown;
  end(text: string): unknown;
}

export type HttpHandler = (request: FakeHttpRequest, response: FakeHttpResponse, body: Buffer) => void;

const maxBodyBytes = 4 * 1024 * 1024;

/** Serves `handle` once the whole body has arrived; identity headers go on every answer. */
export function httpListener(state: FakeServerState, handle: HttpHandler): (req: FakeHttpRequest, res: FakeHttpResponse) => void {
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
    request.on('error', () => request.destroy());
  };
}

export function sendJson(response: FakeHttpResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

export function methodNotAllowed(response: FakeHttpResponse, allowed: string): void {
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
