import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { fromProto3Json, toProto3Json } from '../support/proto3-json/index.ts';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new Capture();
  const err = new Capture();
  const code = await main(argv, out, err);
  return { code, out: out.text, err: err.text };
}

const example = path.resolve(import.meta.dirname, '../../examples/basic');
let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'infermesh-cli-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('infermesh render', () => {
  it('prints the example resources; each one round-trips through Envoy protos unchanged', async () => {
    const { code, out, err } = await run('render', '--config-dir', example);
    expect(err).toBe('');
    expect(code).toBe(0);
    const rendered = JSON.parse(out) as Record<string, unknown[]>;
    expect(Object.keys(rendered)).toEqual(['listeners', 'routes', 'scopedRoutes', 'clusters', 'endpoints']);
    const root = loadEnvoyProtos();
    const types: Record<string, string> = {
      listeners: 'envoy.config.listener.v3.Listener',
      routes: 'envoy.config.route.v3.RouteConfiguration',
      scopedRoutes: 'envoy.config.route.v3.ScopedRouteConfiguration',
      clusters: 'envoy.config.cluster.v3.Cluster',
      endpoints: 'envoy.config.endpoint.v3.ClusterLoadAssignment',
    };
    for (const [kind, resources] of Object.entries(rendered)) {
      const typeName = types[kind]!;
      for (const resource of resources) {
        const parsed = fromProto3Json(root, typeName, resource);
        expect(parsed.errors).toEqual([]);
        const type = root.lookupType(typeName);
        const decoded = type.decode(type.encode(parsed.message!).finish());
        expect(toProto3Json(root, typeName, decoded)).toEqual(resource);
      }
    }
    expect(rendered['listeners']?.map((l) => (l as { name: string }).name)).toEqual(['infermesh', 'infermesh-sidecar']);
    expect(rendered['clusters']).toHaveLength(4);
  });

  it('honours --model-header', async () => {
    const { out } = await run('render', '--config-dir', example, '--model-header', 'X-Inference-Model');
    expect(out).toContain('"x-inference-model"');
    expect(out).not.toContain('"x-model"');
  });

  it('--show-policies shows each effective value and where it came from', async () => {
    const dir = path.join(scratch, 'layers');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'all.yaml'), `apiVersion: v1
kind: ConfigMap
metadata: { name: mesh-defaults, namespace: infermesh-system, labels: { infermesh.io/defaults: "true" } }
data: { defaults.yaml: "timeout: 12s\\nretries: { attempts: 1 }" }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: ml-defaults, namespace: ml, labels: { infermesh.io/defaults: "true" } }
data: { defaults.yaml: "retries: { attempts: 4 }" }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: p, namespace: ml, labels: { infermesh.io/policy: "true" } }
data: { p.yaml: "model: m\\nserver: triton\\nbackends: [{ name: a, service: s, port: grpc }]" }
`);
    const { code, out, err } = await run('render', '--config-dir', dir, '--show-policies', '--control-plane-namespace', 'infermesh-system');
    expect(err).toBe('');
    expect(code).toBe(0);
    const [policy] = (JSON.parse(out) as { policies: { policy: { timeoutMs: number; retries: { attempts: number } }; provenance: Record<string, string> }[] }).policies;
    expect(policy?.policy.timeoutMs).toBe(12_000);
    expect(policy?.policy.retries.attempts).toBe(4);
    expect(policy?.provenance).toMatchObject({
      server: 'policy',
      timeout: 'default:global infermesh-system/mesh-defaults',
      'retries.attempts': 'default:namespace ml/ml-defaults',
      'circuitBreaker.maxRequests': 'builtin',
    });
  });

  it('requires --config-dir (usage error, exit 2)', async () => {
    const { code, err } = await run('render');
    expect(code).toBe(2);
    expect(err).toContain('--config-dir is required');
  });
});

describe('infermesh validate', () => {
  it('accepts the example (exit 0)', async () => {
    const { code, out } = await run('validate', example);
    expect(code).toBe(0);
    expect(out).toContain('valid: 2 policy ConfigMap(s)');
  });

  it('names namespace, ConfigMap, key, field and the valid choice for each problem (exit 1)', async () => {
    const file = path.join(scratch, 'bad.yaml');
    await writeFile(file, `apiVersion: v1
kind: ConfigMap
metadata: { name: broken, namespace: ml, labels: { infermesh.io/policy: "true" } }
data:
  policy.yaml: |
    model: m
    server: trition
    backends: [{ name: a, service: s, port: grpc }]
`);
    const { code, err } = await run('validate', file);
    expect(code).toBe(1);
    expect(err).toContain('ml/broken key "policy.yaml"');
    expect(err).toContain('server');
    expect(err).toContain('triton');
  });

  it('reports a missing path as a usage error (exit 2)', async () => {
    expect((await run('validate', path.join(scratch, 'nope.yaml'))).code).toBe(2);
  });
});

describe('infermesh CLI', () => {
  it.each(['serve', 'validate', 'render', 'inject'])('%s --help prints usage and exits 0', async (command) => {
    const { code, out } = await run(command, '--help');
    expect(code).toBe(0);
    expect(out).toContain(`infermesh ${command}`);
  });

  it('rejects an unknown command with the list of valid ones (exit 2)', async () => {
    const { code, err } = await run('deploy');
    expect(code).toBe(2);
    expect(err).toContain('valid commands: serve, validate, render, inject, bootstrap, status, explain, inspect');
  });

  it('rejects an unknown flag naming the command (exit 2)', async () => {
    const { code, err } = await run('render', '--config-dri', example);
    expect(code).toBe(2);
    expect(err).toContain('infermesh render');
  });
});
