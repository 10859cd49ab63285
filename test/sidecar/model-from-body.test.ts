/**
 * Routing by the JSON body's top-level "model" (policy modelFromBody, src/envoy/model-from-body.ts) through a
 * real Envoy sidecar on every pinned version: OpenAI-style calls without the model header reach the pods of
 * the model their body names (chat/completions, completions, embeddings; an alias; with a version header);
 * the header wins over the body; the scanner reads only the top level, decodes escapes and refuses what is not
 * JSON, has no usable model or is too large, each with its JSON answer; an unknown model is 404; a model
 * whose policy does not opt in is refused, and the marker header never reaches a pod; gRPC calls pass as before.
 * Pods on 127.0.3.1-127.0.3.4.
 */
import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TritonClient } from '../../demo/fake-model-server.ts';
import { MODEL_SOURCE_HEADER } from '../../src/envoy/model-from-body.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { eventually } from '../support/eventually.ts';
import { Mesh, type PodSpec } from '../support/mesh.ts';
import { Sidecar, trackFailures } from '../support/sidecar.ts';
import { describeWithTool, envoyBinaries } from '../support/tools.ts';
import { grpcInfer, sidecarClient } from './resilience-calls.ts';
import { post, type Answer } from './json-post.ts';

const PODS: PodSpec[] = [
  { kind: 'triton', host: '127.0.3.1', pod: 'chat-a', service: 'chat-v1', models: ['grpcmodel'], version: '1' },
  { kind: 'triton', host: '127.0.3.2', pod: 'chat-b', service: 'chat-v2', models: [], version: '2' },
  { kind: 'triton', host: '127.0.3.3', pod: 'embed-a', service: 'embed', models: [], version: '1' },
  { kind: 'triton', host: '127.0.3.4', pod: 'closed-a', service: 'closed', models: [], version: '1' },
];

const POLICIES: Record<string, string> = {
  chat: `model: chat
aliases: [chat-alias]
server: triton
protocol: http
modelFromBody: true
backends:
  - { name: v1, service: chat-v1, port: http, version: "1", weight: 100 }
  - { name: v2, service: chat-v2, port: http, version: "2", weight: 0 }
retries: { attempts: 0 }`,
  embed: `model: embed
server: triton
protocol: http
modelFromBody: true
backends: [{ name: main, service: embed, port: http }]
retries: { attempts: 0 }`,
  closed: `model: closed
server: triton
protocol: http
backends: [{ name: main, service: closed, port: http }]
retries: { attempts: 0 }`,
  grpcmodel: `model: grpcmodel
server: triton
protocol: grpc
modelFromBody: true
backends: [{ name: main, service: chat-v1, port: grpc }]
retries: { attempts: 0 }`,
};

const CHAT = '/v1/chat/completions';
const chatBody = (model: unknown, extra = '') => `{"messages":[{"role":"user","content":"hi"}],"model":${JSON.stringify(model)}${extra}}`;

/** Answered by a pod: who, and which routing headers reached it. */
function servedBy(answer: Answer, pod: string, model: string): void {
  expect(answer.headers['x-served-by'], JSON.stringify(answer.json)).toBe(pod);
  expect(answer.json['received']).toEqual({ 'x-model': model, 'x-model-version': null, [MODEL_SOURCE_HEADER]: null });
}

function refused(answer: Answer, status: number, error: string): void {
  expect(answer.status, JSON.stringify(answer.json)).toBe(status);
  expect(answer.headers['content-type']).toBe('application/json');
  expect(answer.headers['x-served-by']).toBeUndefined();
  expect(answer.json['error']).toBe(error);
  expect(typeof answer.json['message']).toBe('string');
}

describeWithTool('routing by the JSON body\'s "model" through a real Envoy sidecar', envoyBinaries(), (binaries) => {
  const failures = trackFailures();
  let mesh: Mesh;

  beforeAll(async () => {
    mesh = await Mesh.start(PODS, POLICIES);
  });
  afterAll(async () => {
    await mesh?.close();
  });

  binaries.forEach((binary) => {
    describe(`Envoy ${binary.version}`, () => {
      let sidecar: Sidecar;
      let client: TritonClient;

      beforeAll(async () => {
        sidecar = await Sidecar.start(mesh, binary, `model-from-body-${process.pid}-${binary.version}`);
        client = sidecarClient(sidecar);
        // The first call of each model loads its scope and clusters on demand.
        await eventually(async () => expect((await post(sidecar, CHAT, chatBody('chat'))).status).toBe(200));
      }, 30_000);
      afterAll(async () => {
        client?.close();
        await sidecar?.stop(failures.failed);
      });

      it('chat/completions, completions and embeddings route by the body to the model\'s pods; the marker does not reach them', async () => {
        const chat = await post(sidecar, CHAT, chatBody('chat'));
        expect(chat.status).toBe(200);
        expect(chat.json).toMatchObject({ object: 'chat.completion', model: 'chat' });
        servedBy(chat, 'chat-a', 'chat');

        const completion = await post(sidecar, '/v1/completions', '{"model":"chat","prompt":"hi"}', { 'content-type': 'application/json; charset=utf-8' });
        expect(completion.status).toBe(200);
        servedBy(completion, 'chat-a', 'chat');

        // The sidecar's first call of embed: its scope and cluster load on demand while the body waits.
        const embedding = await post(sidecar, '/v1/embeddings', '{"input":["a","b"],"model":"embed"}');
        expect(embedding.status, JSON.stringify(embedding.json)).toBe(200);
        expect(embedding.json).toMatchObject({ object: 'list', model: 'embed' });
        servedBy(embedding, 'embed-a', 'embed');
      });

      it('routes by the body over h2c too', async () => {
        const session = http2.connect(sidecar.url);
        try {
          const answer = await new Promise<{ status: number; served: unknown; body: string }>((resolve, reject) => {
            const stream = session.request({ ':method': 'POST', ':path': '/v1/embeddings', 'content-type': 'application/json' });
            let body = '';
            let status = 0;
            let served: unknown;
            stream.on('response', (headers) => {
              status = Number(headers[':status']);
              served = headers['x-served-by'];
            });
            stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
            stream.on('end', () => resolve({ status, served, body }));
            stream.on('error', reject);
            stream.end('{"input":"h2","model":"embed"}');
          });
          expect(answer.status, answer.body).toBe(200);
          expect(answer.served).toBe('embed-a');
        } finally {
          session.close();
        }
      });

      it('an alias in the body routes to the model (the pod sees the alias, as with the header); a version header pins; the header wins over the body', async () => {
        const alias = await eventually(async () => {
          const answer = await post(sidecar, CHAT, chatBody('chat-alias'));
          expect(answer.headers['x-served-by']).toBe('chat-a');
          return answer;
        });
        // The pod knows the model by its own name only: it refuses the alias, as for an alias in the header.
        expect(alias.status).toBe(404);
        expect(alias.json['received']).toMatchObject({ 'x-model': 'chat-alias', [MODEL_SOURCE_HEADER]: null });

        const pinned = await eventually(async () => {
          const answer = await post(sidecar, CHAT, chatBody('chat'), { 'x-model-version': '2' });
          expect(answer.status).toBe(200);
          return answer;
        });
        expect(pinned.headers['x-served-by']).toBe('chat-b');
        expect(pinned.json['received']).toEqual({ 'x-model': 'chat', 'x-model-version': '2', [MODEL_SOURCE_HEADER]: null });

        // A KServe v2 path names the model (the header comes from the path first): its JSON body, which has no
        // "model", is not read.
        const byPath = await post(sidecar, '/v2/models/embed/infer', '{"inputs":[]}');
        expect(byPath.status, JSON.stringify(byPath.json)).toBe(200);
        expect(byPath.headers['x-served-by']).toBe('embed-a');

        // The header names embed, the body chat: the header decides and the body is not read.
        const header = await post(sidecar, '/v1/embeddings', chatBody('chat'), { 'x-model': 'embed' });
        expect(header.headers['x-served-by']).toBe('embed-a');
        expect(header.json['received']).toEqual({ 'x-model': 'embed', 'x-model-version': null, [MODEL_SOURCE_HEADER]: null });
      });

      it('reads only the top level, decodes escapes, refuses what has no usable model', async () => {
        // Nested "model" keys (in messages, in an object, in a string) are not the model.
        const nested = await post(sidecar, CHAT, '{"messages":[{"model":"embed","content":"{\\"model\\": \\"embed\\"}"}],"tools":{"model":"embed"},"model":"chat","n":-1.5e3,"stream":false,"stop":null}');
        expect(nested.status).toBe(200);
        servedBy(nested, 'chat-a', 'chat');
        refused(await post(sidecar, CHAT, '{"messages":[{"model":"chat"}],"options":{"model":"chat"}}'), 400, 'model_not_in_body');

        // An escaped key and value are read as a JSON parser reads them.
        const escaped = await post(sidecar, CHAT, '{"content":"say \\"model\\":\\"embed\\" \\\\","mod\\u0065l":"ch\\u0061t"}');
        expect(escaped.status).toBe(200);
        servedBy(escaped, 'chat-a', 'chat');

        refused(await post(sidecar, CHAT, '{"model":"chat",'), 400, 'body_not_json');
        refused(await post(sidecar, CHAT, '{"model":"chat"} trailing'), 400, 'body_not_json');
        refused(await post(sidecar, CHAT, "{'model':'chat'}"), 400, 'body_not_json');
        refused(await post(sidecar, CHAT, '{"model":"ch\tat"}'), 400, 'body_not_json');
        refused(await post(sidecar, CHAT, '{"messages":[]}'), 400, 'model_not_in_body');
        refused(await post(sidecar, CHAT, '{"model":5}'), 400, 'model_not_in_body');
        refused(await post(sidecar, CHAT, '{"model":["chat"]}'), 400, 'model_not_in_body');
        refused(await post(sidecar, CHAT, '{"model":"bad name"}'), 400, 'model_not_in_body');
        refused(await post(sidecar, CHAT, '{"model":"chat","model":"embed"}'), 400, 'model_not_in_body');
        refused(await post(sidecar, CHAT, '[{"model":"chat"}]'), 400, 'model_not_in_body');
        // Not JSON by its content-type: the body is not read, and the model header is missing as before.
        const text = await post(sidecar, CHAT, chatBody('chat'), { 'content-type': 'text/plain' });
        expect(text.status).toBe(400);
        expect(text.json['error']).toBe('model_header_required');
      });

      it('a body over the limit is refused with 413, by its content-length or while buffering a chunked body', async () => {
        const big = Buffer.from(chatBody('chat', `,"pad":"${'x'.repeat(DEFAULT_SETTINGS.bodyRoutingLimitBytes)}"`));
        refused(await post(sidecar, CHAT, big), 413, 'body_too_large');
        refused(await post(sidecar, CHAT, big, {}, true), 413, 'body_too_large');
        // With the header the body is not read, so the limit does not apply: it streams to the pod.
        const named = await post(sidecar, CHAT, big, { 'x-model': 'chat' }, true);
        expect(named.status).toBe(200);
        servedBy(named, 'chat-a', 'chat');
        // Just under the limit, chunked: read and routed (about 64 KB of content in a 1 MiB body is no special case).
        const under = Buffer.from(chatBody('chat', `,"pad":"${'x'.repeat(DEFAULT_SETTINGS.bodyRoutingLimitBytes - 100)}"`));
        expect(under.length).toBeLessThanOrEqual(DEFAULT_SETTINGS.bodyRoutingLimitBytes);
        const answer = await post(sidecar, CHAT, under, {}, true);
        expect(answer.status).toBe(200);
        servedBy(answer, 'chat-a', 'chat');
      });

      it('an unknown model is 404; a model whose policy does not opt in is refused by body but served by header', async () => {
        const unknown = await post(sidecar, CHAT, chatBody('nosuch'));
        refused(unknown, 404, 'model_not_found');
        expect(unknown.json['model']).toBe('nosuch');

        // The first call of closed loads its cluster on demand, which makes Envoy replay the request's headers
        // (recreateStream): the marker set from the body must still be there then.
        const closed = await post(sidecar, CHAT, chatBody('closed'));
        refused(closed, 400, 'model_not_routable_by_body');
        expect(closed.json['model']).toBe('closed');
        const before = mesh.pod('closed-a').requestsFor('closed');
        for (let i = 0; i < 3; i++) refused(await post(sidecar, CHAT, chatBody('closed')), 400, 'model_not_routable_by_body');
        expect(mesh.pod('closed-a').requestsFor('closed')).toBe(before);

        // By header it is served. The marker header is reserved: a caller sending it is taken as routing by body.
        const byHeader = await eventually(async () => {
          const answer = await post(sidecar, CHAT, chatBody('closed'), { 'x-model': 'closed' });
          expect(answer.status).toBe(200);
          return answer;
        });
        servedBy(byHeader, 'closed-a', 'closed');
        refused(await post(sidecar, CHAT, chatBody('closed'), { 'x-model': 'closed', [MODEL_SOURCE_HEADER]: 'body' }), 400, 'model_not_routable_by_body');
      });

      it('the listener drops the body filters once no policy enables modelFromBody, and takes them back', async () => {
        const optedIn = ['chat', 'embed', 'grpcmodel'];
        try {
          for (const name of optedIn) await mesh.writePolicy(name, (POLICIES[name] ?? '').replace('modelFromBody: true\n', ''));
          // No body filter: a call without the header is one without a model, as before the feature.
          await eventually(async () => expect((await post(sidecar, CHAT, chatBody('chat'))).json['error']).toBe('model_header_required'), { timeoutMs: 20_000 });
          servedBy(await post(sidecar, CHAT, chatBody('chat'), { 'x-model': 'chat' }), 'chat-a', 'chat');
        } finally {
          for (const name of optedIn) await mesh.writePolicy(name, POLICIES[name] ?? '');
        }
        const back = await eventually(async () => {
          const answer = await post(sidecar, CHAT, chatBody('chat'));
          expect(answer.status).toBe(200);
          return answer;
        }, { timeoutMs: 20_000 });
        servedBy(back, 'chat-a', 'chat');
      }, 60_000);

      it('gRPC calls are not touched; no NACK and no Lua error', async () => {
        await eventually(async () => expect(await grpcInfer(client, 'grpcmodel')).toMatchObject({ ok: true }));
        expect(sidecar.envoy.log()).not.toContain('NACK');
        const stats = await sidecar.envoy.admin('/stats?filter=lua');
        expect(stats).toMatch(/model_from_body\.errors: 0/);
        expect(stats).toMatch(/body_routing_guard\.errors: 0/);
      });
    });
  });
});
