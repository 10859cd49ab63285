/**
 * Cold-start holds over an mTLS xDS connection, on every pinned Envoy: the sidecar's ext_proc filter rides
 * the bootstrap's infermesh-xds cluster, so a held request reaches the control plane with the sidecar's client
 * certificate (the replica requires one) and succeeds once the pod loads the model. Pods on 127.0.4.5.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startServer } from '../../src/cli/serve.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import { eventually } from '../support/eventually.ts';
import { Mesh } from '../support/mesh.ts';
import { Sidecar, trackFailures } from '../support/sidecar.ts';
import { makeTestCerts, type TestCerts } from '../support/test-certs.ts';
import { describeWithTool, envoyBinaries, opensslBinary } from '../support/tools.ts';
import { restInfer } from '../sidecar/resilience-calls.ts';

const lookup = envoyBinaries();
const tag = (version: string) => `tls-${version.replaceAll('.', '-')}`;
const policy = (model: string) => `model: ${model}\nserver: triton\nprotocol: http\nbackends: [{ name: main, service: ct, port: http }]\nretries: { attempts: 0 }\ncoldStart: { holdFor: 30s }\n`;
const POLICIES = Object.fromEntries((lookup.found ? lookup.value : []).map((binary) => [tag(binary.version), policy(tag(binary.version))]));

let mesh: Mesh;
let certs: TestCerts | undefined;
const failures = trackFailures();
const openssl = opensslBinary();

beforeAll(async () => {
  mesh = await Mesh.start([{ kind: 'triton', host: '127.0.4.5', pod: 'ct-a', service: 'ct', models: [], version: '1', onlyListedModels: true }], POLICIES);
  if (openssl.found) certs = await makeTestCerts(openssl.value);
}, 30_000);

afterAll(async () => {
  await mesh?.close();
  await certs?.close();
});

describeWithTool('cold-start holds over mTLS to the control plane', lookup, (binaries) => {
  for (const binary of binaries) {
    describeWithTool(`Envoy ${binary.version}`, openssl, () => {
      let sidecar: Sidecar | undefined;
      beforeAll(async () => {
        if (!certs) throw new Error('no test certificates');
        const tls = certs;
        sidecar = await Sidecar.start(
          mesh,
          binary,
          `cold-mtls-${process.pid}-${binary.version}`,
          { xdsTls: { caFile: tls.ca.cert, certFile: tls.client.cert, keyFile: tls.client.key, serverName: tls.serverName } },
          (xdsAddress, settings) => startServer({
            source: { kind: 'folder', dir: mesh.dir }, xdsAddress, adminAddress: '127.0.0.1:0', settings, logger: silentLogger(), holdoffMs: 20,
            probes: { intervalMs: 1_000 },
            xdsTls: { certFile: tls.server.cert, keyFile: tls.server.key, clientCaFile: tls.ca.cert },
          }),
        );
      }, 40_000);

      afterAll(async () => {
        await sidecar?.stop(failures.failed);
      });

      it('holds a request over the TLS xDS cluster until the pod loads the model, then it succeeds', async () => {
        const model = tag(binary.version);
        const call = restInfer(sidecar!, `/v2/models/${model}/infer`, 40_000);
        await eventually(async () => {
          const stats = await sidecar!.envoy.admin('/stats?filter=ext_proc.*streams_started');
          expect(stats).toMatch(/streams_started: 1\b/);
        }, { timeoutMs: 10_000 });
        await mesh.pod('ct-a').load(model);
        const answer = await call;
        expect(answer.status, answer.body).toBe(200);
        expect(answer.headers.get('x-served-by')).toBe('ct-a');
        const handshakes = await sidecar!.envoy.admin('/stats?filter=^cluster\\.infermesh-xds\\.ssl\\.handshake$');
        expect(handshakes).toMatch(/cluster\.infermesh-xds\.ssl\.handshake: [1-9]/);
      });
    });
  }
});
