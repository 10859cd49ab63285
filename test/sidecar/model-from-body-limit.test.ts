/**
 * `--body-routing-limit` (settings.bodyRoutingLimitBytes) through a real Envoy sidecar on every pinned
 * version: raised to 4 MiB, a 3 MiB JSON body (by content-length, and chunked) routes by its "model", which
 * Envoy's default 1 MiB buffer would refuse; a body over 4 MiB gets the 413 naming the raised limit.
 * Pod on 127.0.3.5.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { Mesh, type PodSpec } from '../support/mesh.ts';
import { Sidecar, trackFailures } from '../support/sidecar.ts';
import { describeWithTool, envoyBinaries } from '../support/tools.ts';
import { post } from './json-post.ts';

const LIMIT = 4 * 1024 * 1024;
const PODS: PodSpec[] = [{ kind: 'triton', host: '127.0.3.5', pod: 'big-a', service: 'big', models: [], version: '1' }];
const POLICIES = {
  big: `model: big
server: triton
protocol: http
modelFromBody: true
backends: [{ name: main, service: big, port: http }]
retries: { attempts: 0 }`,
};

const CHAT = '/v1/chat/completions';
/** A chat body naming `big`, padded to about `bytes`; the model comes last, so the whole body is scanned. */
const paddedBody = (bytes: number) => Buffer.from(`{"messages":[{"role":"user","content":"${'x'.repeat(bytes - 80)}"}],"model":"big"}`);

describeWithTool('a raised body-routing limit through a real Envoy sidecar', envoyBinaries(), (binaries) => {
  const failures = trackFailures();
  let mesh: Mesh;

  beforeAll(async () => {
    mesh = await Mesh.start(PODS, POLICIES, { ...DEFAULT_SETTINGS, bodyRoutingLimitBytes: LIMIT });
  });
  afterAll(async () => {
    await mesh?.close();
  });

  binaries.forEach((binary) => {
    describe(`Envoy ${binary.version}`, () => {
      let sidecar: Sidecar;
      beforeAll(async () => {
        sidecar = await Sidecar.start(mesh, binary, `body-limit-${process.pid}-${binary.version}`);
      }, 30_000);
      afterAll(async () => {
        await sidecar?.stop(failures.failed);
      });

      it('routes a 3 MiB body by its "model", by content-length and chunked', async () => {
        const body = paddedBody(3 * 1024 * 1024);
        expect(body.length).toBeGreaterThan(DEFAULT_SETTINGS.bodyRoutingLimitBytes * 2);
        for (const chunked of [false, true]) {
          const answer = await post(sidecar, CHAT, body, {}, chunked);
          expect(answer.status, JSON.stringify(answer.json).slice(0, 300)).toBe(200);
          expect(answer.headers['x-served-by']).toBe('big-a');
        }
      });

      it('refuses a body over the raised limit with 413 naming it, by content-length and chunked', async () => {
        const body = paddedBody(LIMIT + 1024);
        for (const chunked of [false, true]) {
          const answer = await post(sidecar, CHAT, body, {}, chunked);
          expect(answer.status, JSON.stringify(answer.json).slice(0, 300)).toBe(413);
          expect(answer.json).toMatchObject({ error: 'body_too_large', message: expect.stringContaining(`larger than ${LIMIT} bytes`) });
        }
      });
    });
  });
});
