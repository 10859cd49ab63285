import * as grpc from '@grpc/grpc-js';
import net from 'node:net';
import type protobuf from 'protobufjs';
import type { Logger } from 'pino';
import { splitHostPort } from '../admin/server.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { clientStatusResponse, type ClientStatusRequest } from './csds.ts';
import { DeltaResourceCache, deltaRequestDecoder, encodeDeltaDiscoveryResponse, type DeltaDiscoveryRequest, type DeltaResourceParts } from './delta-messages.ts';
import { DeltaStream } from './delta-stream.ts';
import { SnapshotDiffer } from './snapshot-differ.ts';
import type { ClientStream, StreamEvents } from './client-view.ts';
import { discoveryRequestDecoder, encodeDiscoveryResponse, type DiscoveryRequest, type NodeInfo } from './messages.ts';
import type { SnapshotSource } from './snapshot-store.ts';
import { SotwStream, mergePushes, newSharedWork, type Push, type SharedWork } from './sotw-stream.ts';
import { EncodedResponseCache } from './response-cache.ts';
import { StreamWriter, WriteLimiter } from './stream-writer.ts';
import { StreamLimits, boundNode, isRefusal, type XdsLimits } from './stream-limits.ts';
import { StreamLogs, type NackCause } from './stream-log.ts';
import { PushSummary } from '../logging/push-summary.ts';

const ADS_SERVICE = '/envoy.service.discovery.v3.AggregatedDiscoveryService';

export interface XdsServerOptions {
  root: protobuf.Root;
  snapshots: SnapshotSource;
  logger: Logger;
  metrics: Metrics;
  /** Identifies this control plane replica in every response (DiscoveryResponse.control_plane). */
  controlPlaneId: string;
  /** Called whenever a client's sync state changes (connect, ACK, NACK, disconnect). */
  onSyncChange?: () => void;
  /** Responses being written at once across all streams (bounds memory during a fan-out). Default 64. */
  maxConcurrentWrites?: number;
  /** What one client may cost (stream-limits.ts); defaults in DEFAULT_XDS_LIMITS. */
  limits?: Partial<XdsLimits>;
  /** The model changes published after snapshot `after` up to `through` (RolloutTracker): named in NACK logs. */
  nackCauses?: (after: number, through: number) => readonly NackCause[];
  /** How long pushes are gathered into one summary log line (default 1s). */
  pushSummaryMs?: number;
  /** More gRPC services on the same port (the cold-start ext_proc service). */
  services?: readonly { definition: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation }[];
}

const CSDS_SERVICE = '/envoy.service.status.v3.ClientStatusDiscoveryService';

/** CSDS, so any standard client (Envoy's tooling, istioctl-style scripts, ours) can ask what each proxy runs. */
function csdsServiceDefinition(root: protobuf.Root): grpc.ServiceDefinition {
  const requestType = root.lookupType('envoy.service.status.v3.ClientStatusRequest');
  const responseType = root.lookupType('envoy.service.status.v3.ClientStatusResponse');
  const decode = (bytes: Buffer) => requestType.toObject(requestType.decode(bytes), { enums: String, arrays: true }) as ClientStatusRequest;
  const encode = (value: Record<string, unknown>) => Buffer.from(responseType.encode(responseType.fromObject(value)).finish());
  const method = (name: string, streaming: boolean) => ({
    path: `${CSDS_SERVICE}/${name}`,
    requestStream: streaming,
    responseStream: streaming,
    requestSerialize: (value: Buffer) => value,
    requestDeserialize: decode,
    responseSerialize: encode,
    responseDeserialize: (value: Buffer) => value,
  });
  return { StreamClientStatus: method('StreamClientStatus', true), FetchClientStatus: method('FetchClientStatus', false) };
}

function adsServiceDefinition(decode: (bytes: Buffer) => DiscoveryRequest, decodeDelta: (bytes: Buffer) => DeltaDiscoveryRequest): grpc.ServiceDefinition {
  const passThrough = (value: Buffer) => value;
  return {
    StreamAggregatedResources: {
      path: `${ADS_SERVICE}/StreamAggregatedResources`,
      requestStream: true,
      responseStream: true,
      requestSerialize: passThrough,
      requestDeserialize: decode,
      responseSerialize: passThrough,
      responseDeserialize: passThrough,
    },
    DeltaAggregatedResources: {
      path: `${ADS_SERVICE}/DeltaAggregatedResources`,
      requestStream: true,
      responseStream: true,
      requestSerialize: passThrough,
      requestDeserialize: decodeDelta,
      responseSerialize: passThrough,
      responseDeserialize: passThrough,
    },
  };
}

/** The ADS server. It knows snapshots and streams; it never builds or encodes resources itself. */
export class XdsServer {
  readonly #options: XdsServerOptions;
  readonly #server = new grpc.Server({ 'grpc.keepalive_time_ms': 30_000, 'grpc.keepalive_timeout_ms': 10_000 });
  readonly #streams = new Map<string, { protocol: ClientStream; call: { end(): void } }>();
  /** Shared by every delta stream: per-snapshot diffs and per-resource encodings are computed once. */
  readonly #differ = new SnapshotDiffer();
  readonly #sotwShared: SharedWork = newSharedWork(this.#differ);
  readonly #deltaResources = new DeltaResourceCache();
  /** Whole responses, shared by streams sent the same thing under the same nonce (see EncodedResponseCache). */
  readonly #sotwResponses = new EncodedResponseCache<Uint8Array>();
  readonly #deltaResponses = new EncodedResponseCache<DeltaResourceParts>();
  #nextStreamId = 0;
  readonly #limiter: WriteLimiter;
  #unsubscribe: (() => void) | undefined;
  readonly #limits: StreamLimits;
  readonly #logs: StreamLogs;
  readonly #pushSummary: PushSummary;
  /**
   * The listening socket and every connection are ours, not grpc-js's. After forceShutdown, Node ends each
   * connection politely (FIN) and waits for the peer to close its side: a peer that stopped reading never
   * does, and its socket keeps the process alive for good. Owning the sockets is what lets close() destroy them.
   */
  #listener: net.Server | undefined;
  readonly #sockets = new Set<net.Socket>();
  #onLastSocketClosed: (() => void) | undefined;

  constructor(options: XdsServerOptions) {
    this.#options = options;
    this.#limiter = new WriteLimiter(options.maxConcurrentWrites ?? 64);
    this.#limits = new StreamLimits(options.limits);
    const { maxNodeBytes, logIntervalMs, logsPerInterval, connectLogsPerInterval } = this.#limits.limits;
    this.#logs = new StreamLogs({ intervalMs: logIntervalMs, globalPerInterval: logsPerInterval, lifecyclePerInterval: connectLogsPerInterval });
    this.#pushSummary = new PushSummary(options.logger, options.pushSummaryMs !== undefined ? { windowMs: options.pushSummaryMs } : {});
    // Node is field 2 of DiscoveryRequest, 1 of DeltaDiscoveryRequest.
    const decode = boundNode(discoveryRequestDecoder(options.root), 2, maxNodeBytes);
    this.#server.addService(adsServiceDefinition(decode, boundNode(deltaRequestDecoder(options.root), 1, maxNodeBytes)), {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequest, Buffer>) => this.#onStream(call),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, Buffer>) => this.#onDeltaStream(call),
    });
    for (const service of options.services ?? []) this.#server.addService(service.definition, service.implementation);
    const status = (request: ClientStatusRequest) => clientStatusResponse(request, this.streams(), options.root);
    this.#server.addService(csdsServiceDefinition(options.root), {
      FetchClientStatus: (call: grpc.ServerUnaryCall<ClientStatusRequest, Record<string, unknown>>, callback: grpc.sendUnaryData<Record<string, unknown>>) => {
        callback(null, status(call.request));
      },
      StreamClientStatus: (call: grpc.ServerDuplexStream<ClientStatusRequest, Record<string, unknown>>) => {
        call.on('data', (request: ClientStatusRequest) => call.write(status(request)));
        call.on('end', () => call.end());
      },
    });
  }

  /** Binds and starts serving; resolves with the bound port (useful with port 0). TLS with credentials from tls-credentials.ts. */
  async listen(address: string, credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure()): Promise<number> {
    const { host, port } = splitHostPort(address);
    const injector = this.#server.createConnectionInjector(credentials);
    const listener = net.createServer((socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => {
        this.#sockets.delete(socket);
        if (this.#sockets.size === 0) this.#onLastSocketClosed?.();
      });
      injector.injectConnection(socket);
    });
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(port, host, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    listener.on('error', (error) => this.#options.logger.error({ err: error }, 'xDS listener error'));
    this.#listener = listener;
    this.#unsubscribe = this.#options.snapshots.subscribe((snapshot) => {
      this.#pushSummary.flush();
      for (const { protocol } of this.#streams.values()) protocol.onSnapshot(snapshot);
    });
    return (listener.address() as net.AddressInfo).port;
  }

  streams(): ClientStream[] {
    return [...this.#streams.values()].map((s) => s.protocol);
  }

  /**
   * Stops accepting connections, ends every stream and asks every client to go (GOAWAY), waits up to graceMs
   * for them to, then cancels what is left and destroys every connection, whatever its peer does.
   */
  async close(graceMs = 5_000): Promise<void> {
    this.#unsubscribe?.();
    this.#listener?.close();
    for (const { call } of this.#streams.values()) call.end();
    // tryShutdown's own callback is no measure of this: with injected connections it can fire while
    // sessions still hold streams. The connections closing is.
    this.#server.tryShutdown(() => {});
    await new Promise<void>((resolve) => {
      if (this.#sockets.size === 0) return resolve();
      const timer = setTimeout(resolve, graceMs);
      this.#onLastSocketClosed = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#server.forceShutdown();
    for (const socket of this.#sockets) socket.destroy();
    this.#pushSummary.flush();
  }

  #onStream(call: grpc.ServerDuplexStream<DiscoveryRequest, Buffer>): void {
    const { logger, controlPlaneId } = this.#options;
    const id = String(++this.#nextStreamId);
    const log = logger.child({ stream: id, peer: call.getPeer() });
    // grpc-js never completes a write on a stream that was cancelled under it; completing those ourselves
    // when the stream ends lets the writer stop, and clear its stall timer, instead of waiting for it.
    const unfinished = new Set<() => void>();
    const write = (bytes: Buffer, done: () => void) => {
      const complete = () => {
        if (unfinished.delete(complete)) done();
      };
      unfinished.add(complete);
      call.write(bytes, complete);
    };
    const writer = new StreamWriter<Push>(
      { write },
      (push) =>
        this.#sotwResponses.get(`${push.typeUrl}\n${push.version}\n${push.nonce}`, push.resources, () =>
          encodeDiscoveryResponse({ versionInfo: push.version, resources: push.resources, typeUrl: push.typeUrl, nonce: push.nonce, controlPlaneId }),
        ),
      this.#limiter,
      { merge: mergePushes },
    );
    const protocol: SotwStream = new SotwStream(id, (push) => writer.enqueue(push), this.#streamEvents(id, log, () => protocol), () => new Date(), this.#sotwShared);
    this.#serve(id, call, protocol, log, () => {
      writer.close();
      for (const complete of unfinished) complete();
    });
  }

  /**
   * Delta streams write every response in order (each is a diff, so none may be dropped); the stream itself
   * keeps one in flight and merges what waits (DeltaStream), so the transport's promise is all it needs.
   */
  #onDeltaStream(call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, Buffer>): void {
    const { logger, controlPlaneId } = this.#options;
    const id = `d${++this.#nextStreamId}`;
    const log = logger.child({ stream: id, peer: call.getPeer(), delta: true });
    const protocol: DeltaStream = new DeltaStream(
      id,
      (push) => {
        const key = `${push.typeUrl}\n${push.version}\n${push.nonce}\n${push.removed.join('\n')}`;
        const message = this.#deltaResponses.get(key, push.resources, () =>
          encodeDeltaDiscoveryResponse({ systemVersionInfo: push.version, resources: push.resources.map((r) => this.#deltaResources.bytes(r)), typeUrl: push.typeUrl, removed: push.removed, nonce: push.nonce, controlPlaneId }),
        );
        return new Promise<void>((written) => call.write(message, () => written()));
      },
      this.#streamEvents<DeltaDiscoveryRequest>(id, log, () => protocol),
      () => new Date(),
      this.#differ,
    );
    this.#serve(id, call, protocol, log, () => {});
  }

  /** What both protocols share: registration, requests in order, metrics, and clean-up however the stream ends. */
  #serve<R extends { node?: NodeInfo; oversizedNode?: number }>(
    id: string,
    call: grpc.ServerDuplexStream<R, Buffer>,
    protocol: { node: unknown; onRequest(request: R, snapshot: ReturnType<SnapshotSource['current']>): void } & ClientStream,
    log: Logger,
    onClose: () => void,
  ): void {
    const { metrics, snapshots } = this.#options;
    const ticket = this.#limits.admit(call.getPeer());
    if (isRefusal(ticket)) {
      metrics.refusedStreams.inc({ reason: ticket.reason });
      this.#logs.refused(log, ticket.reason, { open: this.#limits.open }, ticket.error.details);
      onClose();
      call.emit('error', ticket.error);
      return;
    }
    const sampled = this.#logs.forStream(log);
    this.#streams.set(id, { protocol, call });
    metrics.connectedStreams.inc();
    this.#options.onSyncChange?.();
    call.on('data', (request: R) => {
      if (ticket.ended) return;
      const refusal = ticket.check(request);
      if (refusal) {
        metrics.refusedStreams.inc({ reason: refusal.reason });
        sampled.ended(refusal.reason, refusal.error.details);
        call.emit('error', refusal.error);
        return;
      }
      if (request.node && !protocol.node) sampled.connected(request.node);
      protocol.onRequest(request, snapshots.current());
      this.#options.onSyncChange?.();
    });
    const finish = () => {
      onClose();
      ticket.release();
      if (!this.#streams.delete(id)) return;
      metrics.connectedStreams.dec();
      this.#options.onSyncChange?.();
      sampled.closed(protocol.node);
    };
    call.on('end', () => {
      finish();
      call.end();
    });
    call.on('cancelled', finish);
    call.on('error', (error) => {
      log.debug({ err: error }, 'xDS stream error');
      finish();
    });
  }

  /** `stream`: the stream's own view, for what it had accepted before a NACK (there once it is constructed). */
  #streamEvents<R extends { typeUrl: string }>(id: string, log: Logger, stream: () => ClientStream): StreamEvents<R> {
    const { metrics, snapshots, nackCauses } = this.#options;
    const sampled = this.#logs.forStream(log);
    return {
      push: (kind, resourceCount, bytes) => {
        metrics.pushes.inc({ type: kind });
        metrics.pushedBytes.inc({ type: kind }, bytes);
        log.debug({ type: kind, resources: resourceCount, bytes }, 'pushed');
        this.#pushSummary.record(id, kind, resourceCount, bytes, snapshots.current());
      },
      ack: (kind, node, version) => {
        metrics.acks.inc({ type: kind });
        log.debug({ type: kind, node: node?.id, version }, 'ACK');
      },
      nack: (kind, node, nack) => {
        metrics.nacks.inc({ type: kind });
        const causes = nackCauses && (() => nackCauses(stream().syncState().get(kind)?.syncedThrough ?? 0, nack.sequence));
        sampled.nack(kind, node, nack, causes);
      },
      ignored: (reason, request) => sampled.ignored(request.typeUrl, reason),
    };
  }
}
