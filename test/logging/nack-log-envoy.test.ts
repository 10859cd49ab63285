/**
 * The NACK log line for a real Envoy's rejection, on every pinned Envoy (the project's bootstrap, delta ADS):
 * the sidecar listener's port is taken, so Envoy rejects the listener, and the control plane's line names
 * the node, the type, the rejected and kept versions, the models in the rejected version with their
 * ConfigMap, and Envoy's own error.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/cli/serve.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { EnvoyProcess } from '../support/envoy-process.ts';
import { eventually } from '../support/eventually.ts';
import { trackFailures } from '../support/sidecar.ts';
import { describeWithTool, envoyBinaries } from '../support/tools.ts';

const lines: Record<string, unknown>[] = [];
const logger = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
const failures = trackFailures();
let dir: string;
let blocker: Server;
let port: number;
let server: RunningServer;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'infermesh-nack-log-'));
  await writeFile(
    path.join(dir, 'm.yaml'),
    'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: m-policy, namespace: shop, labels: { infermesh.io/policy: "true" } }\ndata:\n  policy.yaml: |\n    model: m\n    server: triton\n    backends: [{ name: main, service: m, port: grpc }]\n',
  );
  // Held without SO_REUSEPORT: Envoy cannot bind the sidecar listener and rejects it.
  blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  port = (blocker.address() as { port: number }).port;
  const settings = { ...DEFAULT_SETTINGS, sidecarListenerAddress: '127.0.0.1', sidecarListenerPort: port };
  server = await startServer({ source: { kind: 'folder', dir }, xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', settings, logger, holdoffMs: 20, probes: { enabled: false } });
}, 30_000);

afterAll(async () => {
  await server?.close();
  if (blocker) await new Promise((resolve) => blocker.close(resolve));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describeWithTool('NACK log lines from real Envoy', envoyBinaries(), (binaries) => {
  for (const binary of binaries) {
    describe(`Envoy ${binary.version}`, () => {
      it('name node, type, versions, the models of the rejected version with their ConfigMap, and Envoy\'s error', { timeout: 30_000 }, async () => {
        const nodeId = `nack-log-${binary.version}.shop`;
        const envoy = await EnvoyProcess.start({ binary, xdsPort: server.xdsPort, nodeId });
        try {
          const nack = await eventually(() => {
            const found = lines.find((line) => line['event'] === 'nack' && line['node'] === nodeId);
            expect(found).toBeDefined();
            return found!;
          }, { timeoutMs: 15_000, intervalMs: 50 });
          const listener = server.xds.streams().find((s) => s.node?.id === nodeId)?.syncState().get('listener');
          expect(nack).toMatchObject({
            level: 40,
            delta: true,
            type: 'listener',
            rejectedVersion: listener?.lastNack?.version,
            keptVersion: listener?.lastNack?.keptVersion,
            sequence: server.controller.status().snapshotSequence,
            models: ['m'],
            sources: ['shop/m-policy key "policy.yaml"'],
            error: expect.stringContaining(`cannot bind '127.0.0.1:${port}': Address already in use`),
            msg: 'NACK: client rejected configuration',
          });
          expect(String(nack['rejectedVersion'])).not.toBe('');
        } finally {
          await envoy.stop(failures.failed);
        }
      });
    });
  }
});
