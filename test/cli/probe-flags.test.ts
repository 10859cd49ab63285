import { describe, expect, it } from 'vitest';
import { DEFAULT_PROBE_SETTINGS, probeSettingsFromFlags } from '../../src/cli/probe-flags.ts';

describe('serve probe flags', () => {
  it('default to probing every 5s, 2s timeout, 32 at once', () => {
    expect(probeSettingsFromFlags({})).toEqual(DEFAULT_PROBE_SETTINGS);
    expect(DEFAULT_PROBE_SETTINGS).toEqual({ enabled: true, intervalMs: 5000, timeoutMs: 2000, concurrency: 32 });
  });

  it('read durations and counts, and --no-probes switches probing off', () => {
    expect(probeSettingsFromFlags({ 'probe-interval': '300ms', 'probe-concurrency': '4', 'no-probes': true })).toEqual({ enabled: false, intervalMs: 300, timeoutMs: 300, concurrency: 4 });
    expect(probeSettingsFromFlags({ 'probe-interval': '1m', 'probe-timeout': '10s' })).toMatchObject({ intervalMs: 60_000, timeoutMs: 10_000 });
  });

  it('name the flag and what would be valid on a bad value', () => {
    expect(() => probeSettingsFromFlags({ 'probe-interval': '5' })).toThrow('--probe-interval "5" must be a duration of at least 10ms, e.g. 5s or 500ms');
    expect(() => probeSettingsFromFlags({ 'probe-timeout': '1ms' })).toThrow('--probe-timeout "1ms" must be a duration');
    expect(() => probeSettingsFromFlags({ 'probe-concurrency': '0' })).toThrow('--probe-concurrency "0" must be a whole number of at least 1');
    expect(() => probeSettingsFromFlags({ 'probe-concurrency': 'many' })).toThrow('--probe-concurrency "many"');
  });
});
