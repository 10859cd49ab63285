/**
 * Fake model servers for end-to-end tests and `npm run demo`: each one is a "pod" with its own loopback
 * address that speaks just enough Triton (KServe v2) or TF Serving, over real gRPC (@grpc/grpc-js) and real
 * HTTP (HTTP/1.1 and h2c on one port), to answer, report who answered, fail or stall on demand and report
 * readiness.
 *
 * Models: each pod has a model repository (fake-repository.ts). `models` at start are loaded (ready) at
 * `version`; at run time:
 *   await pod.load('resnet50')                        // ready at once (Triton READY, TF Serving AVAILABLE)
 *   const done = pod.load('resnet50', '2', { loadingMs: 500 })   // LOADING for 500 ms, then ready
 *   await pod.load('bert', '1', { fail: 'out of memory' })       // Triton UNAVAILABLE + reason; TF END + error
 *   pod.unload('resnet50')                            // every version, not ready at once ("unloaded" / END)
 *   pod.unload('resnet50', '2')                       // one version
 *   pod.setModelState('resnet50', '1', 'unloading')   // any state directly (UNLOADING, START, ...)
 *   pod.models()                                      // every version with its state
 *   pod.requestsFor('resnet50')                       // inference calls naming it (served or refused)
 * OpenAI-style REST (fake-openai.ts): POST /v1/chat/completions, /v1/completions, /v1/embeddings.
 * Over HTTP (curl): POST /fake/load?model=M&version=V&loadingMs=N, POST /fake/unload?model=M, GET /fake/models
 * (fake-admin.ts). Readiness and refusals answer exactly as the real servers do: see the headers of
 * fake-triton.ts and fake-tfserving.ts (status codes, gRPC codes, messages, with source references).
 *
 * Identity: every answer carries `x-served-by: <pod>` and `x-model-version: <version>` (gRPC initial
 * metadata, or trailers-only metadata on errors; HTTP response headers) and, where the real message has room
 * for it, the same in the body: Triton ModelInfer `parameters.served_by`, TF Serving Predict output tensors
 * `served_by` / `model_version`, and `served_by` / `model_version` in every REST JSON body.
 */
import * as grpc from '@grpc/grpc-js';
import { FakeServerState, httpListener, type FakeHttpRequest, type FakeHttpResponse, type FailureMode, type FakeServerKind, type HttpHandler, type UnaryHandler, type WireProtocol } from './fake-server-core.ts';
import { startRestPort, type RestPort } from './fake-rest-port.ts';
import { handleAdmin } from './fake-admin.ts';
import { handleOpenAi } from './fake-openai.ts';
import type { LoadOptions, VersionState, VersionStatus } from './fake-repository.ts';
import { handleTfServingHttp, loadTfServingModelService, loadTfServingService, tfServingGrpcImplementation, tfServingModelServiceImplementation } from './fake-tfserving.ts';
import { handleTritonHttp, loadTritonService, tritonGrpcImplementation } from './fake-triton.ts';

export {
  MODEL_VERSION_FIELD,
  MODEL_VERSION_HEADER,
  SERVED_BY_FIELD,
  SERVED_BY_HEADER,
  callUnary,
  type CallOptions,
  type FailureMode,
  type FakeServerKind,
  type InferenceIdentity,
  type WireProtocol,
  type ServingClient,
  type UnaryResult,
} from './fake-server-core.ts';
export type { LoadOptions, VersionState, VersionStatus } from './fake-repository.ts';
export {
  createTritonClient,
  tritonGetRepositoryIndex,
  tritonInfer,
  tritonModelReady,
  tritonServerReady,
  type TritonClient,
  type TritonIndexEntry,
  type TritonInferOptions,
} from './fake-triton.ts';
export {
  createTfServingClient,
  createTfServingModelClient,
  tfServingGetModelMetadata,
  tfServingGetModelStatus,
  tfServingPredict,
  type TfServingClient,
  type TfServingPredictOptions,
} from './fake-tfserving.ts';

export interface FakeModelServerOptions {
  kind: FakeServerKind;
  /** Loopback address of this "pod", e.g. 127.0.0.11. */
  host: string;
  /** 0 or absent: any free port. */
  grpcPort?: number;
  /** 0 or absent: any free port. */
  httpPort?: number;
  /** Identity reported in every answer, e.g. "resnet50-v1-0". */
  pod: string;
  /** Models loaded (ready) at start, at `version`; may be empty (load some later). Others are unknown. */
  models: string[];
  /** The version the start models are loaded at, and the one load() uses when given none. */
  version: string;
}

export interface FakeModelServer {
  readonly pod: string;
  readonly version: string;
  readonly kind: FakeServerKind;
  readonly host: string;
  readonly grpcPort: number;
  readonly httpPort: number;
  /** host:grpcPort, ready for a gRPC client or an EndpointSlice. */
  address(): string;
  /** host:httpPort. */
  httpAddress(): string;
  /** Inference calls for a served model (ModelInfer, Predict, REST infer/predict), successful or failed. */
  readonly requests: number;
  /** Inference calls failed by the failure mode. */
  readonly failures: number;
  /**
   * Inference and metadata calls naming a model or version that is not ready here (unknown, loading, unloaded,
   * failed). Readiness, status and index queries are not counted: a control plane's prober makes them all the time.
   */
  readonly notFound: number;
  readonly ready: boolean;
  /** Inference calls held by the delay mode right now, and the most held at once since `resetCounters`. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** Inference calls by the protocol they arrived over: "HTTP/2.0" (gRPC, or REST over h2c) or "HTTP/1.1". */
  readonly protocols: ReadonlyMap<WireProtocol, number>;
  /** Loads `model` (version: the pod's); LOADING for `loadingMs`, then ready (or failed with `fail`). Resolves then. */
  load(model: string, version?: string, options?: LoadOptions): Promise<VersionStatus>;
  /** Unloads one version, or all of `model`: not ready at once. */
  unload(model: string, version?: string): void;
  /** Puts one version in any state (e.g. 'unloading', 'start'); `reason` shows in Triton's index / TF's error_message. */
  setModelState(model: string, version: string, state: VersionState, reason?: string): void;
  /** Every version of every model on this pod, with its state. */
  models(): VersionStatus[];
  /** Inference calls naming `model` since `resetCounters`, served or refused. */
  requestsFor(model: string): number;
  /** Zeroes requests, failures, notFound, per-model requests, maxInFlight and protocols (calls in flight stay counted). */
  resetCounters(): void;
  /** Applies to inference calls from now on; every-nth counts from this call. */
  setFailure(mode: FailureMode): void;
  /**
   * false: the whole server is not ready: ServerReady false and REST health 400; Triton ModelReady UNAVAILABLE /
   * REST model ready 503; TF Serving model status 200 with AVAILABLE versions shown LOADING. Inference still answers.
   */
  setReady(ready: boolean): void;
  /** Stops both servers; in-flight gRPC calls get up to 1 s to finish. Idempotent. */
  close(): Promise<void>;
}

interface Personality {
  services: { service: grpc.ServiceDefinition; implementation: Record<string, UnaryHandler> }[];
  http: HttpHandler;
}

/** The /fake/ admin path answers first on both personalities; true when it did. */
function adminOr(state: FakeServerState, request: FakeHttpRequest, response: FakeHttpResponse): boolean {
  return handleAdmin(state, request.method ?? 'GET', new URL(request.url ?? '/', 'http://fake'), response);
}

function personality(kind: FakeServerKind, state: FakeServerState): Personality {
  if (kind === 'triton') {
    return {
      services: [{ service: loadTritonService(), implementation: tritonGrpcImplementation(state) }],
      http: (request, response, body) => adminOr(state, request, response) || handleOpenAi(state, request, response, body) || handleTritonHttp(state, request, response, body),
    };
  }
  return {
    services: [
      { service: loadTfServingService(), implementation: tfServingGrpcImplementation(state) },
      { service: loadTfServingModelService(), implementation: tfServingModelServiceImplementation(state) },
    ],
    http: (request, response, body) => adminOr(state, request, response) || handleOpenAi(state, request, response, body) || handleTfServingHttp(state, request, response, body),
  };
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function bindGrpc(server: grpc.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(hostPort(host, port), grpc.ServerCredentials.createInsecure(), (error, boundPort) => {
      if (error) reject(error);
      else resolve(boundPort);
    });
  });
}

function shutdownGrpc(server: grpc.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    force.unref();
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}

class RunningFakeModelServer implements FakeModelServer {
  readonly kind: FakeServerKind;
  readonly host: string;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly #state: FakeServerState;
  readonly #grpcServer: grpc.Server;
  readonly #restPort: RestPort;
  #closing: Promise<void> | undefined;

  constructor(init: {
    kind: FakeServerKind;
    host: string;
    grpcPort: number;
    httpPort: number;
    state: FakeServerState;
    grpcServer: grpc.Server;
    restPort: RestPort;
  }) {
    this.kind = init.kind;
    this.host = init.host;
    this.grpcPort = init.grpcPort;
    this.httpPort = init.httpPort;
    this.#state = init.state;
    this.#grpcServer = init.grpcServer;
    this.#restPort = init.restPort;
  }

  get pod(): string {
    return this.#state.pod;
  }
  get version(): string {
    return this.#state.version;
  }
  get requests(): number {
    return this.#state.requests;
  }
  get failures(): number {
    return this.#state.failures;
  }
  get notFound(): number {
    return this.#state.notFound;
  }
  get ready(): boolean {
    return this.#state.ready;
  }
  get inFlight(): number {
    return this.#state.inFlight;
  }
  get maxInFlight(): number {
    return this.#state.maxInFlight;
  }
  get protocols(): ReadonlyMap<WireProtocol, number> {
    return this.#state.protocols;
  }

  resetCounters(): void {
    this.#state.resetCounters();
  }

  address(): string {
    return hostPort(this.host, this.grpcPort);
  }

  httpAddress(): string {
    return hostPort(this.host, this.httpPort);
  }

  setFailure(mode: FailureMode): void {
    this.#state.setFailure(mode);
  }

  setReady(ready: boolean): void {
    this.#state.ready = ready;
  }

  load(model: string, version?: string, options?: LoadOptions): Promise<VersionStatus> {
    return this.#state.repository.load(model, version, options);
  }

  unload(model: string, version?: string): void {
    this.#state.repository.unload(model, version);
  }

  setModelState(model: string, version: string, state: VersionState, reason?: string): void {
    this.#state.repository.setState(model, version, state, reason);
  }

  models(): VersionStatus[] {
    return this.#state.repository.index();
  }

  requestsFor(model: string): number {
    return this.#state.requestsByModel.get(model) ?? 0;
  }

  close(): Promise<void> {
    this.#state.cancelDelayed();
    this.#state.repository.cancel();
    this.#closing ??= Promise.all([shutdownGrpc(this.#grpcServer, 1_000), this.#restPort.close()]).then(() => undefined);
    return this.#closing;
  }
}

export async function startFakeModelServer(options: FakeModelServerOptions): Promise<FakeModelServer> {
  const state = new FakeServerState({ pod: options.pod, version: options.version, models: options.models });
  const { services, http } = personality(options.kind, state);

  const grpcServer = new grpc.Server();
  for (const { service, implementation } of services) grpcServer.addService(service, implementation);
  let restPort: RestPort | undefined;
  try {
    const grpcPort = await bindGrpc(grpcServer, options.host, options.grpcPort ?? 0);
    restPort = await startRestPort(options.host, options.httpPort ?? 0, httpListener(state, http));
    return new RunningFakeModelServer({ kind: options.kind, host: options.host, grpcPort, httpPort: restPort.port, state, grpcServer, restPort });
  } catch (error) {
    grpcServer.forceShutdown();
    await restPort?.close();
    throw error;
  }
}
