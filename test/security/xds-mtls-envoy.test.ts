/**
 * A real Envoy on every pinned version, with the bootstrap `infermesh bootstrap --xds-tls-*` writes (ADS
 * flavour DELTA_GRPC, the bootstrap's own), connects to a replica that requires client certificates,
 * presents its own, checks the replica's against the CA and the name infermesh.test, and serves a request
 * through its sidecar listener to a fake pod. Pods on 127.0.0.165.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Mesh } from '../support/mesh.ts';
import { Sidecar, trackFailures } from '../support/sidecar.ts';
import { makeTestCerts, type TestCerts } from '../support/test-certs.ts';
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
        const running = sidecar!;
        const response = await fetch(`${running.url}/v2/models/m/infer`, { method: 'POST', headers: { 'x-model': 'm', 'content-type': 'application/json' }, body: '{}', signal: AbortSignal.timeout(5_000) });
        await response.arrayBuffer();
        expect({ status: response.status, pod: response.headers.get('x-served-by') }).toEqual({ status: 200, pod: 'm-0' });
        const stats = await running.envoy.admin('/stats?filter=^cluster\\.infermesh-xds\\.ssl\\.(handshake|connection_error)$');
        expect(stats).toMatch(/cluster\.infermesh-xds\.ssl\.handshake: [1-9]/);
        expect(running.controlPlane.xds.streams().map((s) => s.node?.id)).toContain(`mtls-${binary.version}`);
      });
    });
  }
});
