/**
 * Proxyless gRPC clients over mTLS to the xDS port, with gRFC A65 credentials in their xDS bootstrap
 * (channel_creds type "tls": ca_certificate_file, certificate_file, private_key_file): gRPC C-core from
 * PyPI's grpcio and grpc-go get a route from a replica that requires client certificates and call a pod
 * through it. @grpc/grpc-js-xds 1.14 and Debian's grpcio 1.51 do not support A65 (README). Pods on 127.0.0.170.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../../src/cli/serve.ts';
import { Mesh } from '../support/mesh.ts';
import { makeTestCerts, type TestCerts } from '../support/test-certs.ts';
import { describeWithTool, grpcGoClient, opensslBinary, pypiGrpcio } from '../support/tools.ts';
import { processClient } from '../interop/proxyless-clients.ts';
import { startTlsReplica } from './tls-support.ts';

const PYTHON_CLIENT = path.join(import.meta.dirname, '..', 'interop', 'grpc_python_client.py');
const POLICY = 'model: m\nserver: triton\nbackends: [{ name: main, service: m, port: grpc }]\n';

let mesh: Mesh;
let certs: TestCerts | undefined;
let replica: RunningServer | undefined;
const openssl = opensslBinary();

beforeAll(async () => {
  mesh = await Mesh.start([{ kind: 'triton', host: '127.0.0.170', pod: 'm-0', service: 'm', models: ['m'], version: '1' }], { 'm-policy': POLICY });
  if (!openssl.found) return;
  certs = await makeTestCerts(openssl.value);
  replica = await startTlsReplica(mesh, { certFile: certs.server.cert, keyFile: certs.server.key, clientCaFile: certs.ca.cert });
}, 30_000);

afterAll(async () => {
  await replica?.close();
  await mesh?.close();
  await certs?.close();
});

/** An xDS bootstrap with A65 TLS channel credentials and the test client certificate. */
async function tlsBootstrap(nodeId: string): Promise<string> {
  if (!certs || !replica) throw new Error('no certificates or no TLS replica');
  const file = path.join(certs.dir, `bootstrap-${nodeId}.json`);
  await writeFile(file, JSON.stringify({
    xds_servers: [{
      server_uri: `127.0.0.1:${replica.xdsPort}`,
      channel_creds: [{ type: 'tls', config: { ca_certificate_file: certs.ca.cert, certificate_file: certs.client.cert, private_key_file: certs.client.key } }],
      server_features: ['xds_v3'],
    }],
    node: { id: nodeId, cluster: 'mtls', locality: {} },
  }));
  return file;
}

/**
 * The client's process gets a route and calls m twice. Its bootstrap names the TLS replica alone, which
 * refuses plain text and clients without a certificate (xds-mtls.test.ts): a route means A65 TLS worked.
 */
function routesOverMtls(nodeId: string, command: () => [string, ...string[]]): void {
  let bootstrap = '';
  beforeAll(async () => {
    bootstrap = await tlsBootstrap(nodeId);
  });

  it('gets a route from a replica that requires client certificates and calls the pod through it', async () => {
    const [program, ...args] = command();
    const tally = await processClient(program, args, () => bootstrap)('triton', 'm', 2, { 'x-model': 'm' });
    expect({ pods: tally.pods, errors: tally.errors }).toEqual({ pods: { 'm-0': 2 }, errors: {} });
  });
}

const grpcio = pypiGrpcio();
const grpcGo = grpcGoClient();

describeWithTool('proxyless gRPC over mTLS', openssl, () => {
  describeWithTool(grpcio.found ? `gRPC C-core ${grpcio.value.version} (grpcio from PyPI)` : 'gRPC C-core (grpcio from PyPI)', grpcio, ({ python }) => {
    routesOverMtls('mtls-grpcio', () => [python, PYTHON_CLIENT]);
  });
  describeWithTool(grpcGo.found ? `grpc-go ${grpcGo.value.version}` : 'grpc-go', grpcGo, ({ path: binary }) => {
    routesOverMtls('mtls-grpc-go', () => [binary]);
  });
});
