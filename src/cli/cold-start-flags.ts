import { DEFAULT_MAX_HELD, DEFAULT_SYNC_GRACE_MS } from '../coldstart/holds.ts';
import { parseDuration } from '../util/duration.ts';
import { wholeNumberFlag } from './usage.ts';

/** How many requests a replica holds for coldStart models, and how long it waits for a sidecar's ACK. */
export interface ColdStartLimits {
  maxHeld: number;
  syncGraceMs: number;
}

export const DEFAULT_COLD_START_LIMITS: ColdStartLimits = { maxHeld: DEFAULT_MAX_HELD, syncGraceMs: DEFAULT_SYNC_GRACE_MS };

export const COLD_START_OPTIONS = {
  'cold-start-max-held': { type: 'string' },
  'cold-start-sync-grace': { type: 'string' },
} as const;

const d = DEFAULT_COLD_START_LIMITS;
export const COLD_START_HELP = `  --cold-start-max-held N requests this replica holds at once for coldStart models; more are answered
                          at once with 503 / UNAVAILABLE (default ${d.maxHeld})
  --cold-start-sync-grace D
                          once a held model is ready, how long to wait for the holding sidecar's ACK
                          before letting its requests go anyway (default ${d.syncGraceMs / 1000}s, 0s..1m)
`;

export interface ColdStartFlags {
  'cold-start-max-held'?: string;
  'cold-start-sync-grace'?: string;
}

const MAX_SYNC_GRACE_MS = 60_000;

/** The limits the flags give (the rest default); throws with the flag's name on a bad value. */
export function coldStartLimitsFromFlags(values: ColdStartFlags): ColdStartLimits {
  const heldText = values['cold-start-max-held'];
  const maxHeld = heldText === undefined ? d.maxHeld : wholeNumberFlag('--cold-start-max-held', heldText);
  const graceText = values['cold-start-sync-grace'];
  if (graceText === undefined) return { maxHeld, syncGraceMs: d.syncGraceMs };
  const grace = parseDuration(graceText);
  if (!grace.ok || grace.ms > MAX_SYNC_GRACE_MS) {
    throw new Error(`--cold-start-sync-grace "${graceText}" must be a duration from 0s to 1m, e.g. 2s or 500ms`);
  }
  return { maxHeld, syncGraceMs: grace.ms };
}
