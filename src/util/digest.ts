import { hash } from 'node:crypto';

/*
 * One-shot SHA-256 digests. node:crypto's `hash` is about three times faster than createHash().update()
 * .digest() for the short texts hashed here (a route, a policy, a resource name), which at 10,000 models
 * are hashed tens of thousands of times per build.
 */

/** A short digest standing for a long key text, so a cache keeps 44 characters per entry, not the text. */
export function digestKey(text: string): string {
  return hash('sha256', text, 'base64');
}

/** The SHA-256 of `data` in hex. */
export function hexDigest(data: string | Uint8Array): string {
  return hash('sha256', data, 'hex');
}
