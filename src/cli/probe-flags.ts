import { parseDuration } from '../util/duration.ts';
import { wholeNumberFlag } from './usage.ts';

/** How `serve` asks model servers which models each pod has loaded (src/probe; README "Per-model readiness"). */
export interface ProbeSettings {
  enabled: boolean;
  intervalMs: number;
  timeoutMs: number;
  concurrency: number;
}

export const DEFAULT_PROBE_SETTINGS: ProbeSettings = { enabled: true, intervalMs: 5_000, timeoutMs: 2_000, concurrency: 32 };

export const PROBE_OPTIONS = {
  'no-probes': { type: 'boolean' },
  'probe-interval': { type: 'string' },
  'probe-timeout': { type: 'string' },
  'probe-concurrency': { type: 'string' },
} as const;

const d = DEFAULT_PROBE_SETTINGS;
export const PROBE_HELP = `  --no-probes             never ask model servers which models they have loaded (route by pod
                          readiness only, for every model; a policy can switch it off for one model)
  --probe-interval D      how often each Triton / TF Serving pod is asked (default ${d.intervalMs / 1000}s, +-20% jitter)
  --probe-timeout D       a probe that takes longer fails (default ${d.timeoutMs / 1000}s)
  --probe-concurrency N   probes in flight at once, across all pods (default ${d.concurrency})
`;

export interface ProbeFlags {
  'no-probes'?: boolean;
  'probe-interval'?: string;
  'probe-timeout'?: string;
  'probe-concurrency'?: string;
}

function duration(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const parsed = parseDuration(text);
  if (!parsed.ok || parsed.ms < 10) throw new Error(`--${flag} "${text}" must be a duration of at least 10ms, e.g. 5s or 500ms`);
  return parsed.ms;
}

/** The probe settings the flags give (the rest default); throws with the flag's name on a bad value. */
export function probeSettingsFromFlags(values: ProbeFlags): ProbeSettings {
  const concurrencyText = values['probe-concurrency'];
  const concurrency = concurrencyText === undefined ? d.concurrency : wholeNumberFlag('--probe-concurrency', concurrencyText);
  const intervalMs = duration('probe-interval', values['probe-interval'], d.intervalMs);
  const timeoutMs = duration('probe-timeout', values['probe-timeout'], Math.min(d.timeoutMs, intervalMs));
  return { enabled: !values['no-probes'], intervalMs, timeoutMs, concurrency };
}
