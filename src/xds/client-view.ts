import type { ResourceKind } from '../envoy/type-urls.ts';
import type { EncodedResource } from '../snapshot/codec.ts';
import type { Snapshot } from '../snapshot/snapshot.ts';
import type { NodeInfo } from './messages.ts';
import type { SubscriptionSelector } from './subscription.ts';

/** A client's refusal of one response, kept until it accepts what that response carried. */
export interface NackRecord {
  /** The nonce of the response the client rejected, and the version that response carried. */
  nonce: string;
  version: string;
  /** The snapshot the rejected response came from. */
  sequence: number;
  /** The version the client still runs (for state of the world, its request's version_info). */
  keptVersion: string;
  code: number;
  message: string;
  at: Date;
}

/**
 * What the control plane knows of one client's copy of one type, the same for state of the world and delta,
 * so rollout, CSDS and status read both alike.
 */
export interface TypeSyncView {
  readonly subscription: SubscriptionSelector;
  /** Of the last response: its version (the type's, or for delta the snapshot's), nonce, time and snapshot. */
  readonly sentVersion?: string;
  readonly sentNonce?: string;
  readonly sentAt?: Date;
  readonly sentSequence?: number;
  /** Every resource the client should hold once it applies what it was sent. */
  readonly heldResources: ReadonlyMap<string, EncodedResource>;
  readonly ackedVersion?: string;
  readonly ackedAt?: Date;
  /** Every resource the client has accepted and runs. */
  readonly ackedResources: ReadonlyMap<string, EncodedResource>;
  /** The latest snapshot whose content for this type the client has accepted (it may have been unchanged). */
  readonly syncedThrough?: number;
  readonly lastNack?: NackRecord;
  /** The NACK that still stands: the client has not accepted, since, what it refused. */
  readonly standingNack: NackRecord | undefined;
  /** Delta versions each resource (what Envoy's config dump shows); state of the world versions the type. */
  readonly versionsPerResource: boolean;
}

/** One ADS stream of either protocol, as the server, rollout and CSDS see it. */
export interface ClientStream {
  readonly id: string;
  readonly connectedAt: Date;
  readonly node: NodeInfo | undefined;
  syncState(): ReadonlyMap<ResourceKind, TypeSyncView>;
  onSnapshot(snapshot: Snapshot): void;
}

/** What a stream reports as it goes; the server turns it into metrics and (sampled) logs. */
export interface StreamEvents<R> {
  push(kind: ResourceKind, resourceCount: number, bytes: number): void;
  ack(kind: ResourceKind, node: NodeInfo | undefined, version: string): void;
  nack(kind: ResourceKind, node: NodeInfo | undefined, nack: NackRecord): void;
  ignored(reason: string, request: R): void;
}
