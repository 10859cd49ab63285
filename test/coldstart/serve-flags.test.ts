/**
 * `serve --cold-start-max-held` and `--cold-start-sync-grace`, parsed (errors name the flag) and acting on a
 * `serve` process: ext_proc streams opened as a sidecar opens them, over real gRPC on the xDS port.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { COLD_START_HELP, DEFAULT_COLD_START_LIMITS, coldStartLimitsFromFlags } from '../../src/cli/cold-start-flags.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { runCli } from '../support/cli-run.ts';
import { ServeProcess } from '../support/serve-process.ts';

describe('serve cold-start flags', () => {
  it('default to 10,000 held requests and a 2 s grace, as the README says', () => {
    expect(coldStartLimitsFromFlags({})).toEqual(DEFAULT_COLD_START_LIMITS);
    expect(DEFAULT_COLD_START_LIMITS).toEqual({ maxHeld: 10_000, syncGraceMs: 2_000 });
    expect(COLD_START_HELP).toContain('(default 10000)');
    expect(COLD_START_HELP).toContain('(default 2s, 0s..1m)');
  });

  it('read a count and a duration', () => {
    expect(coldStartLimitsFromFlags({ 'cold-start-max-held': '50', 'cold-start-sync-grace': '500ms' })).toEqual({ maxHeld: 50, syncGraceMs: 500 });
    expect(coldStartLimitsFromFlags({ 'cold-start-sync-grace': '0s' })).toEqual({ maxHeld: 10_000, syncGraceMs: 0 });
  });

  it('name the flag and what would be valid on a bad value', () => {
    expect(() => coldStartLimitsFromFlags({ 'cold-start-max-held': '0' })).toThrow('--cold-start-max-held "0" must be a whole number of at least 1');
    expect(() => coldStartLimitsFromFlags({ 'cold-start-max-held': 'lots' })).toThrow('--cold-start-max-held "lots"');
    expect(() => coldStartLimitsFromFlags({ 'cold-start-sync-grace': '2' })).toThrow('--cold-start-sync-grace "2" must be a duration from 0s to 1m, e.g. 2s or 500ms');
    expect(() => coldStartLimitsFromFlags({ 'cold-start-sync-grace': '2m' })).toThrow('--cold-start-sync-grace "2m"');
  });

  it('serve refuses a bad value before serving (exit 2, the flag named)', async () => {
    const { code, err } = await runCli('serve', '--config-dir', 'examples/basic', '--cold-start-max-held', 'none');
    expect(code).toBe(2);
    expect(err).toContain('--cold-start-max-held "none" must be a whole number of at least 1');
  });
});

const root = loadEnvoyProtos();
const requestType = root.lookupType('envoy.service.ext_proc.v3.ProcessingRequest');
const responseType = root.lookupType('envoy.service.ext_proc.v3.ProcessingResponse');
const ExtProcClient = grpc.makeGenericClientConstructor({
  Process: {
    path: '/envoy.service.ext_proc.v3.ExternalProcessor/Process',
    requestStream: true,
    responseStream: true,
    requestSerialize: (value: Record<string, unknown>) => Buffer.from(requestType.encode(requestType.fromObject(value)).finish()),
    requestDeserialize: (bytes: Buffer) => bytes,
    responseSerialize: (value: Buffer) => value,
    responseDeserialize: (bytes: Buffer) => responseType.toObject(responseType.decode(bytes), { enums: String, defaults: false }),
  },
}, 'ExternalProcessor');

function policyFolder(ready: boolean): string {
  return `apiVersion: v1
kind: ConfigMap
metadata: { name: chat, namespace: ml, labels: { infermesh.io/policy: "true" } }
data:
  policy.yaml: |
    model: chat
    protocol: grpc
    backends: [{ name: main, service: chat, port: grpc }]
    coldStart: { holdFor: 30s }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: chat-1, namespace: ml, labels: { kubernetes.io/service-name: chat } }
addressType: IPv4
ports: [{ name: grpc, port: 8001 }]
endpoints: [{ addresses: [127.0.5.1], conditions: { ready: ${ready} } }]
`;
}

interface HeldCall {
  /** The answer that ends the hold: continue (request_headers) or a 503 (immediate_response). */
  answer: Promise<{ response: Record<string, unknown>; at: number }>;
  stream: grpc.ClientDuplexStream<Record<string, unknown>, Record<string, unknown>>;
}

/** One request's headers sent as an Envoy sidecar with node id `node` sends them for a coldStart model. */
function holdRequest(client: grpc.Client, node: string): HeldCall {
  const stream = (client as unknown as { Process(): HeldCall['stream'] }).Process();
  const answer = new Promise<{ response: Record<string, unknown>; at: number }>((resolve, reject) => {
    stream.on('data', (response: Record<string, unknown>) => {
      if (response['override_message_timeout']) return;
      resolve({ response, at: performance.now() });
    });
    stream.on('error', reject);
  });
  stream.write({
    request_headers: { headers: { headers: [{ key: 'x-model', raw_value: Buffer.from('chat') }, { key: 'content-type', raw_value: Buffer.from('application/grpc') }] } },
    attributes: { 'envoy.filters.http.ext_proc': { fields: { 'xds.node.id': { stringValue: node } } } },
  });
  return { answer, stream };
}

describe('serve with cold-start flags, through its ext_proc service', () => {
  let dir: string | undefined;
  let serve: ServeProcess | undefined;
  let client: grpc.Client | undefined;
  const calls: HeldCall[] = [];

  afterEach(async () => {
    for (const call of calls.splice(0)) call.stream.cancel();
    client?.close();
    serve?.kill();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function start(flags: string[]): Promise<string> {
    dir = await mkdtemp(path.join(tmpdir(), 'infermesh-cold-start-'));
    const file = path.join(dir, 'chat.yaml');
    await writeFile(file, policyFolder(false));
    serve = await ServeProcess.start(dir, ['--no-probes', ...flags]);
    client = new ExtProcClient(`127.0.0.1:${serve.xdsPort}`, grpc.credentials.createInsecure());
    return file;
  }

  it('--cold-start-max-held 1: a second request is answered at once with the overflow 503 while the first is held', async () => {
    await start(['--cold-start-max-held', '1']);
    const first = holdRequest(client!, 'app-1.ml');
    calls.push(first);
    // The first is held: nothing but the timeout override comes back while the second is refused.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const second = holdRequest(client!, 'app-2.ml');
    calls.push(second);
    const { response } = await second.answer;
    expect(response['immediate_response']).toMatchObject({ status: { code: 'ServiceUnavailable' }, details: 'cold_start_overflow', grpc_status: { status: 14 } });
    const held = await Promise.race([first.answer.then(() => 'answered'), new Promise((resolve) => setTimeout(() => resolve('still held'), 300))]);
    expect(held).toBe('still held');
  });

  // A sidecar whose ADS stream is on another replica (node unknown here) is let go after the grace.
  for (const [flags, grace] of [[[], 2_000], [['--cold-start-sync-grace', '0s'], 0]] as const) {
    it(`a held request of a sidecar unknown here goes ${grace} ms after its model is ready (${flags.length ? flags.join(' ') : 'default'})`, async () => {
      const file = await start([...flags]);
      const call = holdRequest(client!, 'elsewhere.ml');
      calls.push(call);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const madeReady = performance.now();
      await writeFile(file, policyFolder(true));
      const { response, at } = await call.answer;
      expect(response['request_headers']).toMatchObject({ response: { clear_route_cache: true } });
      const afterReadyMs = at - madeReady;
      expect(afterReadyMs).toBeGreaterThanOrEqual(grace);
      expect(afterReadyMs).toBeLessThan(grace + 1_500);
    });
  }
});
