/** "Did you mean" for unknown field names and enum values. */

export function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** Case, `_` and `-` do not matter when comparing: retry_on and RetryOn both mean retryOn. */
function normalize(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, '');
}

/** The candidate closest to `input`, if close enough to be a plausible typo. Ties go to the earlier candidate. */
export function nearest(input: string, candidates: readonly string[]): string | undefined {
  const wanted = normalize(input);
  const exact = candidates.find((candidate) => normalize(candidate) === wanted);
  if (exact !== undefined) return exact;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const normalized = normalize(candidate);
    const distance = levenshtein(wanted, normalized);
    // A distance as long as the candidate itself means nothing in common.
    if (distance < bestDistance && distance < normalized.length) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const allowed = Math.max(2, Math.floor(wanted.length / 3));
  return bestDistance <= allowed ? best : undefined;
}
