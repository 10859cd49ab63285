import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

/**
 * What one client may cost this replica (README, "Limits on the xDS port"). Each is answered with a gRPC
 * status naming the limit and the `serve` flag that sets it, never with memory, log or bandwidth growth.
 */
export interface XdsLimits {
  /** Open ADS streams on this replica (`--max-xds-streams`). */
  maxStreams: number;
  /** Open ADS streams on one connection (`--max-xds-streams-per-connection`); Envoy and gRPC open one. */
  maxStreamsPerConnection: number;
  /** Encoded size of the Node a client introduces itself with (`--max-xds-node-bytes`); CSDS echoes it. */
  maxNodeBytes: number;
  /** Requests a stream may send at once (`--xds-request-burst`), refilled at requestsPerSecond (`--xds-request-rate`). */
  requestBurst: number;
  requestsPerSecond: number;
  /**
   * Sampled logs: per event kind, the first line then one per interval per stream, and across streams
   * `logsPerInterval` lines of each kind (`connectLogsPerInterval` of connects and of closes).
   */
  logIntervalMs: number;
  logsPerInterval: number;
  connectLogsPerInterval: number;
}

export const DEFAULT_XDS_LIMITS: XdsLimits = {
  maxStreams: 10_000,
  maxStreamsPerConnection: 100,
  maxNodeBytes: 16 * 1024,
  requestBurst: 2_000,
  requestsPerSecond: 1_000,
  logIntervalMs: 10_000,
  logsPerInterval: 20,
  connectLogsPerInterval: 100,
};

export const LIMIT_FLAGS = {
  maxStreams: '--max-xds-streams',
  maxStreamsPerConnection: '--max-xds-streams-per-connection',
  maxNodeBytes: '--max-xds-node-bytes',
  requestBurst: '--xds-request-burst',
  requestsPerSecond: '--xds-request-rate',
} as const;

/** Why a stream was refused or ended: the label of infermesh_xds_refused_streams_total. */
export type RefusalReason = 'max_streams' | 'max_streams_per_connection' | 'node_too_large' | 'request_rate';

export interface Refusal {
  reason: RefusalReason;
  /** What grpc-js sends as the stream's status (code and details). */
  error: Error & { code: grpc.status; details: string };
}

function refusal(reason: RefusalReason, code: grpc.status, details: string): Refusal {
  return { reason, error: Object.assign(new Error(details), { code, details }) };
}

/** A token bucket: `burst` requests at once, then `perSecond` on average. */
export class TokenBucket {
  readonly #burst: number;
  readonly #perMs: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(burst: number, perSecond: number, now: () => number = () => performance.now()) {
    this.#burst = burst;
    this.#perMs = perSecond / 1000;
    this.#now = now;
    this.#tokens = burst;
    this.#at = now();
  }

  take(): boolean {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#perMs);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/** One admitted stream: checks each request against the node bound and the request rate. */
export interface StreamTicket {
  /** Set once the stream was ended by a limit: its further requests are dropped unread. */
  readonly ended: boolean;
  /** Undefined to serve the request; else why the stream must end now (then `ended` is set). */
  check(request: { oversizedNode?: number }): Refusal | undefined;
  /** The stream is gone (however it ended): its place is freed. Idempotent. */
  release(): void;
}

/** Counts open streams per replica and per connection, and hands each admitted stream its ticket. */
export class StreamLimits {
  readonly limits: XdsLimits;
  readonly #now: () => number;
  readonly #perConnection = new Map<string, number>();
  #open = 0;

  constructor(limits: Partial<XdsLimits> = {}, now: () => number = () => performance.now()) {
    this.limits = { ...DEFAULT_XDS_LIMITS, ...limits };
    this.#now = now;
  }

  get open(): number {
    return this.#open;
  }

  /** A new stream from `connection` (its peer address): a ticket, or why it is refused. */
  admit(connection: string): StreamTicket | Refusal {
    const { maxStreams, maxStreamsPerConnection } = this.limits;
    if (this.#open >= maxStreams) {
      return refusal('max_streams', grpc.status.RESOURCE_EXHAUSTED, `this control plane replica serves at most ${maxStreams} ADS streams (serve ${LIMIT_FLAGS.maxStreams}); retry later or on another replica`);
    }
    const onConnection = this.#perConnection.get(connection) ?? 0;
    if (onConnection >= maxStreamsPerConnection) {
      return refusal('max_streams_per_connection', grpc.status.RESOURCE_EXHAUSTED, `at most ${maxStreamsPerConnection} ADS streams per connection (serve ${LIMIT_FLAGS.maxStreamsPerConnection})`);
    }
    this.#open += 1;
    this.#perConnection.set(connection, onConnection + 1);
    return this.#ticket(connection);
  }

  #ticket(connection: string): StreamTicket {
    const { maxNodeBytes, requestBurst, requestsPerSecond } = this.limits;
    const bucket = new TokenBucket(requestBurst, requestsPerSecond, this.#now);
    let ended = false;
    let released = false;
    const end = (found: Refusal) => {
      ended = true;
      return found;
    };
    return {
      get ended() {
        return ended;
      },
      check: (request) => {
        if (ended) return undefined;
        if (request.oversizedNode !== undefined) {
          return end(refusal('node_too_large', grpc.status.INVALID_ARGUMENT, `node is ${request.oversizedNode} bytes encoded; this control plane keeps at most ${maxNodeBytes} (serve ${LIMIT_FLAGS.maxNodeBytes}): shorten its id, cluster or metadata`));
        }
        if (!bucket.take()) {
          return end(refusal('request_rate', grpc.status.RESOURCE_EXHAUSTED, `more than ${requestBurst} requests at once or ${requestsPerSecond} per second on one stream (serve ${LIMIT_FLAGS.requestBurst}, ${LIMIT_FLAGS.requestsPerSecond})`));
        }
        return undefined;
      },
      release: () => {
        if (released) return;
        released = true;
        this.#open -= 1;
        const left = (this.#perConnection.get(connection) ?? 1) - 1;
        if (left > 0) this.#perConnection.set(connection, left);
        else this.#perConnection.delete(connection);
      },
    };
  }
}

export function isRefusal(value: StreamTicket | Refusal): value is Refusal {
  return 'reason' in value;
}

/**
 * Node.extensions (field 9): Envoy lists every extension built into it there, 55-61 KB on Envoy 1.38-1.40,
 * more than any id, cluster or metadata. infermesh uses none of it, so it is dropped before decoding: not
 * counted against the limit, not kept per stream, not echoed by CSDS.
 */
const NODE_EXTENSIONS = 9;

/**
 * Wraps a request decoder so that a Node over `maxBytes` (without its extensions) is never decoded or kept:
 * the request is decoded without it and says how large it was (`oversizedNode`), for the stream to be
 * refused. `nodeField` is the Node's field number: 2 in DiscoveryRequest, 1 in DeltaDiscoveryRequest.
 */
export function boundNode<R>(decode: (bytes: Buffer) => R, nodeField: number, maxBytes: number): (bytes: Buffer) => R | (R & { oversizedNode: number }) {
  return (bytes) => {
    const found = nodeRanges(bytes, nodeField);
    const fits = !found || found.size <= maxBytes;
    if (!found || (fits && found.nodes.every((node) => node.slim === undefined))) return decode(bytes);
    const kept: Buffer[] = [];
    let from = 0;
    for (const node of found.nodes) {
      kept.push(bytes.subarray(from, node.start));
      if (fits) kept.push(node.slim ?? bytes.subarray(node.start, node.end));
      from = node.end;
    }
    kept.push(bytes.subarray(from));
    const request = decode(Buffer.concat(kept));
    return fits ? request : { ...request, oversizedNode: found.size };
  };
}

interface NodeRange {
  start: number;
  end: number;
  /** The field re-encoded without the Node's extensions; undefined when it has none. */
  slim: Buffer | undefined;
}

/**
 * Where the top-level field `field` (length-delimited) lies in `bytes`, and its total payload size less
 * the Node's extensions.
 */
function nodeRanges(bytes: Buffer, field: number): { size: number; nodes: NodeRange[] } | undefined {
  const reader = protobuf.Reader.create(bytes);
  const nodes: NodeRange[] = [];
  let size = 0;
  try {
    while (reader.pos < reader.len) {
      const start = reader.pos;
      const tag = reader.uint32();
      if (tag >>> 3 === field && (tag & 7) === 2) {
        const length = reader.uint32();
        const payload = bytes.subarray(reader.pos, reader.pos + length);
        reader.skip(length);
        const without = withoutField(payload, NODE_EXTENSIONS);
        size += (without ?? payload).length;
        const slim = without && Buffer.concat([protobuf.Writer.create().uint32(tag).uint32(without.length).finish(), without]);
        nodes.push({ start, end: reader.pos, slim });
      } else {
        reader.skipType(tag & 7);
      }
    }
  } catch {
    return undefined; // malformed: the decoder itself reports it
  }
  return nodes.length > 0 ? { size, nodes } : undefined;
}

/** `message` without its top-level fields numbered `field`; undefined when it has none. */
function withoutField(message: Buffer, field: number): Buffer | undefined {
  const reader = protobuf.Reader.create(message);
  const kept: Buffer[] = [];
  let from = 0;
  let dropped = false;
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const tag = reader.uint32();
    reader.skipType(tag & 7);
    if (tag >>> 3 !== field) continue;
    kept.push(message.subarray(from, start));
    from = reader.pos;
    dropped = true;
  }
  if (!dropped) return undefined;
  kept.push(message.subarray(from));
  return Buffer.concat(kept);
}
