/**
 * `infermesh serve --xds-tls-*` as its own process, as an operator runs it: it logs the certificate it
 * serves and that client certificates are required, serves a client with one, logs each rotation of the
 * Secret-style volume with the new serial, skips (with a warning) a rotation whose key does not match,
 * and still exits cleanly on SIGTERM (the file watcher does not hold it).
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ServeProcess, exitWithin } from '../support/serve-process.ts';
import { SecretVolume, makeTestCerts, type TestCerts } from '../support/test-certs.ts';
import { describeWithTool, opensslBinary } from '../support/tools.ts';
import { LISTENER_TYPE, TlsAdsClient, clientCredentials, servedSerial } from './tls-support.ts';

describeWithTool('serve --xds-tls-* as a process', opensslBinary(), (openssl) => {
  let certs: TestCerts;
  let volume: SecretVolume;
  let serve: ServeProcess | undefined;
  let client: TlsAdsClient | undefined;

  beforeAll(async () => {
    certs = await makeTestCerts(openssl);
    volume = await SecretVolume.create(path.join(certs.dir, 'secret'), { 'tls.crt': certs.server.cert, 'tls.key': certs.server.key, 'ca.crt': certs.ca.cert });
    serve = await ServeProcess.start('examples/basic', ['--xds-tls-cert', volume.file('tls.crt'), '--xds-tls-key', volume.file('tls.key'), '--xds-tls-client-ca', volume.file('ca.crt'), '--xds-tls-refresh', '200ms']);
  }, 30_000);

  afterAll(async () => {
    client?.close();
    serve?.kill();
    await certs?.close();
  });

  it('logs what it serves, and serves a client with a certificate', async () => {
    const started = await serve!.logged((e) => e['msg'] === 'xDS port serves TLS');
    expect(started).toMatchObject({ certificate: { serial: certs.server.serial }, clientCertificates: 'required' });
    client = new TlsAdsClient(`127.0.0.1:${serve!.xdsPort}`, clientCredentials(certs.ca.cert, certs.client), 'serve-tls', LISTENER_TYPE);
    expect(await client.responseAfter(0)).toBeGreaterThan(0);
  });

  it('logs a rotation with the new serial, and skips one whose key does not match', async () => {
    await volume.update({ 'tls.crt': certs.rotatedServer.cert, 'tls.key': certs.rotatedServer.key, 'ca.crt': certs.ca.cert });
    const reloaded = await serve!.logged((e) => e['msg'] === 'xDS TLS certificate reloaded');
    expect(reloaded).toMatchObject({ certificate: { serial: certs.rotatedServer.serial } });
    expect(await servedSerial(serve!.xdsPort, certs.ca.cert, certs.client)).toBe(certs.rotatedServer.serial);

    await volume.update({ 'tls.crt': certs.server.cert, 'tls.key': certs.rotatedServer.key, 'ca.crt': certs.ca.cert });
    const kept = await serve!.logged((e) => typeof e['msg'] === 'string' && e['msg'].includes('keeping the last good certificate'));
    expect(kept['reason']).toMatch(/key values mismatch/i);
    expect(await servedSerial(serve!.xdsPort, certs.ca.cert, certs.client)).toBe(certs.rotatedServer.serial);
  });

  it('exits cleanly on SIGTERM', async () => {
    client?.close();
    serve!.child.kill('SIGTERM');
    expect(await exitWithin(serve!, 8_000)).toEqual({ code: 0, signal: null });
  });
});
