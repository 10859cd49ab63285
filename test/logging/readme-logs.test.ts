/** README "Logs" documents every access-log field the control plane configures, and its samples are real lines of the current shape. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { accessLogFormat } from '../../src/envoy/access-log.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';

const readme = readFileSync(path.join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('### Logs'), readme.indexOf('\n## ', readme.indexOf('### Logs')));
const jsonLines = [...section.matchAll(/^\{.*\}$/gm)].map((match) => JSON.parse(match[0]) as Record<string, unknown>);

describe('README "Logs"', () => {
  it('names every access-log field in its table, and each sample line has exactly those fields', () => {
    const fields = Object.keys(accessLogFormat(DEFAULT_SETTINGS)).sort();
    const table = section.slice(section.indexOf('**Sidecar access log.**'));
    const documented = [...table.matchAll(/^\| (`[^|]*`(?:, `[^|]*`)*) \|/gm)].flatMap((row) => [...row[1]!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!));
    expect(documented.sort()).toEqual(fields);
    const accessLines = jsonLines.filter((line) => 'upstream_cluster' in line);
    expect(accessLines.length).toBeGreaterThanOrEqual(3);
    for (const line of accessLines) expect(Object.keys(line).sort()).toEqual(fields);
  });

  it('shows a sample of each control plane event: model change (each kind), push summary and NACK', () => {
    const events = jsonLines.filter((line) => 'event' in line);
    expect(events.filter((line) => line['event'] === 'model-change').map((line) => line['change'])).toEqual(['added', 'changed', 'rejected', 'removed']);
    for (const line of events.filter((l) => l['event'] === 'model-change')) expect(line).toMatchObject({ configMap: expect.any(String), key: expect.any(String), snapshot: expect.any(String), sequence: expect.any(Number) });
    expect(events.find((line) => line['event'] === 'push-summary')).toMatchObject({ streams: expect.any(Number), bytes: expect.any(Number), types: expect.any(Object) });
    expect(events.find((line) => line['event'] === 'nack')).toMatchObject({ node: expect.any(String), type: expect.any(String), rejectedVersion: expect.any(String), keptVersion: expect.any(String), models: expect.any(Array), error: expect.any(String) });
  });
});
