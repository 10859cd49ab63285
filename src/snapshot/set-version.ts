import { createHash } from 'node:crypto';
import type { EncodedResource } from './encoded-resource.ts';

/*
 * The version of a set of resources without rehashing the set: each resource contributes a 128-bit digest of
 * its name and version, computed once per resource object, and the digests are XORed. XOR needs no sorting,
 * so the result is the same in any order and on every replica; names are unique within a set, so no two
 * equal digests cancel out, and a change to any (name, version) pair changes the result.
 */

const digests = new WeakMap<EncodedResource, Uint32Array>();

function digestOf(resource: EncodedResource): Uint32Array {
  let digest = digests.get(resource);
  if (!digest) {
    const bytes = createHash('sha256').update(resource.name).update('\0').update(resource.version).digest();
    digest = new Uint32Array(bytes.buffer, bytes.byteOffset, 4);
    digests.set(resource, digest);
  }
  return digest;
}

/** A version string for a set of resources (names unique): order does not matter, any change shows. */
export function versionOf(resources: Iterable<EncodedResource>): string {
  const sum = new Uint32Array(4);
  let count = 0;
  for (const resource of resources) {
    const digest = digestOf(resource);
    for (let i = 0; i < 4; i += 1) sum[i]! ^= digest[i]!;
    count += 1;
  }
  if (count === 0) return 'empty';
  return Buffer.from(sum.buffer).toString('hex');
}
