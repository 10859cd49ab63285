import { wildcardCapable, type ResourceKind } from '../envoy/type-urls.ts';

/** What a client subscribes to for one type as rollout and CSDS read it: everything, or these names. */
export type SubscriptionSelector = ReadonlySet<string> | 'wildcard';

/** What a delta request changed, so the stream can answer it ("Unsubscribing from Resources"). */
export interface SubscriptionDelta {
  /** Names subscribed by this request (answered even if the client seems to hold them). */
  subscribed: readonly string[];
  /** Names unsubscribed while the wildcard still covers them: the client must hear whether they exist. */
  unsubscribedUnderWildcard: readonly string[];
  /** The wildcard was turned on by this request: whatever it covers and the client lacks must go out. */
  wildcardAdded: boolean;
}

const NOTHING: ReadonlySet<string> = new Set();

/** The set each frozen (decoded, shared) name list makes, so a thousand streams naming one list share one set. */
const setsOfLists = new WeakMap<readonly string[], ReadonlySet<string>>();
function namedSet(names: readonly string[]): ReadonlySet<string> {
  const known = setsOfLists.get(names);
  if (known) return known;
  const named = new Set(names.filter((name) => name !== '*'));
  if (Object.isFrozen(names)) setsOfLists.set(names, named);
  return named;
}

/**
 * One client's subscription to one type, by the xDS protocol's rules for both state of the world and delta
 * (xds_protocol.rst, "How the client specifies what resources to return"; go-control-plane's
 * pkg/server/stream/v3/subscription.go reads them the same way):
 * - LDS, CDS and SRDS start as a legacy wildcard when the first request names nothing. That lasts only as long
 *   as the client names nothing: once it names a resource or "*", an empty list means no resources at all.
 * - "*" subscribes explicitly to everything; explicit names may sit beside it.
 * - State of the world: each request carries the whole list. Delta: requests add and remove names.
 */
export class Subscription {
  #legacyWildcard: boolean;
  #wildcard: boolean;
  #names: ReadonlySet<string>;
  /** Delta's own name set, changed in place (state-of-the-world sets may be shared between streams). */
  #ownNames: Set<string> | undefined;
  /** The list the last state-of-the-world request named: the decoder hands out the same array for the same list. */
  #lastList: readonly string[] | undefined;

  private constructor(legacyWildcard: boolean) {
    this.#legacyWildcard = legacyWildcard;
    this.#wildcard = legacyWildcard;
    this.#names = NOTHING;
  }

  /** A state-of-the-world subscription from the first request of a type. */
  static sotw(kind: ResourceKind, names: readonly string[], intern?: (names: ReadonlySet<string>) => ReadonlySet<string>): Subscription {
    const subscription = new Subscription(names.length === 0 && wildcardCapable(kind));
    subscription.replace(names, intern);
    return subscription;
  }

  /** A delta subscription from the first request of a type (an unsubscribe-only request is not legacy). */
  static delta(kind: ResourceKind, subscribe: readonly string[], unsubscribe: readonly string[], intern?: (name: string) => string): Subscription {
    const subscription = new Subscription(subscribe.length === 0 && unsubscribe.length === 0 && wildcardCapable(kind));
    subscription.update(subscribe, unsubscribe, intern);
    return subscription;
  }

  get wildcard(): boolean {
    return this.#wildcard;
  }

  /** Names subscribed explicitly, also while wildcard. */
  get names(): ReadonlySet<string> {
    return this.#names;
  }

  get selector(): SubscriptionSelector {
    return this.#wildcard ? 'wildcard' : this.#names;
  }

  /** Whether the subscription asks for this name (before hidden resources are left out of a wildcard). */
  covers(name: string): boolean {
    return this.#wildcard || this.#names.has(name);
  }

  /**
   * State of the world: the request's list replaces the subscription. Returns whether what it selects changed.
   * `intern` may swap the new name set for an equal one shared by other streams.
   */
  replace(names: readonly string[], intern: (names: ReadonlySet<string>) => ReadonlySet<string> = (set) => set): boolean {
    // The very list the last request named (an ACK repeats it): replacing with it again changes nothing.
    if (names === this.#lastList) return false;
    this.#lastList = names;
    if (this.#legacyWildcard && names.length === 0) return false;
    this.#legacyWildcard = false;
    const wildcard = names.includes('*');
    const named = namedSet(names);
    const changed = wildcard !== this.#wildcard || !sameNames(named, this.#names);
    if (!changed) return false;
    this.#wildcard = wildcard;
    this.#names = intern(named);
    this.#ownNames = undefined;
    return true;
  }

  /**
   * Delta: names subscribed and unsubscribed by one request, applied in that order. `intern` may swap a name
   * for an equal string other streams share.
   */
  update(subscribe: readonly string[], unsubscribe: readonly string[], intern: (name: string) => string = (name) => name): SubscriptionDelta {
    const delta = { subscribed: [] as string[], unsubscribedUnderWildcard: [] as string[], wildcardAdded: false };
    this.#lastList = undefined;
    if (this.#legacyWildcard && subscribe.length === 0 && unsubscribe.length === 0) return delta;
    // The legacy wildcard turns into an explicit one: it stays until "*" is unsubscribed.
    this.#legacyWildcard = false;
    const names = (this.#ownNames ??= new Set(this.#names));
    for (const name of subscribe) {
      if (name !== '*') {
        names.add(intern(name));
        delta.subscribed.push(name);
      } else if (!this.#wildcard) {
        this.#wildcard = delta.wildcardAdded = true;
      }
    }
    for (const name of unsubscribe) {
      if (name === '*') this.#wildcard = false;
      else if (names.delete(name) && this.#wildcard) delta.unsubscribedUnderWildcard.push(name);
    }
    this.#names = names;
    return delta;
  }
}

function sameNames(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const name of a) if (!b.has(name)) return false;
  return true;
}
