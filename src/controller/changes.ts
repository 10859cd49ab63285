import type { ModelStatus } from './reconcile.ts';

export interface ModelChanges {
  added: string[];
  changed: string[];
  removed: string[];
  rejected: string[];
}

/** What a reconcile changed, for the hot-reload log line. Rejected lists models whose latest policy does not serve. */
export function diffStatuses(before: readonly ModelStatus[], after: readonly ModelStatus[]): ModelChanges {
  const serving = (list: readonly ModelStatus[]) =>
    new Map(list.filter((s) => s.state === 'serving' || s.state === 'stale').map((s) => [s.model, s.fingerprint]));
  const previous = serving(before);
  const next = serving(after);
  const previousProblems = new Map(before.map((s) => [`${s.state}|${s.model}`, s.problems.join('\n')]));
  return {
    added: [...next.keys()].filter((model) => !previous.has(model)),
    changed: [...next.entries()].filter(([model, print]) => previous.has(model) && previous.get(model) !== print).map(([model]) => model),
    removed: [...previous.keys()].filter((model) => !next.has(model)),
    rejected: after
      .filter((s) => s.state !== 'serving' && previousProblems.get(`${s.state}|${s.model}`) !== s.problems.join('\n'))
      .map((s) => s.model),
  };
}

export function hasChanges(changes: ModelChanges): boolean {
  return changes.added.length + changes.changed.length + changes.removed.length + changes.rejected.length > 0;
}
