/**
 * The first item of the key that occurs most often (the key seen first wins a tie); items without a key
 * do not count.
 */
export function mostCommon<T>(items: Iterable<T>, keyOf: (item: T) => string | undefined): T | undefined {
  const counts = new Map<string, { item: T; count: number }>();
  let best: { item: T; count: number } | undefined;
  for (const item of items) {
    const key = keyOf(item);
    if (key === undefined) continue;
    const entry = counts.get(key) ?? { item, count: 0 };
    entry.count += 1;
    counts.set(key, entry);
    if (!best || entry.count > best.count) best = entry;
  }
  return best?.item;
}
