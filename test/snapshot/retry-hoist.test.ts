import { describe, expect, it } from 'vitest';
import { hostRetryPolicy, policyRun, underHostPolicy } from '../../src/snapshot/retry-hoist.ts';
import { Pieces } from '../../src/snapshot/pieces.ts';
import { routeRetryPolicy } from '../../src/snapshot/route-bytes.ts';
import { mostCommon } from '../../src/util/most-common.ts';

/** A Route whose RouteAction (field 2) carries RetryPolicy bytes (field 9), or none. */
function route(policy: Uint8Array | undefined, cluster: string): Uint8Array {
  const action = new Pieces().field(1, cluster);
  if (policy) action.field(9, policy);
  return new Pieces().field(2, action).finish();
}

const POLICIES = [new Uint8Array(0), new Pieces().field(1, '5xx').finish(), new Pieces().field(1, 'reset').finish(), undefined];
const hex = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : Buffer.from(bytes).toString('hex'));

/** A seeded generator, so a failure names the case that broke. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('retry policy hoist over per-model runs', () => {
  it('picks what the flat most-common pick over every route picks, ties included (500 random tables)', () => {
    for (let seed = 1; seed <= 500; seed += 1) {
      const next = random(seed);
      const runs = Array.from({ length: 1 + Math.floor(next() * 6) }, (_, r) =>
        Array.from({ length: Math.floor(next() * 5) }, (_, i) => route(POLICIES[Math.floor(next() * POLICIES.length)], `c${r}-${i}`)),
      );
      const flat = runs.flat();
      const expected = mostCommon(flat, (r) => hex(routeRetryPolicy(r)));
      const chosen = hostRetryPolicy(runs.map(policyRun));
      expect(hex(chosen?.bytes), `seed ${seed}`).toBe(expected && hex(routeRetryPolicy(expected)));
    }
  });

  it('drops the policy only from routes that carry exactly the hoisted one', () => {
    const run = policyRun([route(POLICIES[1], 'a'), route(POLICIES[2], 'b'), route(undefined, 'c'), route(POLICIES[1], 'd')]);
    const host = hostRetryPolicy([run]);
    expect(hex(host?.bytes)).toBe(hex(POLICIES[1]));
    const kept = run.routes.map((_, i) => routeRetryPolicy(underHostPolicy(run, i, host)));
    expect(kept.map(hex)).toEqual([undefined, hex(POLICIES[2]), undefined, undefined]);
    expect(underHostPolicy(run, 1, host)).toBe(run.routes[1]);
  });

  it('hoists nothing when no route carries a policy', () => {
    expect(hostRetryPolicy([policyRun([route(undefined, 'a')]), policyRun([])])).toBeUndefined();
  });
});
