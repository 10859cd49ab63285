/** "Did you mean" suggestions by edit distance. */

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(i === 0 ? j : 0);
    rows.push(row);
  }
  const at = (i: number, j: number): number => rows[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] ?? [];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      row[j] = best;
    }
  }
  return at(a.length, b.length);
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
  const wanted = normalize(input);
  const threshold = Math.max(2, Math.floor(wanted.length / 3));
  let best: { name: string; distance: number } | undefined;
  for (const names of candidates) {
    for (const alias of names) {
      const distance = editDistance(wanted, normalize(alias));
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
