/**
 * The Prober with its real HTTP probes against the fake Triton and TF Serving pods (which answer the
 * repository index and model status as the real servers do) and against a server that answers garbage,
 * huge or slowly. Wall time is bounded by a short interval and timeout.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeModelServer, type FakeModelServer } from '../../demo/fake-model-server.ts';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { Prober } from '../../src/probe/prober.ts';
import type { ModelRef, ProbeTarget } from '../../src/probe/types.ts';
import { eventually } from '../support/eventually.ts';

const TRITON_HOST = '127.0.0.226';
const TFSERVING_HOST = '127.0.0.227';
const BAD_HOST = '127.0.0.228';
const INTERVAL_MS = 100;

type Misbehaviour = 'garbage' | 'huge' | 'slow' | 'status-500' | 'good';
let misbehaviour: Misbehaviour = 'good';

function badServer(request: http.IncomingMessage, response: http.ServerResponse): void {
  request.resume();
  switch (misbehaviour) {
    case 'garbage':
      return void response.end('<html>gateway</html>');
    case 'huge':
      return void response.end(`[${'{"name":"resnet50","version":"1","state":"READY"},'.repeat(40_000)}{"name":"x"}]`);
    case 'slow':
      return void setTimeout(() => response.end('[]'), 2000).unref();
    case 'status-500':
      response.statusCode = 500;
      return void response.end('{"error":"internal"}');
    case 'good':
      return void response.end('[{"name":"resnet50","version":"1","state":"READY","reason":""}]');
  }
}

let triton: FakeModelServer;
let tfserving: FakeModelServer;
let bad: http.Server;
let badPort = 0;
const metrics = createMetrics();
let prober: Prober;
let notifications = 0;

const resnet: ModelRef = { model: 'resnet50' };
const bert: ModelRef = { model: 'bert' };

function targets(): ProbeTarget[] {
  return [
    { server: 'triton', address: TRITON_HOST, port: triton.httpPort, models: [resnet, bert, { model: 'resnet50', version: '2' }] },
    { server: 'tfserving', address: TFSERVING_HOST, port: tfserving.httpPort, models: [resnet, bert, { model: 'resnet50', version: '2' }] },
    { server: 'triton', address: BAD_HOST, port: badPort, models: [resnet] },
  ];
}

beforeAll(async () => {
  triton = await startFakeModelServer({ kind: 'triton', host: TRITON_HOST, pod: 'triton-0', models: ['resnet50'], version: '1' });
  tfserving = await startFakeModelServer({ kind: 'tfserving', host: TFSERVING_HOST, pod: 'tfs-0', models: ['resnet50'], version: '1' });
  bad = http.createServer(badServer);
  await new Promise<void>((resolve) => bad.listen(0, BAD_HOST, resolve));
  badPort = (bad.address() as AddressInfo).port;
  prober = new Prober({
    intervalMs: INTERVAL_MS,
    timeoutMs: 300,
    failuresToMark: 2,
    successesToRestore: 2,
    maxResponseBytes: 64 * 1024,
    metrics,
  });
  prober.subscribe(() => (notifications += 1));
  prober.setTargets(targets());
});

afterAll(async () => {
  prober?.close();
  await Promise.allSettled([triton?.close(), tfserving?.close()]);
  bad?.closeAllConnections();
  await new Promise<void>((resolve) => (bad === undefined ? resolve() : bad.close(() => resolve())));
});

describe('Prober against the fake model servers', () => {
  it('reads Triton’s repository index: ready, absent, loading, unloaded, failed', async () => {
    const look = (ref: ModelRef) => prober.lookup(TRITON_HOST, triton.httpPort, ref);
    await eventually(() => expect(look(resnet)).toEqual({ state: 'ready' }), { timeoutMs: 3000 });
    expect(look(bert)).toEqual({ state: 'not-loaded', reason: 'not in the repository index' });
    expect(look({ model: 'resnet50', version: '2' })).toEqual({ state: 'not-loaded', reason: 'version 2 not in the repository index' });
    // Lookups see an answer as soon as it lands; listeners hear of it once the probes running with it end.
    await eventually(() => expect(notifications).toBeGreaterThan(0), { timeoutMs: 1000 });

    const loaded = triton.load('bert', '1', { loadingMs: 600 });
    await eventually(() => expect(look(bert)?.state).toBe('loading'), { timeoutMs: 3000 });
    await loaded;
    await eventually(() => expect(look(bert)).toEqual({ state: 'ready' }), { timeoutMs: 3000 });

    triton.unload('bert');
    await eventually(() => expect(look(bert)).toEqual({ state: 'not-loaded', reason: 'UNAVAILABLE: unloaded' }), { timeoutMs: 3000 });
    await triton.load('resnet50', '2', { fail: 'out of memory' });
    await eventually(() => expect(look({ model: 'resnet50', version: '2' })).toEqual({ state: 'not-loaded', reason: 'UNAVAILABLE: out of memory' }), {
      timeoutMs: 3000,
    });
    expect(look(resnet)).toEqual({ state: 'ready' }); // version 1 still is
  });

  it('reads TF Serving’s model status: ready, 404, loading version, unloaded', async () => {
    const look = (ref: ModelRef) => prober.lookup(TFSERVING_HOST, tfserving.httpPort, ref);
    await eventually(() => expect(look(resnet)).toEqual({ state: 'ready' }), { timeoutMs: 3000 });
    expect(look(bert)).toEqual({ state: 'not-loaded', reason: 'Could not find any versions of model bert' });
    expect(look({ model: 'resnet50', version: '2' })).toEqual({ state: 'not-loaded', reason: 'version 2 not listed' });

    const loaded = tfserving.load('resnet50', '2', { loadingMs: 600 });
    await eventually(() => expect(look({ model: 'resnet50', version: '2' })?.state).toBe('loading'), { timeoutMs: 3000 });
    expect(look(resnet)).toEqual({ state: 'ready' });
    await loaded;
    await eventually(() => expect(look({ model: 'resnet50', version: '2' })).toEqual({ state: 'ready' }), { timeoutMs: 3000 });

    tfserving.unload('resnet50');
    await eventually(() => expect(look(resnet)?.state).toBe('not-loaded'), { timeoutMs: 3000 });
    expect(look(resnet)?.reason).toMatch(/END/);
  });

  it('asks TF Serving about a version label through /labels/L', async () => {
    const labelled = await startFakeModelServer({ kind: 'tfserving', host: '127.0.0.225', pod: 'tfs-canary', models: ['resnet50'], version: 'canary' });
    const port = labelled.httpPort;
    const canary: ModelRef = { model: 'resnet50', version: 'canary' };
    prober.setTargets([...targets(), { server: 'tfserving', address: '127.0.0.225', port, models: [canary, { model: 'resnet50', version: 'stable' }] }]);
    try {
      await eventually(() => expect(prober.lookup('127.0.0.225', port, canary)).toEqual({ state: 'ready' }), { timeoutMs: 3000 });
      // The fake's 404 for /labels/stable (a plain status request would say "version stable not listed").
      expect(prober.lookup('127.0.0.225', port, { model: 'resnet50', version: 'stable' })).toEqual({
        state: 'not-loaded',
        reason: expect.stringMatching(/^Could not find .*stable/),
      });
      labelled.unload('resnet50');
      await eventually(() => expect(prober.lookup('127.0.0.225', port, canary)?.state).toBe('not-loaded'), { timeoutMs: 3000 });
    } finally {
      prober.setTargets(targets());
      await labelled.close();
    }
  });

  it('a server answering garbage, huge, slowly or 500 becomes probe-failing with the reason, and recovers', async () => {
    const look = () => prober.lookup(BAD_HOST, badPort, resnet);
    await eventually(() => expect(look()).toEqual({ state: 'ready' }), { timeoutMs: 3000 });
    const cases: [Misbehaviour, RegExp][] = [
      ['garbage', /^POST \/v2\/repository\/index: HTTP 200 body is not JSON: <html>gateway<\/html>$/],
      ['huge', /^POST \/v2\/repository\/index: response larger than 65536 bytes/],
      ['slow', /timed out after 300 ms$/],
      ['status-500', /^POST \/v2\/repository\/index: HTTP 500: \{"error":"internal"\}$/],
    ];
    for (const [mode, reason] of cases) {
      misbehaviour = mode;
      await eventually(
        () => {
          const answer = look();
          expect(answer?.state).toBe('probe-failing');
          expect(answer?.reason).toMatch(reason);
        },
        { timeoutMs: 5000 },
      );
      misbehaviour = 'good';
      await eventually(() => expect(look()).toEqual({ state: 'ready' }), { timeoutMs: 5000 });
    }
    const results = new Map((await metrics.probeRequests.get()).values.map((value) => [`${value.labels['server']}/${value.labels['result']}`, value.value]));
    expect(results.get('triton/failure')).toBeGreaterThanOrEqual(4);
    expect(results.get('triton/too-large')).toBeGreaterThanOrEqual(2);
    expect(results.get('triton/timeout')).toBeGreaterThanOrEqual(2);
    expect(results.get('tfserving/ok')).toBeGreaterThan(0);
  });

  it('a pod that stops answering is probe-failing; removing it forgets it', async () => {
    const stopped = await startFakeModelServer({ kind: 'triton', host: '127.0.0.229', pod: 'triton-gone', models: ['resnet50'], version: '1' });
    const port = stopped.httpPort;
    prober.setTargets([...targets(), { server: 'triton', address: '127.0.0.229', port, models: [resnet] }]);
    try {
      await eventually(() => expect(prober.lookup('127.0.0.229', port, resnet)).toEqual({ state: 'ready' }), { timeoutMs: 3000 });
    } finally {
      await stopped.close();
    }
    await eventually(
      () => {
        const answer = prober.lookup('127.0.0.229', port, resnet);
        expect(answer?.state).toBe('probe-failing');
        expect(answer?.reason).toMatch(/ECONNREFUSED|socket hang up|ECONNRESET/);
      },
      { timeoutMs: 3000 },
    );
    prober.setTargets(targets());
    expect(prober.lookup('127.0.0.229', port, resnet)).toBeUndefined();
  });
});
