/**
 * Fake model servers for end-to-end tests and `npm run demo`: each one is a "pod" with its own loopback
 * address that speaks just enough Triton (KServe v2) or TF Serving, over real gRPC (@grpc/grpc-js) and real
 * HTTP (HTTP/1.1 and h2c on one port), to answer, report who answered, fail or stall on demand and report
 * readiness.
 *
 * Identity: every answer carries `x-served-by: <pod>` and `x-model-version: <version>` (gRPC initial
 * metadata, or trailers-only metadata on errors; HTTP response headers) and, where the real message has room
 * for it, the same in the body: Triton ModelInfer `parameters.served_by`, TF Serving Predict output tensors
 * `served_by` / `model_version`, and `served_by` / `model_version` in every REST JSON body.
 */
import * as grpc from '@grpc/grpc-js';
import { FakeServerState, httpListener, type FailureMode, type FakeServerKind, type HttpHandler, type UnaryHandler, type WireProtocol } from './fake-server-core.ts';
import { startRestPort, type RestPort } from './fake-rest-port.ts';
import { handleTfServingHttp, loadTfServingService, tfServingGrpcImplementation } from './fake-tfserving.ts';
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
export {
  createTritonClient,
  tritonInfer,
  tritonModelReady,
  tritonServerReady,
  type TritonClient,
  type TritonInferOptions,
} from './fake-triton.ts';
export {
  createTfServingClient,
  tfServingGetModelMetadata,
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
  /** Model names served; anything else is NOT_FOUND / 404. */
  models: string[];
  /** The one version this pod serves (requests naming another version are NOT_FOUND / 404). */
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
  /** Calls (any method) naming a model or version this pod does not serve. */
  readonly notFound: number;
  readonly ready: boolean;
  /** Inference calls held by the delay mode right now, and the most held at once since `resetCounters`. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** Inference calls by the protocol they arrived over: "HTTP/2.0" (gRPC, or REST over h2c) or "HTTP/1.1". */
  readonly protocols: ReadonlyMap<WireProtocol, number>;
  /** Zeroes requests, failures, notFound, maxInFlight and protocols (calls in flight stay counted). */
  resetCounters(): void;
  /** Applies to inference calls from now on; every-nth counts from this call. */
  setFailure(mode: FailureMode): void;
  /** false: ServerReady / ModelReady / REST health and model status report not ready. Inference still answers. */
  setReady(ready: boolean): void;
  /** Stops both servers; in-flight gRPC calls get up to 1 s to finish. Idempotent. */
  close(): Promise<void>;
}

interface Personality {
  service: grpc.ServiceDefinition;
  grpcImplementation: Record<string, UnaryHandler>;
  http: HttpHandler;
}

function personality(kind: FakeServerKind, state: FakeServerState): Personality {
  if (kind === 'triton') {
    return {
      service: loadTritonService(),
      grpcImplementation: tritonGrpcImplementation(state),
      http: (request, response, body) => handleTritonHttp(state, request, response, body),
    };
  }
  return {
    service: loadTfServingService(),
    grpcImplementation: tfServingGrpcImplementation(state),
    http: (request, response, body) => handleTfServingHttp(state, request, response, body),
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

  close(): Promise<void> {
    this.#state.cancelDelayed();
    this.#closing ??= Promise.all([shutdownGrpc(this.#grpcServer, 1_000), this.#restPort.close()]).then(() => undefined);
    return this.#closing;
  }
}

export async function startFakeModelServer(options: FakeModelServerOptions): Promise<FakeModelServer> {
  if (options.models.length === 0) throw new Error(`fake model server ${options.pod} needs at least one model`);
  const state = new FakeServerState({ pod: options.pod, version: options.version, models: options.models });
  const { service, grpcImplementation, http } = personality(options.kind, state);

  const grpcServer = new grpc.Server();
  grpcServer.addService(service, grpcImplementation);
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
