/** `infermesh bootstrap --zone`: the node's locality zone (zone failover), written only with a node section. */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli as run } from '../support/cli-run.ts';

describe('infermesh bootstrap --zone', () => {
  it('writes node.locality.zone next to the node id and cluster', async () => {
    const { code, out } = await run('bootstrap', '--node-id', 'dev.default', '--zone', 'eu-west-1a');
    expect(code).toBe(0);
    expect((parse(out) as { node: unknown }).node).toEqual({ id: 'dev.default', cluster: 'default', locality: { zone: 'eu-west-1a' } });
  });

  it('writes no locality without --zone', async () => {
    const { out } = await run('bootstrap', '--node-id', 'dev.default');
    expect((parse(out) as { node: unknown }).node).toEqual({ id: 'dev.default', cluster: 'default' });
  });

  it('refuses --zone without --node-id, and an empty zone (exit 2, the flag named)', async () => {
    const alone = await run('bootstrap', '--zone', 'eu-west-1a');
    expect(alone.code).toBe(2);
    expect(alone.err).toContain('--zone needs --node-id (without a node section, the zone comes from envoy --service-zone)');
    const empty = await run('bootstrap', '--node-id', 'dev.default', '--zone', ' ');
    expect(empty.code).toBe(2);
    expect(empty.err).toContain('--zone must not be empty');
  });
});
