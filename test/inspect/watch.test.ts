import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { InspectDeps } from '../../src/cli/inspect.ts';
import type { InspectView } from '../../src/inspect/view.ts';
import { CLEAR_SCREEN } from '../../src/inspect/watch.ts';
import { envoyRoutes, fixture } from './fake-admin.ts';
import { fake, rows, run } from './harness.ts';

describe('infermesh inspect --watch', () => {
  /** Stops after `frames` waits; no real time passes. */
  function stopAfter(frames: number): Pick<InspectDeps, 'stop' | 'sleep'> & { waits: number[] } {
    const controller = new AbortController();
    const waits: number[] = [];
    return {
      waits,
      stop: controller.signal,
      sleep: async (ms) => {
        waits.push(ms);
        if (waits.length === frames) controller.abort();
      },
    };
  }
  const now = () => new Date('2026-05-04T10:04:00.000Z');

  it('draws frames separated by a line when stdout is not a terminal', async () => {
    const envoy = await fake(envoyRoutes());
    const stop = stopAfter(2);
    const { code, out } = await run(['--admin', envoy.url, '--watch', '--interval', '3s'], { ...stop, isTTY: false, now });
    expect(code).toBe(0);
    expect(stop.waits).toEqual([3000, 3000]);
    expect(envoy.requests.filter((r) => r === '/server_info')).toHaveLength(2);
    const frames = out.split(/^(?==== )/m);
    expect(frames).toHaveLength(2);
    expect(frames[0]?.endsWith('\n\n')).toBe(true);
    for (const frame of frames) {
      expect(frame.startsWith('=== 2026-05-04T10:04:00Z  every 3s, Ctrl-C to stop\n\nSidecar  node web-7d9f8c6b5-x2k4q.default')).toBe(true);
      expect(rows(frame)).toHaveLength(4);
    }
    expect(out).not.toContain('\x1b[');
  });

  it('clears the screen before each frame on a terminal, and keeps going when a frame fails', async () => {
    let up = false;
    const serverInfo = { type: 'application/json', body: fixture('server_info.json') };
    const envoy = await fake({ ...envoyRoutes(), '/server_info': () => (up ? serverInfo : { status: 503, body: 'starting\n' }) });
    const stop = stopAfter(2);
    const sleep = stop.sleep;
    const { code, out } = await run(['--admin', envoy.url, '--watch'], {
      ...stop,
      sleep: async (ms, signal) => {
        up = true;
        await sleep?.(ms, signal);
      },
      isTTY: true,
      now,
    });
    expect(code).toBe(0);
    const frames = out.split(CLEAR_SCREEN);
    expect(frames).toEqual(['', expect.stringContaining(`answered HTTP 503: starting`), expect.stringContaining('resnet50  stable')]);
    expect(stop.waits).toEqual([2000, 2000]);
  });

  it('streams JSON documents and sends failures to stderr', async () => {
    let calls = 0;
    const serverInfo = { type: 'application/json', body: fixture('server_info.json') };
    const envoy = await fake({ ...envoyRoutes(), '/server_info': () => (++calls === 1 ? { status: 503, body: 'starting\n' } : serverInfo) });
    const stop = stopAfter(3);
    const { code, out, err } = await run(['--admin', envoy.url, '--watch', '-o', 'json'], { ...stop, isTTY: false, now });
    expect(code).toBe(0);
    expect(err).toBe(`infermesh inspect: ${envoy.url}/server_info answered HTTP 503: starting\n`);
    const documents = out.split(/(?<=^\})\n/m).filter((part) => part.trim() !== '');
    expect(documents.map((doc) => (JSON.parse(doc) as InspectView).models.length)).toEqual([2, 2]);
  });

  it('separates YAML frames with document markers', async () => {
    const envoy = await fake(envoyRoutes());
    const { code, out } = await run(['--admin', envoy.url, '--watch', '-o', 'yaml'], { ...stopAfter(2), isTTY: false, now });
    expect(code).toBe(0);
    expect(parseAllDocuments(out).map((doc) => (doc.toJS() as InspectView).sidecar.state)).toEqual(['LIVE', 'LIVE']);
  });
});
