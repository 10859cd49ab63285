/**
 * mTLS on the xDS port (serve --xds-tls-cert/--xds-tls-key/--xds-tls-client-ca), with bare grpc-js clients:
 * a client with a certificate from the CA is served; one without a certificate, one with a certificate
 * another CA signed, and a plain-text one are refused and get nothing; with TLS only (no client CA) a
 * client without a certificate is served. Rotation as a Kubernetes Secret volume does it (the `..data`
 * symlink swapped): a new connection gets the new certificate, a stream opened before keeps getting
 * pushes. `infermesh status --tls-*` reads CSDS from a TLS port. Usage errors name the flag. Pods on
 * 127.0.0.160-161.
 */
import * as grpc from '@grpc/grpc-js';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../../src/cli/serve.ts';
import { main } from '../../src/cli/main.ts';
import { eventually } from '../support/eventually.ts';
import { Mesh } from '../support/mesh.ts';
import { SecretVolume, makeTestCerts, type TestCerts } from '../support/test-certs.ts';
import { describeWithTool, opensslBinary } from '../support/tools.ts';
import { TlsAdsClient, clientCredentials, servedSerial, startTlsReplica } from './tls-support.ts';

const policy = (model: string) => `model: ${model}\nserver: triton\nprotocol: http\nbackends: [{ name: main, service: ${model}, port: http }]\n`;

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (append: (text: string) => void) => new Writable({ write: (chunk: Buffer, _e, done) => (append(chunk.toString()), done()) });
  const code = await main(argv, sink((t) => (out += t)), sink((t) => (err += t)));
  return { code, out, err };
}

describeWithTool('mTLS on the xDS port', opensslBinary(), (openssl) => {
  let certs: TestCerts;
  let mesh: Mesh;
  let volume: SecretVolume;
  let mtls: RunningServer;
  let tlsOnly: RunningServer;
  const clients: TlsAdsClient[] = [];
  const address = () => `127.0.0.1:${mtls.xdsPort}`;
  const client = (credentials: grpc.ChannelCredentials, nodeId: string, server = mtls) => {
    const created = new TlsAdsClient(`127.0.0.1:${server.xdsPort}`, credentials, nodeId);
    clients.push(created);
    return created;
  };

  beforeAll(async () => {
    certs = await makeTestCerts(openssl);
    mesh = await Mesh.start(
      [
        { kind: 'triton', host: '127.0.0.160', pod: 'm-0', service: 'm', models: ['m'], version: '1' },
        { kind: 'triton', host: '127.0.0.161', pod: 'n-0', service: 'n', models: ['n'], version: '1' },
      ],
      { 'm-policy': policy('m') },
    );
    volume = await SecretVolume.create(path.join(certs.dir, 'secret'), { 'tls.crt': certs.server.cert, 'tls.key': certs.server.key, 'ca.crt': certs.ca.cert });
    mtls = await startTlsReplica(mesh, { certFile: volume.file('tls.crt'), keyFile: volume.file('tls.key'), clientCaFile: volume.file('ca.crt'), refreshMs: 200 });
    tlsOnly = await startTlsReplica(mesh, { certFile: certs.server.cert, keyFile: certs.server.key });
  }, 30_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all([mtls?.close(), tlsOnly?.close()]);
    await mesh?.close();
    await certs?.close();
  });

  it('serves a client whose certificate the client CA signed', async () => {
    const ok = client(clientCredentials(certs.ca.cert, certs.client), 'with-cert');
    expect(await ok.responseAfter(0)).toBeGreaterThan(0);
    expect(mtls.xds.streams().some((s) => s.node?.id === 'with-cert')).toBe(true);
  });

  it('refuses a client without a certificate, and one whose certificate another CA signed: the stream fails, nothing is served', async () => {
    const without = client(clientCredentials(certs.ca.cert), 'no-cert');
    const foreign = client(clientCredentials(certs.ca.cert, certs.otherClient), 'other-ca');
    for (const refused of [without, foreign]) {
      const status = await refused.status;
      expect(status.code).toBe(grpc.status.UNAVAILABLE);
      expect(refused.received).toEqual([]);
    }
    expect(mtls.xds.streams().map((s) => s.node?.id)).not.toContain('no-cert');
    expect(mtls.xds.streams().map((s) => s.node?.id)).not.toContain('other-ca');
  });

  it('refuses a plain-text client', async () => {
    const plain = client(grpc.credentials.createInsecure(), 'plain');
    expect((await plain.status).code).toBe(grpc.status.UNAVAILABLE);
    expect(plain.received).toEqual([]);
    expect(mtls.xds.streams().map((s) => s.node?.id)).not.toContain('plain');
  });

  it('with TLS only (no --xds-tls-client-ca), serves a client without a certificate', async () => {
    const ok = client(clientCredentials(certs.ca.cert), 'tls-only', tlsOnly);
    expect(await ok.responseAfter(0)).toBeGreaterThan(0);
    const plain = client(grpc.credentials.createInsecure(), 'tls-only-plain', tlsOnly);
    expect((await plain.status).code).toBe(grpc.status.UNAVAILABLE);
  });

  it('after the Secret volume rotates, a new connection gets the new certificate and a stream opened before keeps working', async () => {
    const before = client(clientCredentials(certs.ca.cert, certs.client), 'before-rotation');
    const seen = await before.responseAfter(0);
    const clustersBefore = before.received.at(-1)?.resources.length ?? 0;
    expect(await servedSerial(mtls.xdsPort, volume.file('ca.crt'), certs.client)).toBe(certs.server.serial);

    await volume.update({ 'tls.crt': certs.rotatedServer.cert, 'tls.key': certs.rotatedServer.key, 'ca.crt': certs.ca.cert });
    await eventually(async () => expect(await servedSerial(mtls.xdsPort, volume.file('ca.crt'), certs.client)).toBe(certs.rotatedServer.serial), { timeoutMs: 5_000, intervalMs: 100 });

    // The stream from before the rotation still gets pushes: a new model brings a new cluster.
    await mesh.writePolicy('n-policy', policy('n'));
    expect(await before.responseAfter(seen)).toBeGreaterThan(seen);
    expect(before.received.at(-1)?.resources.length).toBeGreaterThan(clustersBefore);
    const after = client(clientCredentials(certs.ca.cert, certs.client), 'after-rotation');
    expect(await after.responseAfter(0)).toBeGreaterThan(0);
  });

  it('keeps the last good certificate when a rotation brings a key that does not match', async () => {
    const serving = await servedSerial(mtls.xdsPort, certs.ca.cert, certs.client);
    await volume.update({ 'tls.crt': certs.server.cert, 'tls.key': certs.rotatedServer.key, 'ca.crt': certs.ca.cert });
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(await servedSerial(mtls.xdsPort, certs.ca.cert, certs.client)).toBe(serving);
    const fresh = client(clientCredentials(certs.ca.cert, certs.client), 'after-bad-rotation');
    expect(await fresh.responseAfter(0)).toBeGreaterThan(0);
  });

  it('infermesh status --tls-ca/--tls-cert/--tls-key reads CSDS from the TLS port; without them the replica is reported missing', async () => {
    const ok = await run(['status', '--server', address(), '-o', 'json', '--tls-ca', certs.ca.cert, '--tls-cert', certs.client.cert, '--tls-key', certs.client.key, '--tls-server-name', certs.serverName]);
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    const nodes = (JSON.parse(ok.out) as { proxies: { node: string }[] }).proxies.map((p) => p.node);
    expect(nodes).toContain('with-cert');
    const plain = await run(['status', '--server', address(), '-o', 'json', '--timeout', '2s']);
    expect(plain.code).toBe(3);
    expect(plain.err).toContain('did not answer');
    const noCert = await run(['status', '--server', address(), '-o', 'json', '--timeout', '2s', '--tls-ca', certs.ca.cert]);
    expect(noCert.code).toBe(3);
  });

  it('names the flag in usage errors: half-configured, unreadable or mismatched files', async () => {
    const serve = (...flags: string[]) => run(['serve', '--config-dir', mesh.dir, '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', ...flags]);
    const cases: [string[], string][] = [
      [['--xds-tls-cert', certs.server.cert], '--xds-tls-cert needs --xds-tls-key'],
      [['--xds-tls-key', certs.server.key], '--xds-tls-key needs --xds-tls-cert'],
      [['--xds-tls-client-ca', certs.ca.cert], '--xds-tls-client-ca needs --xds-tls-cert'],
      [['--xds-tls-cert', path.join(certs.dir, 'missing.crt'), '--xds-tls-key', certs.server.key], `--xds-tls-cert ${path.join(certs.dir, 'missing.crt')}: cannot read it (ENOENT)`],
      [['--xds-tls-cert', certs.server.key, '--xds-tls-key', certs.server.key], '--xds-tls-cert'],
      [['--xds-tls-cert', certs.server.cert, '--xds-tls-key', certs.client.key], `--xds-tls-key ${certs.client.key}: does not go with --xds-tls-cert`],
      [['--xds-tls-cert', certs.server.cert, '--xds-tls-key', certs.server.key, '--xds-tls-client-ca', certs.ca.key], '--xds-tls-client-ca'],
      [['--xds-tls-cert', certs.server.cert, '--xds-tls-key', certs.server.key, '--xds-tls-refresh', 'soon'], '--xds-tls-refresh'],
    ];
    for (const [flags, message] of cases) {
      const { code, err } = await serve(...flags);
      expect({ flags, code, first: err.split('\n')[0] }).toMatchObject({ code: 2, first: expect.stringContaining(message) });
    }
    const status = await run(['status', '--server', address(), '--tls-cert', certs.client.cert]);
    expect({ code: status.code, first: status.err.split('\n')[0] }).toEqual({ code: 2, first: 'infermesh status: --tls-cert needs --tls-ca (the CA that signed the control plane\'s certificate)' });
    const halfStatus = await run(['status', '--server', address(), '--tls-ca', certs.ca.cert, '--tls-key', certs.client.key]);
    expect(halfStatus.err.split('\n')[0]).toBe('infermesh status: --tls-key needs --tls-cert (give both or neither)');
    const bootstrap = await run(['bootstrap', '--xds-tls-cert', certs.client.cert, '--xds-tls-key', certs.client.key]);
    expect({ code: bootstrap.code, first: bootstrap.err.split('\n')[0] }).toEqual({ code: 2, first: 'infermesh bootstrap: --xds-tls-cert needs --xds-tls-ca (the CA that signed the control plane\'s certificate)' });
    const halfBootstrap = await run(['bootstrap', '--xds-tls-ca', certs.ca.cert, '--xds-tls-cert', certs.client.cert]);
    expect(halfBootstrap.err.split('\n')[0]).toBe('infermesh bootstrap: --xds-tls-cert needs --xds-tls-key (give both or neither)');
  });
});
