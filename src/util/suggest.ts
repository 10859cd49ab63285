/** "Did you mean" suggestions by edit distance. */

/**
 * Names longer than this get no suggestion: a typo of a field, enum or type name is short, and the distance costs
 * time proportional to the product of the lengths (a megabyte-long key must not cost seconds).
 */
export const MAX_SUGGESTION_INPUT = 128;

/**
 * Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions.
 * Three rolling rows, so memory is linear in the shorter input.
 */
export function editDistance(a: string, b: string): number {
  if (a.length < b.length) [a, b] = [b, a];
  let beforePrevious = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  let current = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, (beforePrevious[j - 2] ?? 0) + 1);
      current[j] = best;
    }
    [beforePrevious, previous, current] = [previous, current, beforePrevious];
  }
  return previous[b.length] ?? 0;
}

/** Case and underscore insensitive: `Stat_Prefix`, `statPrefix` and `stat_prefix` compare equal. */
function normalize(name: string): string {
  return name.toLowerCase().replace(/[_-]/g, '');
}

/**
 * The candidate closest to `input`, if it is close enough to be a plausible typo. Each candidate may
 * have aliases (such as a json_name) that are compared too; the candidate itself is returned.
 */
export function closestMatch(input: string, candidates: ReadonlyArray<readonly [string, ...string[]]>): string | undefined {
  if (input.length > MAX_SUGGESTION_INPUT) return undefined;
  const wanted = normalize(input);
  const threshold = Math.max(2, Math.floor(wanted.length / 3));
  let best: { name: string; distance: number } | undefined;
  for (const names of candidates) {
    for (const alias of names) {
      const other = normalize(alias);
      // The distance is at least the difference in length: skip what cannot be close enough.
      if (Math.abs(other.length - wanted.length) > threshold) continue;
      const distance = editDistance(wanted, other);
      if (distance <= threshold && distance < wanted.length && (best === undefined || distance < best.distance)) {
        best = { name: names[0], distance };
      }
    }
  }
  return best?.name;
}

/** closestMatch over plain names: the policy layer's unknown fields and enum values. */
export function nearest(input: string, candidates: readonly string[]): string | undefined {
  return closestMatch(input, candidates.map((candidate) => [candidate] as const));
}
