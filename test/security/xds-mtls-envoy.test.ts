/**
 * A real Envoy on every pinned version, with the bootstrap `infermesh bootstrap --xds-tls-*` writes (ADS
 * flavour DELTA_GRPC, the bootstrap's own), connects to a replica that requires client certificates,
 * presents its own, checks the replica's against the CA and the name infermesh.test, and serves a request
 * through its sidecar listener to a fake pod. With the certificates through SDS files (as inject ships
 * them), Envoy follows a Secret-volume rotation of its client certificate: /certs shows the new one, and a
 * replica that accepts only the new one is reached after a reconnect. Pods on 127.0.0.165.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../../src/cli/serve.ts';
import { xdsTlsSdsFiles, type XdsClientTls } from '../../src/inject/xds-tls.ts';
import { eventually } from '../support/eventually.ts';
import { EnvoyProcess } from '../support/envoy-process.ts';
import { Mesh } from '../support/mesh.ts';
import { Sidecar, trackFailures } from '../support/sidecar.ts';
import { SecretVolume, makeTestCerts, type TestCerts } from '../support/test-certs.ts';
import { describeWithTool, envoyBinaries, opensslBinary } from '../support/tools.ts';
import { startTlsReplica } from './tls-support.ts';

const POLICY = 'model: m\nserver: triton\nprotocol: http\nbackends: [{ name: main, service: m, port: http }]\n';

let mesh: Mesh;
let certs: TestCerts | undefined;
const failures = trackFailures();
const openssl = opensslBinary();

beforeAll(async () => {
  mesh = await Mesh.start([{ kind: 'triton', host: '127.0.0.165', pod: 'm-0', service: 'm', models: ['m'], version: '1' }], { 'm-policy': POLICY });
  if (openssl.found) certs = await makeTestCerts(openssl.value);
}, 30_000);

afterAll(async () => {
  await mesh?.close();
  await certs?.close();
});

/** A request through the sidecar reaches the pod, the xDS connection did TLS handshakes, and the replica serves the node. */
async function expectServedOverTls(sidecar: Sidecar, nodeId: string): Promise<void> {
  const response = await fetch(`${sidecar.url}/v2/models/m/infer`, { method: 'POST', headers: { 'x-model': 'm', 'content-type': 'application/json' }, body: '{}', signal: AbortSignal.timeout(5_000) });
  await response.arrayBuffer();
  expect({ status: response.status, pod: response.headers.get('x-served-by') }).toEqual({ status: 200, pod: 'm-0' });
  const stats = await sidecar.envoy.admin('/stats?filter=^cluster\\.infermesh-xds\\.ssl\\.handshake$');
  expect(stats).toMatch(/cluster\.infermesh-xds\.ssl\.handshake: [1-9]/);
  expect(sidecar.controlPlane.xds.streams().map((s) => s.node?.id)).toContain(nodeId);
}

const serial = (hex: string) => BigInt(`0x${hex}`).toString(16);

/** The serials of the client certificates Envoy holds (admin /certs), as lower-case hex without leading zeros. */
async function clientSerials(sidecar: Sidecar): Promise<string[]> {
  const certs = await sidecar.envoy.adminJson<{ certificates: { cert_chain?: { serial_number: string }[] }[] }>('/certs');
  return certs.certificates.flatMap((c) => c.cert_chain ?? []).map((c) => serial(c.serial_number));
}

describeWithTool('Envoy over mTLS to the control plane', envoyBinaries(), (binaries) => {
  for (const binary of binaries) {
    describeWithTool(`Envoy ${binary.version}`, openssl, () => {
      let sidecar: Sidecar | undefined;
      beforeAll(async () => {
        if (!certs) throw new Error('no test certificates');
        const tls = certs;
        sidecar = await Sidecar.start(
          mesh,
          binary,
          `mtls-${binary.version}`,
          { xdsTls: { caFile: tls.ca.cert, certFile: tls.client.cert, keyFile: tls.client.key, serverName: tls.serverName } },
          (xdsAddress, settings) => startTlsReplica(mesh, { certFile: tls.server.cert, keyFile: tls.server.key, clientCaFile: tls.ca.cert }, settings, xdsAddress),
        );
      }, 40_000);

      afterAll(async () => {
        await sidecar?.stop(failures.failed);
      });

      it('connects with its client certificate over TLS and serves a request through the sidecar', async () => {
        await expectServedOverTls(sidecar!, `mtls-${binary.version}`);
      });

      it('without a client certificate, is refused and never goes LIVE', async () => {
        const running = sidecar!;
        const nodeId = `mtls-none-${binary.version}`;
        const start = EnvoyProcess.start({ binary, xdsPort: running.controlPlane.xdsPort, nodeId, readyTimeoutMs: 2_500, xdsTls: { caFile: certs!.ca.cert, serverName: certs!.serverName } });
        const error = await start.then(() => undefined, (reason: Error) => reason);
        expect(error?.message).toMatch(/not LIVE/);
        expect(running.controlPlane.xds.streams().map((s) => s.node?.id)).not.toContain(nodeId);
        // EnvoyProcess keeps the log of an Envoy that did not start; this one was meant not to.
        const log = /log: (\S+)\.log/.exec(error?.message ?? '')?.[1];
        if (log && !failures.failed) await Promise.all([rm(`${log}.log`, { force: true }), rm(`${log}.bootstrap.yaml`, { force: true })]);
      });
    });

    describeWithTool(`Envoy ${binary.version}, certificates through SDS files`, openssl, () => {
      let sidecar: Sidecar | undefined;
      let replacement: RunningServer | undefined;
      let volume: SecretVolume;
      const nodeId = `mtls-sds-${binary.version}`;
      beforeAll(async () => {
        if (!certs) throw new Error('no test certificates');
        const tls = certs;
        volume = await SecretVolume.create(path.join(tls.dir, `client-${binary.version}`), { 'tls.crt': tls.client.cert, 'tls.key': tls.client.key, 'ca.crt': tls.ca.cert });
        const xdsTls: XdsClientTls = { caFile: volume.file('ca.crt'), certFile: volume.file('tls.crt'), keyFile: volume.file('tls.key'), serverName: tls.serverName, sdsDir: path.join(tls.dir, `sds-${binary.version}`) };
        await mkdir(xdsTls.sdsDir!, { recursive: true });
        for (const [name, text] of Object.entries(xdsTlsSdsFiles(xdsTls))) await writeFile(path.join(xdsTls.sdsDir!, name), text);
        sidecar = await Sidecar.start(mesh, binary, nodeId, { xdsTls }, (xdsAddress, settings) =>
          startTlsReplica(mesh, { certFile: tls.server.cert, keyFile: tls.server.key, clientCaFile: tls.ca.cert }, settings, xdsAddress),
        );
      }, 40_000);

      afterAll(async () => {
        await sidecar?.envoy.stop(failures.failed);
        await (replacement ?? sidecar?.controlPlane)?.close();
      });

      it('serves a request, then follows a rotation of its client certificate', async () => {
        const running = sidecar!;
        const tls = certs!;
        await expectServedOverTls(running, nodeId);
        expect(await clientSerials(running)).toEqual([serial(tls.client.serial)]);

        await volume.update({ 'tls.crt': tls.otherClient.cert, 'tls.key': tls.otherClient.key, 'ca.crt': tls.ca.cert });
        await eventually(async () => expect(await clientSerials(running)).toEqual([serial(tls.otherClient.serial)]), { timeoutMs: 10_000, intervalMs: 100 });

        // A replica that accepts only the new certificate: Envoy gets back in only by presenting it.
        const port = running.controlPlane.xdsPort;
        await running.controlPlane.close();
        replacement = await startTlsReplica(mesh, { certFile: tls.server.cert, keyFile: tls.server.key, clientCaFile: tls.otherCa.cert }, running.settings, `127.0.0.1:${port}`);
        const replica = replacement;
        await eventually(() => expect(replica.xds.streams().map((s) => s.node?.id)).toContain(nodeId), { timeoutMs: 15_000, intervalMs: 100 });
      }, 40_000);
    });
  }
});
