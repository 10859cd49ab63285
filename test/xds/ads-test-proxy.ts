import protobuf from 'protobufjs';
import { RESOURCE_KINDS, TYPE_URLS, kindOfTypeUrl, type ResourceKind } from '../../src/envoy/type-urls.ts';
import type { EncodedResource } from '../../src/snapshot/codec.ts';
import { Snapshot } from '../../src/snapshot/snapshot.ts';
import type { XdsServer } from '../../src/xds/server.ts';
import { RawAdsClient, type RawResponse } from '../support/raw-ads-client.ts';
import { RawDeltaClient, type RawDeltaResponse } from '../support/raw-delta-client.ts';

export type Flavour = 'sotw' | 'delta';

/** One response as the proxy saw it, whatever the protocol: resources by name (content), and removals. */
export interface Seen {
  kind: ResourceKind;
  nonce: string;
  version: string;
  resources: ReadonlyMap<string, string>;
  removed: readonly string[];
}

/** A resource whose Any payload spells `name=content`, so a raw client can read back what it was sent. */
function resource(kind: ResourceKind, name: string, content: string): EncodedResource {
  const any = protobuf.Writer.create().uint32((1 << 3) | 2).string(TYPE_URLS[kind]).uint32((2 << 3) | 2).bytes(Buffer.from(`${name}=${content}`)).finish();
  return { name, typeUrl: TYPE_URLS[kind], version: `${name}:${content}`, any, json: { name } };
}

/**
 * A mesh in miniature: each model has a cluster and endpoints named after it, and one route configuration
 * "r" names the clusters of `routed` (by default all of them). `content` changes every cluster and its
 * endpoints, `listener` the one listener, `routeTag` the route configuration without changing what it names.
 */
export function meshSnapshot(sequence: number, models: readonly string[], options: { routed?: readonly string[]; content?: string; listener?: string; routeTag?: string } = {}): Snapshot {
  const content = options.content ?? '1';
  const sets = new Map<ResourceKind, Map<string, EncodedResource>>(RESOURCE_KINDS.map((kind) => [kind, new Map()]));
  for (const model of models) {
    sets.get('cluster')!.set(model, resource('cluster', model, content));
    sets.get('endpoint')!.set(model, resource('endpoint', model, content));
  }
  sets.get('listener')!.set('l', resource('listener', 'l', options.listener ?? '1'));
  const tag = options.routeTag ? `#${options.routeTag}` : '';
  sets.get('route')!.set('r', resource('route', 'r', `${(options.routed ?? models).join(',')}${tag}`));
  return new Snapshot(String(sequence), sequence, sets);
}

/** The Any payload of a resource made by `resource`: its name and content. */
function nameAndContent(any: { value: Uint8Array }): [string, string] {
  const value = Buffer.from(any.value).toString();
  const at = value.indexOf('=');
  return [value.slice(0, at), value.slice(at + 1)];
}

/**
 * A proxy driven by hand over a raw SotW or delta ADS client: it subscribes, ACKs and NACKs only when told,
 * so a test can hold it at any point of Envoy's sequence (CDS, then EDS for the new clusters, then RDS).
 */
export class TestProxy {
  readonly flavour: Flavour;
  readonly nodeId: string;
  readonly #server: XdsServer;
  readonly #sotw: RawAdsClient | undefined;
  readonly #delta: RawDeltaClient | undefined;
  readonly #names = new Map<ResourceKind, readonly string[] | '*'>();
  readonly #acked = new Map<ResourceKind, string>();
  #pings = 0;

  constructor(root: protobuf.Root, server: XdsServer, port: number, flavour: Flavour, nodeId: string) {
    this.flavour = flavour;
    this.nodeId = nodeId;
    this.#server = server;
    const address = `127.0.0.1:${port}`;
    if (flavour === 'sotw') this.#sotw = new RawAdsClient(root, address);
    else this.#delta = new RawDeltaClient(root, address);
  }

  /** Every response so far, oldest first. */
  get seen(): Seen[] {
    if (this.#sotw) return this.#sotw.received.map((r) => this.#fromSotw(r));
    return (this.#delta?.received ?? []).map((r) => this.#fromDelta(r));
  }

  /** The responses of one kind received after the first `since` responses. */
  since(since: number, kind: ResourceKind): Seen[] {
    return this.seen.slice(since).filter((r) => r.kind === kind);
  }

  latest(kind: ResourceKind): Seen | undefined {
    return this.seen.filter((r) => r.kind === kind).at(-1);
  }

  /** Waits (up to 5 s) for a response of `kind` after the first `since` that satisfies `test`. */
  async next(kind: ResourceKind, since: number, test: (r: Seen) => boolean = () => true, what = `a ${kind} response`): Promise<Seen> {
    const match = (r: Seen) => r.kind === kind && test(r);
    const found = this.#sotw
      ? this.#sotw.next((r) => match(this.#fromSotw(r)), since).then((r) => this.#fromSotw(r))
      : this.#delta!.next((r) => match(this.#fromDelta(r)), since).then((r) => this.#fromDelta(r));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.flavour} proxy ${this.nodeId}: no ${what} within 5 s`)), 5_000);
    });
    try {
      return await Promise.race([found, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Subscribes to `kind` ('*' = wildcard), or changes the subscription, as Envoy does. */
  subscribe(kind: ResourceKind, names: readonly string[] | '*'): void {
    const before = this.#names.get(kind);
    this.#names.set(kind, names);
    const node = { id: this.nodeId };
    if (this.#sotw) {
      const latest = this.latest(kind);
      this.#sotw.send({ node, type_url: TYPE_URLS[kind], resource_names: names === '*' ? [] : names, version_info: this.#acked.get(kind) ?? '', response_nonce: latest?.nonce ?? '' });
      return;
    }
    const [was, now] = [new Set(before === '*' ? ['*'] : (before ?? [])), new Set(names === '*' ? ['*'] : names)];
    this.#delta!.send({
      node,
      type_url: TYPE_URLS[kind],
      resource_names_subscribe: [...now].filter((name) => !was.has(name)),
      resource_names_unsubscribe: [...was].filter((name) => !now.has(name)),
    });
  }

  /**
   * Asks for the current subscription again and gets a full answer: in SotW the names plus one that does not
   * exist (a repeated request is not answered again; a changed subscription is, in full), in delta the names
   * subscribed again ("the server must still provide those resources"). What the server would give this proxy
   * now, without changing which resources it subscribes to.
   */
  askAgain(kind: ResourceKind): void {
    const names = this.#names.get(kind) ?? [];
    if (this.#sotw) {
      const asked = [...(names === '*' ? ['*'] : names), `again-${++this.#pings}`];
      this.#names.set(kind, asked);
      this.#sotw.send({ type_url: TYPE_URLS[kind], resource_names: asked, version_info: this.#acked.get(kind) ?? '', response_nonce: '' });
    } else this.#delta!.send({ type_url: TYPE_URLS[kind], resource_names_subscribe: names === '*' ? ['*'] : names });
  }

  /** Accepts the latest response of `kind`. */
  ack(kind: ResourceKind): void {
    this.#answer(kind);
  }

  /** Rejects the latest response of `kind`: the proxy keeps what it accepted before. */
  nack(kind: ResourceKind): void {
    this.#answer(kind, 'rejected by test');
  }

  #answer(kind: ResourceKind, error?: string): void {
    const latest = this.latest(kind);
    if (!latest) throw new Error(`no ${kind} response to answer`);
    const detail = error ? { error_detail: { code: 3, message: error } } : {};
    if (this.#delta) {
      this.#delta.send({ type_url: TYPE_URLS[kind], response_nonce: latest.nonce, ...detail });
      return;
    }
    if (!error) this.#acked.set(kind, latest.version);
    const names = this.#names.get(kind) ?? [];
    this.#sotw!.send({ type_url: TYPE_URLS[kind], resource_names: names === '*' ? [] : names, version_info: this.#acked.get(kind) ?? '', response_nonce: latest.nonce, ...detail });
  }

  /**
   * Resolves once the server has handled every request sent before it: a request that always gets an answer
   * (a new listener name that does not exist, which changes the subscription in either protocol). Listeners
   * play no part here.
   */
  async ping(): Promise<void> {
    const since = this.seen.length;
    const marker = `ping-${++this.#pings}`;
    if (this.#sotw) {
      const names = this.#names.get('listener') ?? '*';
      this.#sotw.send({ type_url: TYPE_URLS.listener, resource_names: [...(names === '*' ? ['*'] : names), marker], version_info: this.#acked.get('listener') ?? '', response_nonce: '' });
      await this.next('listener', since);
      return;
    }
    this.#delta!.send({ type_url: TYPE_URLS.listener, resource_names_subscribe: [marker] });
    await this.next('listener', since, (r) => r.removed.includes(marker));
  }

  /** What the server last sent this proxy for `kind` (its nonce), read from the server's own stream state. */
  sentNonce(kind: ResourceKind): string | undefined {
    const stream = this.#server.streams().find((s) => s.node?.id === this.nodeId);
    return stream?.syncState().get(kind)?.sentNonce;
  }

  close(): void {
    this.#sotw?.close();
    this.#delta?.close();
  }

  #fromSotw(r: RawResponse): Seen {
    const kind = kindOfTypeUrl(r.type_url)!;
    return { kind, nonce: r.nonce, version: r.version_info, resources: new Map(r.resources.map(nameAndContent)), removed: [] };
  }

  #fromDelta(r: RawDeltaResponse): Seen {
    const kind = kindOfTypeUrl(r.type_url)!;
    const resources = new Map(r.resources.map((x) => [x.name, nameAndContent(x.resource)[1]] as const));
    return { kind, nonce: r.nonce, version: r.system_version_info, resources, removed: r.removed_resources };
  }
}
