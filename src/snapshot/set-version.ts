import { hexDigest } from '../util/digest.ts';
import type { EncodedResource } from './encoded-resource.ts';

/*
 * The version of a set of resources without rehashing the set: each resource contributes a 96-bit digest of
 * its name and version, computed once per resource object, and the digests are XORed. The digest is four
 * 24-bit small integers (a plain array costs a third of a typed array per resource, and XOR stays small). XOR needs no sorting,
 * so the result is the same in any order and on every replica; names are unique within a set, so no two
 * equal digests cancel out, and a change to any (name, version) pair changes the result.
 */

const PARTS = 4;

/** What one resource adds to its set's version; resources made here carry it (setDigest), others are looked up. */
export function resourceDigest(name: string, version: string): readonly number[] {
  const hex = hexDigest(`${name}\0${version}`);
  return Array.from({ length: PARTS }, (_, i) => Number.parseInt(hex.slice(i * 6, i * 6 + 6), 16));
}

const digests = new WeakMap<EncodedResource, readonly number[]>();

function digestOf(resource: EncodedResource): readonly number[] {
  if (resource.setDigest) return resource.setDigest;
  let digest = digests.get(resource);
  if (!digest) {
    digest = resourceDigest(resource.name, resource.version);
    digests.set(resource, digest);
  }
  return digest;
}

/** A version string for a set of resources (names unique): order does not matter, any change shows. */
export function versionOf(resources: Iterable<EncodedResource>): string {
  const sum = [0, 0, 0, 0];
  let count = 0;
  for (const resource of resources) {
    const digest = digestOf(resource);
    for (let i = 0; i < PARTS; i += 1) sum[i] = (sum[i] ?? 0) ^ (digest[i] ?? 0);
    count += 1;
  }
  if (count === 0) return 'empty';
  return sum.map((part) => part.toString(16).padStart(6, '0')).join('');
}
