/** The settings flags every rendering command shares (src/cli/settings.ts): here, --body-routing-limit. */
import { describe, expect, it } from 'vitest';
import { settingsFromFlags } from '../../src/cli/settings.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { runCli } from '../support/cli-run.ts';

describe('--body-routing-limit', () => {
  it('defaults to Envoy\'s own 1 MiB buffer', () => {
    expect(settingsFromFlags({}, {}).bodyRoutingLimitBytes).toBe(1_048_576);
    expect(DEFAULT_SETTINGS.bodyRoutingLimitBytes).toBe(1_048_576);
  });

  it.each([['8MiB', 8 * 1024 * 1024], ['512KiB', 512 * 1024], ['2000000', 2_000_000], ['1KiB', 1024], ['64MiB', 64 * 1024 * 1024]])('reads %s', (text, bytes) => {
    expect(settingsFromFlags({ 'body-routing-limit': text }, {}).bodyRoutingLimitBytes).toBe(bytes);
  });

  it.each([['8MB'], ['8 MiB'], ['1000'], ['65MiB'], ['0'], ['big'], ['1.5MiB']])('refuses %s, naming the flag and what is valid', (text) => {
    expect(() => settingsFromFlags({ 'body-routing-limit': text }, {})).toThrow(`--body-routing-limit "${text}" must be a size from 1KiB to 64MiB, in bytes or with KiB or MiB, e.g. 8MiB`);
  });

  it('render raises the sidecar listener\'s buffer to it only where a policy routes by body', async () => {
    const plain = await runCli('render', '--config-dir', 'examples/basic', '--body-routing-limit', '8MiB');
    expect(plain.code, plain.err).toBe(0);
    expect(plain.out).not.toContain('per_connection_buffer_limit_bytes');
    const refused = await runCli('render', '--config-dir', 'examples/basic', '--body-routing-limit', '8MB');
    expect(refused.code).toBe(1); // as for every settings flag (--sidecar-port too)
    expect(refused.err).toContain('--body-routing-limit "8MB" must be a size');
  });
});
