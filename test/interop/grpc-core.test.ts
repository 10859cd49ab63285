import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mesh } from '../support/mesh.ts';

/**
 * The same routing, through a different xDS client: gRPC C-core 1.51 (Debian 12's python3-grpcio), the
 * oldest client DESIGN.md promises to support. .ci/run installs it; without it these tests cannot run here.
 */
const PYTHON = '/usr/bin/python3';
const run = promisify(execFile);

async function hasGrpcio(): Promise<boolean> {
  if (!existsSync(PYTHON)) return false;
  return run(PYTHON, ['-c', 'import grpc']).then(() => true, () => false);
}

const available = await hasGrpcio();
let mesh: Mesh;
let bootstrap: string;

beforeAll(async () => {
  if (!available) return;
  mesh = await Mesh.start(
    [
      { kind: 'triton', host: '127.0.0.61', pod: 'stable-0', service: 'resnet50-v1', models: ['resnet50'], version: '1' },
      { kind: 'triton', host: '127.0.0.62', pod: 'canary-0', service: 'resnet50-v2', models: ['resnet50'], version: '2' },
    ],
    {
      'resnet50-policy': `
model: resnet50
aliases: [resnet]
server: triton
backends:
  - { name: stable, service: resnet50-v1, port: grpc, version: "1", weight: 75 }
  - { name: canary, service: resnet50-v2, port: grpc, version: "2", weight: 25 }
timeout: 5s
retries: { attempts: 2, perTryTimeout: 1s, retryOn: [unavailable, connect-failure] }
`,
      // Retries off: its routes carry an explicit empty retry policy, which gRPC 1.51 must accept too.
      'no-retries-policy': `
model: resnet50-no-retries
server: triton
backends:
  - { name: main, service: resnet50-v1, port: grpc, weight: 100 }
retries: { attempts: 0 }
`,
    },
  );
  bootstrap = path.join(mesh.dir, '.bootstrap.json');
  await writeFile(bootstrap, JSON.stringify({
    xds_servers: [{ server_uri: `127.0.0.1:${mesh.server.xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: 'grpc-python-1.51', cluster: 'interop', locality: {} },
  }));
});

afterAll(async () => {
  await mesh?.close();
});

async function callFromPython(calls: number, headers: Record<string, string>): Promise<{ pods: Record<string, number>; errors: Record<string, number> }> {
  const args = [path.join(import.meta.dirname, 'grpc_python_client.py'), 'infermesh', String(calls), ...Object.entries(headers).map(([k, v]) => `${k}=${v}`)];
  const { stdout } = await run(PYTHON, args, { env: { ...process.env, GRPC_XDS_BOOTSTRAP: bootstrap }, timeout: 60_000 });
  return JSON.parse(stdout) as { pods: Record<string, number>; errors: Record<string, number> };
}

// The interop tests are skipped only where python3-grpcio cannot be had. CI installs it (.ci/run), and there
// its absence is a failure rather than a silent skip.
it('python3-grpcio is available wherever CI runs', () => {
  if (process.env['CI'] === 'true') expect(available, `${PYTHON} cannot import grpc: install Debian's python3-grpcio`).toBe(true);
});

describe.skipIf(!available)('gRPC C-core 1.51 (python3-grpcio) as the data plane', () => {
  it('accepts the configuration and splits by weight', async () => {
    const { pods, errors } = await callFromPython(400, { 'x-model': 'resnet50' });
    expect(errors).toEqual({});
    expect(pods['canary-0']).toBeGreaterThan(100 - 35);
    expect(pods['canary-0']).toBeLessThan(100 + 35);
    expect((pods['stable-0'] ?? 0) + (pods['canary-0'] ?? 0)).toBe(400);
  });

  it('pins versions and resolves aliases', async () => {
    expect(await callFromPython(20, { 'x-model': 'resnet', 'x-model-version': '2' })).toEqual({ pods: { 'canary-0': 20 }, errors: {} });
  });

  it('answers unknown models NOT_FOUND and a missing header INVALID_ARGUMENT', async () => {
    expect((await callFromPython(3, { 'x-model': 'nope' })).errors).toEqual({ NOT_FOUND: 3 });
    expect((await callFromPython(3, {})).errors).toEqual({ INVALID_ARGUMENT: 3 });
  });

  it('was never NACKed', async () => {
    expect(await mesh.metrics()).not.toMatch(/infermesh_xds_nacks_total\{[^}]*\} [1-9]/);
  });
});
