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
  /** Sampled logs: per event kind, the first line then one per interval per stream, `logsPerInterval` across streams. */
  logIntervalMs: number;
  logsPerInterval: number;
}

export const DEFAULT_XDS_LIMITS: XdsLimits = {
  maxStreams: 10_000,
  maxStreamsPerConnection: 100,
  maxNodeBytes: 16 * 1024,
  requestBurst: 2_000,
  requestsPerSecond: 200,
  logIntervalMs: 10_000,
  logsPerInterval: 20,
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
 * Wraps a request decoder so that a Node over `maxBytes` is never decoded or kept: the request is decoded
 * without it and says how large it was (`oversizedNode`), for the stream to be refused. `nodeField` is the
 * Node's field number: 2 in DiscoveryRequest, 1 in DeltaDiscoveryRequest (discovery.proto).
 */
export function boundNode<R>(decode: (bytes: Buffer) => R, nodeField: number, maxBytes: number): (bytes: Buffer) => R | (R & { oversizedNode: number }) {
  return (bytes) => {
    const found = nodeRanges(bytes, nodeField);
    if (!found || found.size <= maxBytes) return decode(bytes);
    const kept: Buffer[] = [];
    let from = 0;
    for (const [start, end] of found.ranges) {
      kept.push(bytes.subarray(from, start));
      from = end;
    }
    kept.push(bytes.subarray(from));
    return { ...decode(Buffer.concat(kept)), oversizedNode: found.size };
  };
}

/** Where the top-level field `field` (length-delimited) lies in `bytes`, and its total payload size. */
function nodeRanges(bytes: Buffer, field: number): { size: number; ranges: [number, number][] } | undefined {
  const reader = protobuf.Reader.create(bytes);
  const ranges: [number, number][] = [];
  let size = 0;
  try {
    while (reader.pos < reader.len) {
      const start = reader.pos;
      const tag = reader.uint32();
      if (tag >>> 3 === field && (tag & 7) === 2) {
        const length = reader.uint32();
        reader.skip(length);
        size += length;
        ranges.push([start, reader.pos]);
      } else {
        reader.skipType(tag & 7);
      }
    }
  } catch {
    return undefined; // malformed: the decoder itself reports it
  }
  return ranges.length > 0 ? { size, ranges } : undefined;
}
