/**
 * The control plane's JSON log lines an SRE reads (issue 15, point 4), from a real `startServer` on a
 * folder: a line per model change with its ConfigMap, key and versions; one push summary per snapshot, not a
 * line per stream; and a NACK line naming the node, the versions and the models that went into the
 * rejected version.
 */
import { cp, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/cli/serve.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { TYPE_URLS } from '../../src/envoy/type-urls.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { eventually } from '../support/eventually.ts';
import { RawAdsClient } from '../support/raw-ads-client.ts';

type Line = Record<string, unknown>;

const lines: Line[] = [];
const logger = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line) as Line) });
const example = path.resolve(import.meta.dirname, '../../examples/basic');
let dir: string;
let server: RunningServer;
const clients: RawAdsClient[] = [];

const policy = (name: string, body: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
  namespace: models
  labels: { infermesh.io/policy: "true" }
data:
  policy.yaml: |
${body.split('\n').map((line) => `    ${line}`).join('\n')}
`;
const gpt = (timeout: string) => policy('gpt-policy', `model: gpt\nserver: tfserving\nprotocol: grpc\nbackends: [{ name: main, service: bert-tfserving, port: grpc, version: "7" }]\ntimeout: ${timeout}`);

const withEvent = (event: string) => lines.filter((line) => line['event'] === event);
const change = (kind: string, model: string) => withEvent('model-change').filter((line) => line['change'] === kind && line['model'] === model);

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'infermesh-logs-'));
  await cp(example, dir, { recursive: true });
  server = await startServer({ source: { kind: 'folder', dir }, xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', settings: DEFAULT_SETTINGS, logger, holdoffMs: 20, probes: { enabled: false } });
});

afterAll(async () => {
  for (const client of clients) client.close();
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('control plane logs', () => {
  it('log each model of the first read as added, with its ConfigMap, key, fingerprint and the snapshot', () => {
    const [resnet] = change('added', 'resnet50');
    expect(resnet).toMatchObject({ level: 30, event: 'model-change', configMap: 'models/resnet50-policy', key: 'policy.yaml', sequence: 1, msg: 'model resnet50 added' });
    expect(resnet?.['fingerprint']).toMatch(/^\w+$/);
    expect(resnet?.['snapshot']).toBe(server.controller.status().snapshotVersion);
    expect(resnet).not.toHaveProperty('previousFingerprint');
    expect(change('added', 'bert')).toHaveLength(1);
    expect(withEvent('models-changed').at(-1)).toMatchObject({ added: expect.arrayContaining(['resnet50', 'bert']), sequence: 1 });
  });

  it('summarise what a snapshot pushed in one line however many streams got it, and NACKs name the models of the rejected version', async () => {
    const root = loadEnvoyProtos();
    const address = `127.0.0.1:${server.xdsPort}`;
    for (let i = 0; i < 3; i += 1) clients.push(new RawAdsClient(root, address));
    const [nacker, ...others] = clients;
    const first = await Promise.all(
      clients.map(async (client, i) => {
        client.send({ node: { id: `proxy-${i}.models`, cluster: 'models' }, type_url: TYPE_URLS.cluster, resource_names: [] });
        const response = await client.next((r) => r.type_url === TYPE_URLS.cluster);
        client.send({ type_url: TYPE_URLS.cluster, resource_names: [], version_info: response.version_info, response_nonce: response.nonce });
        return response;
      }),
    );
    const summary = await eventually(() => {
      const found = withEvent('push-summary').find((line) => line['sequence'] === 1);
      expect(found).toBeDefined();
      return found!;
    });
    expect(summary).toMatchObject({ level: 30, streams: 3, responses: 3, snapshot: server.controller.status().snapshotVersion, types: { cluster: { responses: 3 } } });
    expect(summary['bytes']).toBeGreaterThan(0);
    expect(lines.filter((line) => line['msg'] === 'pushed')).toEqual([]);

    const seen = nacker!.received.length;
    await writeFile(path.join(dir, 'gpt-policy.yaml'), gpt('5s'));
    const added = await eventually(() => {
      expect(change('added', 'gpt')).toHaveLength(1);
      return change('added', 'gpt')[0]!;
    });
    expect(added).toMatchObject({ configMap: 'models/gpt-policy', key: 'policy.yaml', sequence: 2 });
    const pushed = await nacker!.next((r) => r.type_url === TYPE_URLS.cluster, seen);
    nacker!.send({ type_url: TYPE_URLS.cluster, resource_names: [], version_info: first[0]!.version_info, response_nonce: pushed.nonce, error_detail: { code: 3, message: 'gpt cluster: bad thing' } });
    const nack = await eventually(() => {
      const found = withEvent('nack')[0];
      expect(found).toBeDefined();
      return found!;
    });
    expect(nack).toMatchObject({
      level: 40,
      node: 'proxy-0.models',
      type: 'cluster',
      rejectedVersion: pushed.version_info,
      keptVersion: first[0]!.version_info,
      sequence: 2,
      models: ['gpt'],
      sources: ['models/gpt-policy key "policy.yaml"'],
      error: 'gpt cluster: bad thing',
    });
    const second = await eventually(() => {
      const found = withEvent('push-summary').find((line) => line['sequence'] === 2);
      expect(found).toBeDefined();
      return found!;
    });
    expect(second['streams']).toBe(others.length + 1);
  });

  it('log a changed model with its fingerprint before and after', async () => {
    const before = change('added', 'gpt')[0]!['fingerprint'];
    await writeFile(path.join(dir, 'gpt-policy.yaml'), gpt('9s'));
    const changed = await eventually(() => {
      expect(change('changed', 'gpt')).toHaveLength(1);
      return change('changed', 'gpt')[0]!;
    });
    expect(changed).toMatchObject({ level: 30, configMap: 'models/gpt-policy', key: 'policy.yaml', previousFingerprint: before, sequence: 3 });
    expect(changed['fingerprint']).not.toBe(before);
  });

  it('log a rejected policy at warn with its problems, and a removed model with where it was', async () => {
    await writeFile(path.join(dir, 'gpt-policy.yaml'), gpt('soon'));
    const rejected = await eventually(() => {
      expect(change('rejected', 'gpt')).toHaveLength(1);
      return change('rejected', 'gpt')[0]!;
    });
    expect(rejected).toMatchObject({ level: 40, configMap: 'models/gpt-policy', key: 'policy.yaml', state: 'stale', previousFingerprint: change('changed', 'gpt')[0]!['fingerprint'] });
    expect(String((rejected['problems'] as string[])[0])).toContain('timeout');

    await unlink(path.join(dir, 'resnet50-policy.yaml'));
    const removed = await eventually(() => {
      expect(change('removed', 'resnet50')).toHaveLength(1);
      return change('removed', 'resnet50')[0]!;
    });
    expect(removed).toMatchObject({ level: 30, configMap: 'models/resnet50-policy', key: 'policy.yaml', previousFingerprint: change('added', 'resnet50')[0]!['fingerprint'] });
    expect(removed).not.toHaveProperty('fingerprint');
  });
});
