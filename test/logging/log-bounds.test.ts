/** What keeps the SRE-facing log lines bounded: per-model lines per reconcile, models named per NACK line. */
import { describe, expect, it } from 'vitest';
import type { ModelStatus } from '../../src/controller/reconcile.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { logModelChanges } from '../../src/logging/model-change-log.ts';
import type { NackRecord } from '../../src/xds/client-view.ts';
import type { NodeInfo } from '../../src/xds/messages.ts';
import { LOG_NACK_MODELS, StreamLogs } from '../../src/xds/stream-log.ts';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  return { lines, logger: createLogger(level, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) }) };
}

const serving = (model: string): ModelStatus => ({ model, state: 'serving', problems: [], fingerprint: `f-${model}`, source: { namespace: 'ns', configMap: `${model}-policy`, key: 'policy.yaml', index: 0, createdAt: '' } });

describe('model change lines', () => {
  it('go to info up to the limit per reconcile, the rest to debug, counted', () => {
    const after = ['a', 'b', 'c'].map(serving);
    const changes = { added: ['a', 'b', 'c'], changed: [], removed: [], rejected: [] };
    const info = capture('info');
    expect(logModelChanges(info.logger, [], after, changes, { snapshot: 's', sequence: 1 }, 2)).toBe(1);
    expect(info.lines.map((line) => line['model'])).toEqual(['a', 'b']);
    const debug = capture('debug');
    expect(logModelChanges(debug.logger, [], after, changes, { snapshot: 's', sequence: 1 }, 2)).toBe(1);
    expect(debug.lines.map((line) => [line['model'], line['level']])).toEqual([['a', 30], ['b', 30], ['c', 20]]);
  });
});

describe('NACK lines', () => {
  const nack: NackRecord = { nonce: 'n', version: 'v2', sequence: 2, keptVersion: 'v1', code: 3, message: 'no', at: new Date() };

  it(`name at most ${LOG_NACK_MODELS} models, with the total, and work out the causes only for lines logged`, () => {
    const { lines, logger } = capture('info');
    const logs = new StreamLogs({ intervalMs: 10_000, globalPerInterval: 20, lifecyclePerInterval: 100, now: () => 0 });
    const stream = logs.forStream(logger);
    const node: NodeInfo = { id: 'p', cluster: 'c', userAgentName: 'envoy', userAgentVersion: '', metadata: {}, raw: {} };
    let computed = 0;
    const causes = () => {
      computed += 1;
      return Array.from({ length: 25 }, (_, i) => ({ model: `m${i}`, source: `ns/m${i}-policy key "policy.yaml"` }));
    };
    stream.nack('cluster', node, nack, causes);
    stream.nack('cluster', node, nack, causes);
    expect(lines).toHaveLength(1);
    expect(computed).toBe(1);
    expect(lines[0]).toMatchObject({ event: 'nack', node: 'p', rejectedVersion: 'v2', keptVersion: 'v1', modelsTotal: 25, error: 'no' });
    expect(lines[0]!['models']).toHaveLength(LOG_NACK_MODELS);
    expect(lines[0]!['sources']).toHaveLength(LOG_NACK_MODELS);
  });
});
