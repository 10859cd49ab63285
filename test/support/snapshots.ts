import { TYPE_URLS, type ResourceKind } from '../../src/envoy/type-urls.ts';
import type { EncodedResource } from '../../src/snapshot/codec.ts';
import { Snapshot } from '../../src/snapshot/snapshot.ts';

/** A stand-in resource whose bytes and version spell out its name and content, for protocol tests. */
export function fakeResource(kind: ResourceKind, name: string, content: string): EncodedResource {
  return { name, typeUrl: TYPE_URLS[kind], version: `${name}:${content}`, any: Buffer.from(`${name}=${content}`), json: { name } };
}

/**
 * A snapshot from `{kind: [[name, content], ...]}`; `hidden` entries are `kind/name` hidden from wildcard.
 * Its sequence is the version when that is a number (as the controller publishes them), else 0.
 */
export function fakeSnapshot(version: string, spec: Partial<Record<ResourceKind, [string, string][]>>, hidden: string[] = [], sequence = /^\d+$/.test(version) ? Number(version) : 0): Snapshot {
  const sets = new Map<ResourceKind, Map<string, EncodedResource>>();
  for (const [kind, entries] of Object.entries(spec) as [ResourceKind, [string, string][]][]) {
    sets.set(kind, new Map(entries.map(([name, content]) => [name, fakeResource(kind, name, content)])));
  }
  return new Snapshot(version, sequence, sets, new Set(hidden));
}
