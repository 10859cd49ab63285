/**
 * What bootstrap and inject write for TLS to the control plane: the xDS cluster's transport_socket (SAN type
 * and SNI from the server name, the host of --xds-address by default), the SDS files, the Secret volume and
 * mount, the ConfigMap keys; idempotent, and gone again when inject runs without the flags. The Envoys of
 * xds-mtls-envoy.test.ts run these bootstraps.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { injectCommand } from '../../src/cli/inject.ts';
import { main } from '../../src/cli/main.ts';

async function run(argv: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (append: (text: string) => void) => new Writable({ write: (chunk: Buffer, _e, done) => (append(chunk.toString()), done()) });
  const [command, ...rest] = argv;
  const code = command === 'inject'
    ? await injectCommand(rest, sink((t) => (out += t)), sink((t) => (err += t)), Readable.from([stdin]))
    : await main(argv, sink((t) => (out += t)), sink((t) => (err += t)));
  return { code, out, err };
}

interface InjectedPod {
  volumes: unknown[];
  initContainers: { name: string; volumeMounts: unknown[] }[];
}

type Tls = { sni?: string; common_tls_context: Record<string, unknown> & { validation_context?: { match_typed_subject_alt_names: { san_type: string; matcher: { exact: string } }[] } } };

function xdsTransportSocket(bootstrap: string): { name: string; typed_config: Tls } | undefined {
  const doc = parse(bootstrap) as { static_resources: { clusters: { name: string; transport_socket?: { name: string; typed_config: Tls } }[] } };
  return doc.static_resources.clusters.find((c) => c.name === 'infermesh-xds')?.transport_socket;
}

describe('bootstrap --xds-tls-*', () => {
  it('without TLS flags has no transport_socket', async () => {
    expect(xdsTransportSocket((await run(['bootstrap'])).out)).toBeUndefined();
  });

  it('checks an IP SAN without SNI when the server name is the IP of --xds-address', async () => {
    const { code, out } = await run(['bootstrap', '--xds-address', '127.0.0.1:18000', '--xds-tls-ca', '/tls/ca.crt', '--xds-tls-cert', '/tls/tls.crt', '--xds-tls-key', '/tls/tls.key']);
    expect(code).toBe(0);
    const socket = xdsTransportSocket(out)!;
    expect(socket.name).toBe('envoy.transport_sockets.tls');
    expect(socket.typed_config.sni).toBeUndefined();
    expect(socket.typed_config.common_tls_context).toEqual({
      alpn_protocols: ['h2'],
      tls_certificates: [{ certificate_chain: { filename: '/tls/tls.crt' }, private_key: { filename: '/tls/tls.key' } }],
      validation_context: { trusted_ca: { filename: '/tls/ca.crt' }, match_typed_subject_alt_names: [{ san_type: 'IP_ADDRESS', matcher: { exact: '127.0.0.1' } }] },
    });
  });

  it('checks a DNS SAN and sends SNI for the Service name by default; TLS only without a client certificate', async () => {
    const { out } = await run(['bootstrap', '--xds-tls-ca', '/tls/ca.crt']);
    const socket = xdsTransportSocket(out)!;
    expect(socket.typed_config.sni).toBe('infermesh.infermesh-system.svc.cluster.local');
    expect(socket.typed_config.common_tls_context['tls_certificates']).toBeUndefined();
    expect(socket.typed_config.common_tls_context.validation_context?.match_typed_subject_alt_names).toEqual([{ san_type: 'DNS', matcher: { exact: 'infermesh.infermesh-system.svc.cluster.local' } }]);
  });

  it('--xds-tls-sds-dir writes the SDS files the bootstrap names', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'infermesh-sds-'));
    try {
      const { code, out } = await run(['bootstrap', '--xds-tls-ca', '/tls/ca.crt', '--xds-tls-cert', '/tls/tls.crt', '--xds-tls-key', '/tls/tls.key', '--xds-tls-server-name', 'cp.example', '--xds-tls-sds-dir', dir]);
      expect(code).toBe(0);
      expect((await readdir(dir)).sort()).toEqual(['xds-tls-ca.yaml', 'xds-tls-certificate.yaml']);
      const context = xdsTransportSocket(out)!.typed_config.common_tls_context as { tls_certificate_sds_secret_configs: { name: string; sds_config: { path_config_source: { path: string } } }[] };
      expect(context.tls_certificate_sds_secret_configs[0]!.sds_config.path_config_source.path).toBe(path.join(dir, 'xds-tls-certificate.yaml'));
      const secret = parse(await readFile(path.join(dir, 'xds-tls-certificate.yaml'), 'utf8')) as { resources: Record<string, unknown>[] };
      expect(secret.resources[0]).toMatchObject({ name: 'infermesh-xds-client', tls_certificate: { certificate_chain: { filename: '/tls/tls.crt' }, watched_directory: { path: '/tls' } } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const APP = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: shop }
spec:
  template:
    spec:
      containers:
        - name: web
          image: web:1
`;

describe('inject --xds-tls-secret', () => {
  it('mounts the Secret into the sidecar and ships the SDS files with the bootstrap; idempotent; undone without the flag', async () => {
    const plain = await run(['inject', '-f', '-'], APP);
    const injected = await run(['inject', '-f', '-', '--xds-tls-secret', 'infermesh-xds-client-tls'], APP);
    expect(injected.code).toBe(0);
    const [deployment, configMap] = parseAllDocuments(injected.out).map((d) => d.toJS()) as [{ spec: { template: { spec: InjectedPod } } }, { data: Record<string, string> }];
    const pod = deployment.spec.template.spec;
    expect(pod.volumes).toContainEqual({ name: 'infermesh-xds-tls', secret: { secretName: 'infermesh-xds-client-tls' } });
    const sidecar = pod.initContainers.find((c) => c.name === 'infermesh-proxy');
    expect(sidecar?.volumeMounts).toContainEqual({ name: 'infermesh-xds-tls', mountPath: '/etc/infermesh-xds-tls', readOnly: true });
    expect(Object.keys(configMap.data).sort()).toEqual(['bootstrap.yaml', 'xds-tls-ca.yaml', 'xds-tls-certificate.yaml']);
    const socket = xdsTransportSocket(configMap.data['bootstrap.yaml'] ?? '')!;
    expect(socket.typed_config.sni).toBe('infermesh.infermesh-system.svc.cluster.local');
    expect(configMap.data['xds-tls-certificate.yaml']).toContain('/etc/infermesh-xds-tls/tls.key');

    expect((await run(['inject', '-f', '-', '--xds-tls-secret', 'infermesh-xds-client-tls'], injected.out)).out).toBe(injected.out);
    expect((await run(['inject', '-f', '-'], injected.out)).out).toBe(plain.out);
  });

  it('names the flag in usage errors', async () => {
    const serverNameAlone = await run(['inject', '-f', '-', '--xds-tls-server-name', 'cp'], APP);
    expect({ code: serverNameAlone.code, first: serverNameAlone.err.split('\n')[0] }).toEqual({ code: 2, first: 'infermesh inject: --xds-tls-server-name needs --xds-tls-secret' });
    const badSecret = await run(['inject', '-f', '-', '--xds-tls-secret', 'Bad_Name'], APP);
    expect(badSecret.err.split('\n')[0]).toBe('infermesh inject: --xds-tls-secret "Bad_Name" is not a Secret name (lowercase letters, digits, - and .)');
    const sdsAlone = await run(['bootstrap', '--xds-tls-sds-dir', '/tmp/x']);
    expect(sdsAlone.err.split('\n')[0]).toBe('infermesh bootstrap: --xds-tls-sds-dir needs --xds-tls-ca');
  });
});
